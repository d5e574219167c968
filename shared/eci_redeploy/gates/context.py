"""What every gate decision reads: the gate clock (`CLOCK`, tests replace it), the evidence sources, the
events' evidence and approvals of this pass (`GateContext`), and what a held change's state change is
(`Transition`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from ..events.model import PushEvent
from ..planning import tracking
from ..rules.model import Rule
from .evaluate import Approval, Decision, Evidence, ScanResult, Subject


class EvidenceSource(Protocol):
    """Where scan results and signatures are looked up when no event brought them (the ACR API)."""

    def scan(self, rule: Rule, subject: Subject) -> ScanResult | None: ...

    def signed(self, rule: Rule, subject: Subject) -> bool | None: ...


def _wall() -> datetime:
    return datetime.now(timezone.utc)


CLOCK: Callable[[], datetime] = _wall  # the wall clock every gate decision reads (tests replace it)


def _utcnow() -> datetime:
    return CLOCK()


@dataclass
class GateContext:
    now: Callable[[], datetime] = _utcnow
    lookup: EvidenceSource | None = None  # None: evidence only from tags and events
    events: dict[str, Evidence] = field(default_factory=dict)  # digest -> evidence an event brought
    webhook_url: str | None = None  # the webhook function's URL, for approve links
    # (held change id, held since ms) -> an approval a work order brings: it counts for that hold only
    approvals: dict[tuple[str, int], Approval] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, lookup: bool = True) -> GateContext:
        """The wall clock, the ACR API when credentials are there (the worker asks it too: the single
        writer decides on what it finds itself), the approve links' base URL."""
        from .acr import evidence_from_env

        return cls(
            lookup=evidence_from_env(env) if lookup else None,
            webhook_url=(env.get("ECI_REDEPLOY_WEBHOOK_URL") or "").rstrip("/") or None,
        )


@dataclass
class Transition:
    """A change of a held change's state, reported once (audit line per group, one notification)."""

    outcome: str  # held | refused | released | superseded
    rule: str
    version: str
    event: PushEvent
    decision: Decision | None
    groups: list[str] = field(default_factory=list)
    detail: str = ""
    id: str = ""  # the hold's id (store.approval_id): what a notification shows and an approval names


def version_for(rule: Rule, event: PushEvent) -> str:
    return tracking.version_of(event.digest if rule.pull.digest else None, event.tag)


def subject_for(rule: Rule, event: PushEvent) -> Subject:
    acr = rule.pull.acr
    instance = event.instance_id or (acr.instance_id if acr else None)
    if instance is None and rule.source.registry and rule.source.registry.startswith("cri-"):
        instance = rule.source.registry
    region = event.region or (acr.region if acr and acr.region else None) or rule.target.region
    return Subject(event.repository, event.tag, event.digest, instance, region, event.time)
