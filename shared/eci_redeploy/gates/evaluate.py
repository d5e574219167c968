"""Pure gate decisions: given a rule's gates, the change, the evidence gathered so far and the time,
say whether the change goes now, waits (on which gate, since when, what releases it), or is refused.

No I/O: the flow module gathers evidence (tags, events, the ACR API) and acts on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ..rules.gates import SEVERITIES, Gates

# The order gates are reported in: the ones only evidence releases first, the clock-driven ones last
# (an approval may come in outside the window; the window is what finally lets it go).
ORDER = ("scan", "signed", "soak", "approval", "window")


@dataclass(frozen=True)
class ScanResult:
    status: str  # COMPLETE | FAILED | SCANNING | RETRYING (GetRepoTagScanStatus's values)
    counts: dict[str, int] = field(default_factory=dict)  # severity -> count, lower-case SEVERITIES keys

    @property
    def complete(self) -> bool:
        return self.status.upper() == "COMPLETE"

    def summary(self) -> str:
        parts = [f"{s} {self.counts.get(s, 0)}" for s in reversed(SEVERITIES) if self.counts.get(s)]
        return ", ".join(parts) or "no vulnerabilities"


@dataclass(frozen=True)
class Approval:
    approver: str
    at: datetime


@dataclass(frozen=True)
class Evidence:
    scan: ScanResult | None = None
    signed: bool | None = None  # None: not known yet; False: signing failed
    approval: Approval | None = None


@dataclass(frozen=True)
class Change:
    rule: str
    version: str  # digest, or ":tag" without one
    pushed_at: datetime | None  # push time (event or registry), as recorded: shown, never counted from
    held_since: datetime  # when the product first saw the change (now, for a change seen for the first time)


@dataclass(frozen=True)
class Waiting:
    gate: str
    releases_by: str  # what releases it, for people
    releases_at: datetime | None = None  # for clock-driven gates


@dataclass(frozen=True)
class Decision:
    verdict: Literal["go", "held", "refused"]
    waiting: tuple[Waiting, ...] = ()  # held: every gate still closed, in ORDER
    passed: tuple[str, ...] = ()  # gates whose evidence is in (worth recording: scan, signed)
    reason: str = ""  # refused: why; held: the first gate's release condition
    counts: dict[str, int] = field(default_factory=dict)  # scan counts, for reports and notifications

    @property
    def gate(self) -> str | None:
        return self.waiting[0].gate if self.waiting else None


def evaluate(gates: Gates, change: Change, evidence: Evidence, now: datetime) -> Decision:
    passed: list[str] = []
    waiting: list[Waiting] = []
    counts: dict[str, int] = {}
    if gates.scan is not None:
        scan = evidence.scan
        if scan is not None and scan.complete:
            counts = dict(scan.counts)
            above = gates.scan.blocking(scan.counts)
            if above:
                over = ", ".join(f"{s} {n}" for s, n in above.items())
                return Decision(
                    "refused",
                    reason=f"scan found vulnerabilities above {gates.scan.max_severity}: {over} "
                    f"(all: {scan.summary()})",
                    counts=counts,
                )
            passed.append("scan")
        else:
            state = "failed; rescan it in ACR" if scan is not None and scan.status.upper() == "FAILED" else "pending"
            waiting.append(Waiting("scan", f"ACR EE scan result ({state}): ScanCompleted event or the ACR API"))
    if gates.signed:
        if evidence.signed:
            passed.append("signed")
        else:
            state = "signing failed; sign it again" if evidence.signed is False else "not signed yet"
            waiting.append(Waiting("signed", f"ACR EE signature ({state}): a SigningCompleted saying it succeeded"))
    soak = gates.soak_for
    if soak is not None:
        # From when the product first saw the change (the hold's own record), never from the payload's
        # push time: a push dated 2020 would otherwise skip the soak, and a re-sent one release it.
        ready = change.held_since + soak
        if now < ready:
            waiting.append(Waiting("soak", f"the image is {gates.soak} old at {ready.isoformat()}", ready))
    if gates.approval is not None:
        expires = change.held_since + gates.approval.expires_after
        if evidence.approval is None:
            if now >= expires:
                return Decision(
                    "refused",
                    passed=tuple(passed),
                    reason=f"approval expired: nobody approved within {gates.approval.expires} "
                    f"(held since {change.held_since.isoformat()})",
                    counts=counts,
                )
            waiting.append(Waiting("approval", f"an approver (POST /approvals/<id>) before {expires.isoformat()}"))
    if gates.window is not None and not gates.window.open_at(now):
        opens = gates.window.next_open(now)
        waiting.append(
            Waiting(
                "window",
                f"the window {','.join(gates.window.days)} {gates.window.hours} {gates.window.timezone} "
                f"opens at {opens.isoformat()}",
                opens,
            )
        )
    waiting.sort(key=lambda w: ORDER.index(w.gate))
    if waiting:
        return Decision("held", tuple(waiting), tuple(passed), waiting[0].releases_by, counts)
    return Decision("go", (), tuple(passed), "", counts)


@dataclass(frozen=True)
class Subject:
    """The pushed image a gate asks about, as ACR EE names it."""

    repository: str
    tag: str | None
    digest: str | None
    instance_id: str | None
    region: str | None
    pushed_at: datetime | None = None
