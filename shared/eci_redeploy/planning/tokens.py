"""What every ClientToken is made of, one function per action word: core/idempotency.py hashes the
inputs, this module chooses them (tests/system/test_import_graph.py lets no other module call the hash).

A token names a transition (core/idempotency.py): the rule, the action word, the target, what the
target runs and recorded before, what it should run after. Whatever belongs to that transition goes
in; whatever a retry of the same transition could change (a time of day, a request id) stays out, so
a retry carries the same token and ECI or ESS applies it at most once. tests/planning/test_token_inputs.py
pins each function's inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..core.idempotency import client_token, transition_token
from . import tracking

if TYPE_CHECKING:
    from ..clients.eci_model import ContainerGroup
    from ..clients.ess_model import ScalingView
    from ..core.imageref import ImageRef
    from ..events.model import PushEvent
    from ..rules.model import Rule


class Change(NamedTuple):
    """An image change's token inputs: what the group runs and recorded (before), what it should run
    and the push that asks for it (after). A change and its rollback share them."""

    before: list[str]
    after: list[str]


def _token_basis(image: ImageRef, event: PushEvent) -> str:
    # Without a digest the image string does not identify the content: the event must.
    return image.render() if image.digest else f"{image.render()}#{event.event_id}"


def _push_basis(event: PushEvent) -> str:
    # The pushed content: its digest, else the tag and the event (a moving tag is new content each push).
    return event.digest or f"{event.tag}#{event.event_id}"


def _recorded(group: ContainerGroup) -> str:
    """What the group's tracking tags say it last had applied: part of the state a transition leaves."""
    done = tracking.applied(group.tag_map)
    return f"applied={done.digest or ''}@{done.event_time_ms or ''}/{done.rule or ''}"


def _pushed(event: PushEvent) -> str:
    # The push's time goes into the recorded tags, so it belongs to the transition's target too.
    return f"pushed@{tracking.millis(event.time) or ''}"


def _verb(action: str, rule: Rule) -> str:
    """A ClientToken's action word: a full resend is another request than an incremental one, so a rule
    switched between the two never reuses a token for a different body (IdempotentParameterMismatch)."""
    return f"{action}-full" if rule.update.containers == "full" else action


# Container groups (planning/update.py, replace.py, create.py, restart.py).


def image_change(group: ContainerGroup, old: Iterable[ImageRef], new: Iterable[ImageRef], event: PushEvent) -> Change:
    """Before: the images the group runs and its record; after: the new images (with the event where
    they carry no digest) and the push's time. A -> B -> A is three transitions, not one token twice."""
    before = [*(str(i) for i in old), _recorded(group)]
    return Change(before, [*(_token_basis(i, event) for i in new), _pushed(event)])


def update_token(rule: Rule, group: ContainerGroup, change: Change) -> str:
    """UpdateContainerGroup to the new images (`update-full` when the rule resends whole containers)."""
    return transition_token(rule.name, _verb("update", rule), group.id, before=change.before, after=change.after)


def rollback_token(rule: Rule, group: ContainerGroup, change: Change) -> str:
    """The planned undo of an update: the update's transition the other way round, from what the
    update leaves (its after) back to what it found (its before)."""
    return transition_token(rule.name, _verb("rollback", rule), group.id, before=change.after, after=change.before)


def replace_create_token(rule: Rule, group: ContainerGroup, change: Change) -> str:
    """A replace's successor: named by the group it replaces (the target), not by its own name."""
    return transition_token(rule.name, "replace-create", group.id, before=change.before, after=change.after)


def replace_delete_token(rule: Rule, group: ContainerGroup, change: Change) -> str:
    """A replace's delete of the old group: the same transition as its create, its own word."""
    return transition_token(rule.name, "replace-delete", group.id, before=change.before, after=change.after)


def create_token(rule: Rule, name: str, images: Iterable[ImageRef], event: PushEvent) -> str:
    """A group created from a template: nothing ran before, so the name and the images it runs."""
    return client_token(rule.name, "create", name, *(_token_basis(i, event) for i in images))


