"""A held push planned again: its event (`replay_event`, a stable id `held:<rule>:<since ms>`), and what
that id says back (when the hold was created, the approval a release order brought for it).
"""

from __future__ import annotations

from ..events.model import PushEvent
from ..rules.model import Rule
from . import RELEASE_SOURCE, store
from .context import GateContext
from .evaluate import Approval


def _replayed_approval(ctx: GateContext, rule: str, version: str, event: PushEvent) -> Approval | None:
    """For a group with no hold left (a restart released in an earlier time slice dropped them all up
    front): the approval a release order brought for the very hold this push replays (its event id is
    `held:<rule>:<held since ms>`, replay_event), same rule, same version."""
    since = replayed_since(event, rule)
    if since is None or not ctx.approvals:
        return None
    return ctx.approvals.get((store.approval_id(rule, version, since), since))


def replayed_since(event: PushEvent, rule: str) -> int | None:
    """When the hold a release replays was created (`held:<rule>:<held since ms>`, replay_event): the
    product's own record of when it first saw the change, carried by its own work order."""
    prefix, _, since = event.event_id.rpartition(":")
    if event.source != RELEASE_SOURCE or prefix != f"held:{rule}" or not since.isascii() or not since.isdigit():
        return None
    return int(since)


def replay_event(rule: Rule, held: store.Held, *, source: str = RELEASE_SOURCE) -> PushEvent:
    """The held push, planned again: same version, same push time; a stable id so a repeated release
    of one hold is one decision (the same ClientTokens)."""
    registry = rule.source.registry
    instance = (
        registry if registry and registry.startswith("cri-") else (rule.pull.acr.instance_id if rule.pull.acr else None)
    )
    return PushEvent(
        rule.source.repository,
        held.tag,
        held.digest,
        source,
        f"held:{rule.name}:{held.since_ms}",
        time=held.pushed_at,
        registry_host=registry if registry and not registry.startswith("cri-") else None,
        instance_id=instance,
        instance_name=(rule.pull.acr.instance_name or None) if rule.pull.acr else None,
        region=(rule.pull.acr.region if rule.pull.acr else None),
        signed=True,
        only_rule=rule.name,  # planned for this rule alone (decide honours PushEvent.only_rule)
    )
