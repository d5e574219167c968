"""The no-downgrade guard and stay_within: a push is compared with the version a group runs, by the
rule's own order (`TagPolicy.order_key`), before anything is planned for that group.

What a group runs: the tag in the rule's own record on the group (planning/tracking.py: another rule's
record says nothing about this rule's containers) while that record still describes the running image
(a group deployed as `repo@sha256:...` has no tag of its own), else the running image's tag. Every
source goes through here: pushes, webhooks, CI calls and the reconcile all plan through
`planner.plan_event`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..core.errors import ImageReferenceError
from ..core.imageref import ImageRef
from ..events.model import PushEvent
from ..rules.tagpolicy import TagPolicy
from . import tracking


@dataclass(frozen=True)
class VersionCheck:
    skip: str | None  # why the group is left as it is (None: go on)
    newer: bool  # the rule's order says the push is newer than what runs: event time is not consulted


def running_tag(
    group: ContainerGroup,
    event: PushEvent,
    rule: Any,
    runs: Callable[[ImageRef, PushEvent, Any], bool],
    policy: TagPolicy | None = None,
) -> str | None:
    """The highest-ranked tag among the group's containers that run the pushed repository."""
    policy = policy or rule.source.tags.policy()
    tags = group.tag_map
    best: tuple[Any, str] | None = None
    first: str | None = None
    for container in (*group.containers, *group.init_containers):
        if not container.image:
            continue
        try:
            ref = ImageRef.parse(container.image)
        except ImageReferenceError:
            continue
        if not runs(ref, event, rule):
            continue
        tag = tracking.deployed_tag(tags, ref.digest, ref.tag, rule.name)
        if tag is None:
            continue
        first = first or tag
        key = policy.order_key(tag)
        if key is not None and (best is None or key > best[0]):
            best = (key, tag)
    return best[1] if best else first


def check(
    event: PushEvent, rule: Any, group: ContainerGroup, runs: Callable[[ImageRef, PushEvent, Any], bool]
) -> VersionCheck | None:
    """None when the rule has no order for the pushed tag (then event time decides, as before)."""
    policy = rule.source.tags.policy()
    if not policy.ordered:
        return None
    new_key = policy.order_key(event.tag)
    if new_key is None or event.tag is None:
        return None
    running = running_tag(group, event, rule, runs, policy)
    if policy.stay_within is not None:
        reason = policy.within(event.tag, running)
        if reason is not None:
            return VersionCheck(reason, False)
    old_key = policy.order_key(running) if running else None
    if old_key is None:
        return None  # what runs has no place in the rule's order (latest, a hash): event time decides
    if new_key < old_key:
        if rule.allow_downgrade or event.source == "rollback":  # planner.ROLLBACK_SOURCE
            return VersionCheck(None, False)  # an explicit rollback; a stale event still loses on time
        return VersionCheck(f"would downgrade {running} -> {event.tag}", False)
    return VersionCheck(None, new_key > old_key)