def restart_token(rule: Rule, group: ContainerGroup, event: PushEvent) -> str:
    """A restart changes no image: before, the group's record; after, the repository, the pushed
    content and the push's time (the record the restart leaves)."""
    after = [event.repository, _push_basis(event), _pushed(event)]
    return transition_token(rule.name, "restart", group.id, before=[_recorded(group)], after=after)


def stepped_rollback_token(rule: Any, group_id: str, mark: str, image: str) -> str:
    """A rollback found by a later step (planning/batchmark.py): from the batch mark the group carries
    (its start time, so each rollout's rollback is its own) to the undo tag's image."""
    return transition_token(rule.name, "rollback", group_id, before=[mark], after=[image])


# Auto Scaling groups (planning/scaling.py): the target is the scaling group.


def _scaling_before(view: ScalingView) -> list[str]:
    # Every instance's lifecycle state and the suspended processes: the group as the procedure finds it.
    return [f"{i.id}={i.lifecycle_state}" for i in view.instances] + [",".join(view.group.suspended)]


def _scaling_after(event: PushEvent) -> list[str]:
    return [_push_basis(event), _pushed(event)]


def recover_exit_token(rule: Rule, view: ScalingView, instance_ids: Sequence[str], record: str) -> str:
    """ExitStandby of the instances a dead worker left: these ids, under the suspension record they
    were left with (`record`, the tag's value: another rollout's leftovers are another transition)."""
    return transition_token(rule.name, "recover-exit", view.group.id, before=instance_ids, after=[record])


def recover_resume_token(rule: Rule, view: ScalingView, processes: Sequence[str], record: str) -> str:
    """ResumeProcesses of what a dead worker left suspended: these processes, under its record."""
    return transition_token(rule.name, "recover-resume", view.group.id, before=processes, after=[record])


def suspend_token(rule: Rule, view: ScalingView, event: PushEvent) -> str:
    """SuspendProcesses before the procedure: the group as found, to the push being rolled out."""
    return transition_token(
        rule.name, "suspend", view.group.id, before=_scaling_before(view), after=_scaling_after(event)
    )


def resume_token(rule: Rule, view: ScalingView, event: PushEvent) -> str:
    """ResumeProcesses after the procedure: the same transition as its suspend, its own word."""
    return transition_token(
        rule.name, "resume", view.group.id, before=_scaling_before(view), after=_scaling_after(event)
    )


def enter_standby_token(rule: Rule, view: ScalingView, event: PushEvent, instance_ids: Sequence[str]) -> str:
    """EnterStandby of one batch: the group as found and the batch's instances, to the push."""
    before = [*_scaling_before(view), *instance_ids]
    return transition_token(rule.name, "enter-standby", view.group.id, before=before, after=_scaling_after(event))


def exit_standby_token(rule: Rule, view: ScalingView, event: PushEvent, instance_ids: Sequence[str]) -> str:
    """ExitStandby of one batch: the same inputs as its EnterStandby, its own word."""
    before = [*_scaling_before(view), *instance_ids]
    return transition_token(rule.name, "exit-standby", view.group.id, before=before, after=_scaling_after(event))


# The writer's own requests (execution/rollout.py, execution/prewarm.py).


def undo_create_token(create_token: str | None, group_id: str) -> str:
    """DeleteContainerGroup of a created group that did not become healthy: the create's token names
    the transition it undoes, the group id the one group it deletes."""
    return client_token("undo-create", create_token or "", group_id)


def prewarm_token(region: str, image: str) -> str:
    """CreateImageCache: one cache per image and region, whichever rule or push asks for it."""
    return client_token("prewarm", region, image)


def image_cache_name(image: str) -> str:
    """The cache's name (not a token): 16 hex of the image's hash, so the same image names the same cache."""
    return "er-" + client_token(image)[4:20]


def cached_create_token(step_token: object, snapshot_id: object) -> str:
    """A create that names the image cache is another request than the planned one (the same token with
    other parameters is refused): its token is derived from the step's and the snapshot's (as text: a
    step without a token gives "None")."""
    return client_token(str(step_token), str(snapshot_id))
