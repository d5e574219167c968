"""Unsigned webhook payloads (ACR, Docker Hub) are hints: ask the registry what the tag really is.

Reachable registry: a tag it does not have is dropped (a forged or mistyped push must not trigger a
failed pull), a digest it disagrees with is replaced by its own, a missing digest is filled in.
Unreachable registry: the hint is used as it is, and the reply says it was not confirmed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ..clients.eci_model import ContainerGroup
from ..clients.registry_api import RegistryClient, RegistryError, RegistryNotFound
from ..events.model import PushEvent
from ..rules.model import Rule, RuleSet
from .planner import skip_reason
from .registry_kinds import registry_host
from .steps import Skip

# Payloads nobody signs (Quay sends no digest at all; GitHub's digest may be missing or malformed).
UNSIGNED_SOURCES = frozenset({"acr-webhook", "dockerhub", "quay", "github"})


@dataclass
class Confirmation:
    events: list[PushEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dropped: list[Skip] = field(default_factory=list)


def confirm(
    events: Sequence[PushEvent],
    rules: RuleSet,
    groups: Sequence[ContainerGroup],
    client_for: Callable[[Rule, str], RegistryClient],
    *,
    platform: str = "linux/amd64",
) -> Confirmation:
    out = Confirmation()
    for event in events:
        if event.signed or event.source not in UNSIGNED_SOURCES or not event.tag:
            out.events.append(event)
            continue
        rule, host = _where(event, rules, list(groups))
        if rule is None or host is None:
            out.events.append(event)
            out.notes.append(f"{event.describe()}: unsigned payload; not confirmed (no registry host known)")
            continue
        try:
            resolved = client_for(rule, host).resolve(event.repository, event.tag, platform)
        except RegistryNotFound:
            out.dropped.append(
                Skip(
                    rule.name,
                    f"{host}/{event.repository}:{event.tag} does not exist in the registry: "
                    "the unsigned payload is ignored",
                )
            )
            continue
        except RegistryError as exc:
            out.events.append(event)
            out.notes.append(f"{event.describe()}: unsigned payload; not confirmed ({exc.one_line()})")
            continue
        digests = {d for d in (resolved.digest, resolved.index_digest) if d}
        if event.digest and event.digest not in digests:
            out.notes.append(f"{event.describe()}: the registry says {resolved.digest}; deploying that")
        else:
            out.notes.append(f"{event.describe()}: confirmed with {host}")
        out.events.append(
            replace(
                event,
                digest=resolved.digest,
                registry_host=event.registry_host or host,
                signed=True,
                equivalent=frozenset(d for d in digests if d != resolved.digest),
            )
        )
    return out


def _where(event: PushEvent, rules: RuleSet, groups: list[ContainerGroup]) -> tuple[Rule | None, str | None]:
    for rule in rules.for_repository(event.repository):
        if skip_reason(rule, event, rules):
            continue
        host = event.registry_host or registry_host(rule, groups)
        if host:
            return rule, host
    return None, None
