"""The no-downgrade guard and `updates`: a push is compared with the version each targeted container
runs, by the rule's own order (`TagPolicy.order_key`), before anything is planned for that group.

Per container, not per group: only the containers the rule changes count (`target.containers`, else
every container running the pushed repository), and each is judged on its own version. With
`containers: [sidecar]`, an untargeted `app` container of the same repository on 2.0.0 says nothing
about whether the sidecar on 1.2.0 may take 2.1.0 (`updates: minor`: it may not). A container whose
version says no is left as it is while the others move (an update); a restart or a replace moves the
whole group, so there one container saying no holds the group.

What a container runs: the tag in the rule's own record on the group (planning/tracking.py: another
rule's record says nothing about this rule's containers) while that record still describes the
container's image (a group deployed as `repo@sha256:...` has no tag of its own), else the image's
own tag (`repo:1.4.6@sha256:...` when the record had no room: planner.py). Every source goes through
here: pushes, webhooks, CI calls and the reconcile all plan through `planner.plan_event`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..core.errors import ImageReferenceError
from ..core.imageref import ImageRef
from ..events.model import PushEvent
from ..rules.tagpolicy import TagPolicy
from . import tracking

Runs = Callable[[ImageRef, PushEvent, Any], bool]


@dataclass(frozen=True)
class VersionCheck:
    skip: str | None  # why the group is left as it is (None: go on)
    newer: bool  # the rule's order says the push is newer than what runs: event time is not consulted
    held: dict[str, str] = field(default_factory=dict)  # containers left as they are, and why (the rest move)


def targeted(group: ContainerGroup, event: PushEvent, rule: Any, runs: Runs) -> list[tuple[str, ImageRef]]:
    """The containers (init containers too) the rule changes for this push, with their running images."""
    wanted = set(rule.target.containers or ())
    out = []
    for container in (*group.containers, *group.init_containers):
        if not container.image or (wanted and container.name not in wanted):
            continue
        try:
            ref = ImageRef.parse(container.image)
        except ImageReferenceError:
            continue
        if runs(ref, event, rule):
            out.append((container.name, ref))
    return out


def running_tag(
    group: ContainerGroup, event: PushEvent, rule: Any, runs: Runs, policy: TagPolicy | None = None
) -> str | None:
    """The highest-ranked tag among the containers the rule targets (the reconcile's line of a group)."""
    policy = policy or rule.source.tags.policy()
    tags = group.tag_map
    best: tuple[Any, str] | None = None
    first: str | None = None
    for _, ref in targeted(group, event, rule, runs):
        tag = tracking.deployed_tag(tags, ref.digest, ref.tag, rule.name)
        if tag is None:
            continue
        first = first or tag
        key = policy.order_key(tag)
        if key is not None and (best is None or key > best[0]):
            best = (key, tag)
    return best[1] if best else first


def _one(policy: TagPolicy, event: PushEvent, rule: Any, new_key: Any, running: str | None) -> VersionCheck | None:
    """One container's answer; None: its version has no place in the rule's order (event time decides)."""
    assert event.tag is not None
    if policy.updates is not None:
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


def check(event: PushEvent, rule: Any, group: ContainerGroup, runs: Runs) -> VersionCheck | None:
    """None when the rule has no order for the pushed tag (then event time decides, as before)."""
    policy = rule.source.tags.policy()
    if not policy.ordered:
        return None
    new_key = policy.order_key(event.tag)
    if new_key is None or event.tag is None:
        return None
    tags = group.tag_map
    answers = [
        (name, _one(policy, event, rule, new_key, tracking.deployed_tag(tags, ref.digest, ref.tag, rule.name)))
        for name, ref in targeted(group, event, rule, runs)
    ]
    if not answers:
        return None  # no container runs the repository: the planner says so
    held = {name: a.skip for name, a in answers if a is not None and a.skip is not None}
    going = [a for name, a in answers if name not in held]
    if not going:
        reasons = sorted(set(held.values()))
        skip = reasons[0] if len(reasons) == 1 else "; ".join(f"{n}: {why}" for n, why in sorted(held.items()))
        return VersionCheck(skip, False, held)
    return VersionCheck(None, all(a is not None and a.newer for a in going), held)
