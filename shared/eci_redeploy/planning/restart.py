"""`action: restart`: RestartContainerGroup, recognised afterwards only by the tracking tags it leaves."""

from __future__ import annotations

import hashlib

from ..clients.eci_model import ContainerGroup
from ..events.model import PushEvent
from ..rules.model import Rule
from . import tracking
from .guards import MUTABLE_STATUSES, _never_note
from .steps import Plan, Skip, Step
from .tokens import restart_token


def _plan_restart(plan: Plan, event: PushEvent, rule: Rule, group: ContainerGroup, live: frozenset[str]) -> None:
    """A restart changes no image, so only the group's tracking tags can say it already got this push
    (`_restarted_for`, checked in `_plan_rule`): the worker writes them (TagResources, `Step.record`)
    once ECI accepted the restart."""
    if group.status not in MUTABLE_STATUSES:
        plan.skipped.append(
            Skip(rule.name, f"group is {group.status}; it can be restarted only when Pending or Running", group.id)
        )
        return
    record = _restart_record(group, event, rule, live)
    if not record:  # unrecognisable afterwards: every later time slice or redelivery would restart it again
        reason = "no room for the tracking tags a restart is recognised by (ECI allows 20 tags): not restarted"
        plan.skipped.append(Skip(rule.name, reason, group.id))
        return
    body = {
        "RegionId": rule.target.region,
        "ContainerGroupId": group.id,
        "ClientToken": restart_token(rule, group, event),
    }
    image = f"{event.repository}:{event.tag}" if event.tag else event.repository
    plan.steps.append(
        Step(
            rule.name,
            "RestartContainerGroup",
            group.id,
            body,
            image,
            group.id,
            event_id=event.event_id,
            record=record,
            notes=_never_note(rule, group),
        )
    )


def _restarted_for(group: ContainerGroup, event: PushEvent, rule: Rule) -> str | None:
    """The version the rule's record on the group says it was restarted onto, when that is this push: the same
    digest (or one the push names as equivalent), or, for a push without a digest, the same tag pushed
    at the same time. None: not recorded (or another push)."""
    done = tracking.applied(group.tag_map, rule.name)
    if done.digest is None:
        return None
    if event.digest:
        same = any(done.holds(d) for d in (event.digest, *event.equivalent))
    else:  # two digest-less pushes of a tag at the same time cannot be told apart
        same = done.holds(_restart_version(event)) and done.event_time_ms == tracking.millis(event.time)
    return done.digest if same else None


def _restart_version(event: PushEvent) -> str:
    """What a restart records as applied: the digest, else the tag; for a push with neither a digest nor
    a time (a CI call naming `:latest` and its own id) the tag and a hash of the event id, as nothing
    else tells its redelivery from the tag's next push (which must restart again)."""
    version = tracking.version_of(event.digest, event.tag)
    if not event.digest and tracking.millis(event.time) is None:
        version += "#" + hashlib.sha256(event.event_id.encode()).hexdigest()[:12]
    return version[-tracking.MAX_VALUE :]


def _restart_record(group: ContainerGroup, event: PushEvent, rule: Rule, live: frozenset[str]) -> dict[str, str]:
    """The tracking tags a restart leaves (empty: no room). TagResources only adds and overwrites, so a
    key of ours the group has and this record has no value for (no push time: the reconcile; an entry
    of another rule that moved or was dropped) is written empty, which reads as unset
    (tracking.applied), instead of keeping an earlier value; such keys still count against ECI's 20."""
    tags = tracking.record(
        group.tag_map,
        version=_restart_version(event),
        event_time=event.time,
        rule=rule.name,
        previous=tracking.applied(group.tag_map, rule.name).digest,
        tag=event.tag,
        live=live,
    )
    if tags is None:
        return {}
    ours = {t["Key"]: t["Value"] for t in tags if tracking.is_tracking(t["Key"])}
    # An earlier version's over-long key is never written again (its current key is, and wins).
    stale = {k: "" for k in group.tag_map if tracking.is_tracking(k) and k not in ours and len(k) <= tracking.MAX_KEY}
    if len(set(group.tag_map) | set(ours)) > tracking.MAX_TAGS:
        return {}
    return {**stale, **ours}
