"""A push for a rule that targets an Auto Scaling (ESS) group of the ECI type: pure, like the planner.

The steps follow Alibaba's OOS template ACS-ESS-RollingUpdateByUpdateContainerGroup, with one step of
its own before and after the suspension so that a worker that dies mid-rollout leaves a record:

    TagResources (the suspension record: which processes we suspend, for which rule)
    SuspendProcesses           (only those not already suspended)
    ModifyEciScalingConfiguration  (the active configuration's images: scale-outs launch the new one)
    per batch of InService instances:
        TagResources (the standby record: these instances are ours in Standby)
        EnterStandby, UpdateContainerGroup x n, [wait until healthy], ExitStandby, UntagResources
    ResumeProcesses, UntagResources (the suspension record)

execution/scaling.py carries them out (phases in `Step.phase`), rolling the configuration and the
instances back when a batch fails. A scaling group that still carries a record when it is planned was
left by a worker that died (every run of ours resumes before it ends): the plan starts by putting it
back (ExitStandby of the recorded instances, ResumeProcesses of the recorded processes, the records
dropped), on a push or on the reconcile's tick alike.

The configuration is planned as if it were a container group (its containers and its tags), so no
downgrade, event order, digest pinning and the pull parameters are decided exactly as for a group;
the tracking record goes into the configuration's Tags, which ESS copies onto every instance it
creates from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..clients.ess_model import IN_SERVICE, STANDBY, ScalingView
from ..events.model import PushEvent
from ..rules.model import Rule
from . import tokens, tracking
from .steps import RECOVERY_SOURCE, Plan, Skip, Step

SUSPENDED = tracking.PREFIX + "suspended"  # value: "<processes>|<rule>"
STANDBY_KEY = tracking.PREFIX + "standby."  # + n: up to IDS_PER_TAG instance ids, comma-separated
IDS_PER_TAG = 5  # 5 ids of ~22 characters fit a 128-character tag value
# What the OOS template suspends: no scale-in may remove, no scale-out add, no health check replace an
# instance while the configuration and the instances are changing (SuspendProcesses, Processes.N).
PROCESSES = ("ScaleIn", "ScaleOut", "HealthCheck", "AlarmNotification", "ScheduledAction")
MAX_BATCH = 20  # EnterStandby / ExitStandby take at most 20 instances a call


@dataclass(frozen=True)
class _ScalingCase:
    """One push for one rule on one scaling group: what every planner of the group's procedure reads.
    `reuse`: the planner's container-group decisions (guard, changes, plan_update) and its PullCache."""

    event: PushEvent
    rule: Rule
    view: ScalingView
    env: Mapping[str, str]
    live: frozenset[str]
    reuse: Any

    def step(self, action: str, body: dict[str, Any], phase: str, **kw: Any) -> Step:
        return _ess_step(self.rule, self.view, action, body, phase, **kw)


def find(views: Mapping[str, ScalingView], rule: Rule) -> list[ScalingView]:
    """The observed scaling groups the rule names, by id (one by id or name; every match of its tags)."""
    ref = rule.target.scaling_group
    assert ref is not None
    found = [v for v in views.values() if v.region == rule.target.region and ref.matches(v.group)]
    return sorted(found, key=lambda v: v.group.id)


def recorded(tags: Mapping[str, str]) -> tuple[list[str], str | None, list[str]]:
    """(processes our record says we suspended, the rule that did, instance ids it put in Standby)."""
    raw = tags.get(SUSPENDED)
    processes, rule = ([], None) if not raw else (raw.partition("|")[0].split(","), raw.partition("|")[2] or None)
    ids = [i for k, v in sorted(tags.items()) if k.startswith(STANDBY_KEY) for i in v.split(",") if i]
    return [p for p in processes if p], rule, ids


def as_group(view: ScalingView) -> ContainerGroup:
    """The active configuration in the container-group shape the planner's decisions read."""
    config = view.configuration
    assert config is not None
    return ContainerGroup.model_validate(
        {
            "ContainerGroupId": config.id,
            "ContainerGroupName": config.name,
            "RegionId": view.region,
            "Status": "Running",
            "Tags": [{"Key": t.key, "Value": t.value} for t in config.tags],
            "Containers": [{"Name": c.name, "Image": c.image} for c in config.containers],
            "InitContainers": [{"Name": c.name, "Image": c.image} for c in config.init_containers],
        }
    )


def ess_pull(for_update: Mapping[str, Any]) -> dict[str, Any]:
    """ECI's pull parameters in ModifyEciScalingConfiguration's names (AcrRegistryInfos.N.Domains,
    ImageRegistryCredentials.N.{Server, UserName, Password}: the SDK's request model)."""
    out: dict[str, Any] = {}
    if for_update.get("AcrRegistryInfo"):
        out["AcrRegistryInfos"] = [
            {("Domains" if k == "Domain" else k): v for k, v in entry.items()}
            for entry in for_update["AcrRegistryInfo"]
        ]
    if for_update.get("ImageRegistryCredential"):
        out["ImageRegistryCredentials"] = [dict(c) for c in for_update["ImageRegistryCredential"]]
    return out


def plan_scaling(
    plan: Plan,
    event: PushEvent,
    rule: Rule,
    views: Mapping[str, ScalingView],
    env: Mapping[str, str],
    live: frozenset[str],
    reuse: Any,
) -> None:
    """`reuse`: the planner's container-group decisions (guard, changes, plan_update) and its PullCache."""
    found = find(views, rule)
    ref = rule.target.scaling_group
    assert ref is not None
    if not found:
        plan.skipped.append(Skip(rule.name, f"no scaling group {ref.label} in {rule.target.region}"))
    for view in found:
        if event.source == RECOVERY_SOURCE:  # the timer's order: only put back what a dead worker left
            plan.steps.extend(replace(s, event_id=event.event_id) for s in _recovery(rule, view))
            continue
        _plan_group(plan, _ScalingCase(event, rule, view, env, live, reuse))


def _plan_group(plan: Plan, case: _ScalingCase) -> None:
    event, rule, view = case.event, case.rule, case.view
    reason = _refusal(view, rollback=event.source == "rollback")  # planner.ROLLBACK_SOURCE
    if reason:
        plan.skipped.append(Skip(rule.name, reason, view.group.id))
        return
    recovery = _recovery(rule, view)
    processes, _, _ = recorded(view.group.tag_map)
    foreign = [p for p in view.group.suspended if p not in processes]
    if foreign and not recovery:  # another controller's maintenance (an OOS rollout, an operator): not ours
        why = f"its processes ({', '.join(foreign)}) are suspended by someone else: deferred"
        plan.skipped.append(Skip(rule.name, why, view.group.id, deferred=True))
        return
    work = _configuration(plan, case) + _instances(plan, case)
    plan.steps.extend(recovery)
    if work:
        plan.steps.extend(_wrapped(work, case, already=foreign))


def _refusal(view: ScalingView, *, rollback: bool) -> str | None:
    group = view.group
    if group.group_type != "ECI":
        return f"scaling group {group.id} is of type {group.group_type}: only ECI scaling groups are redeployed"
    # A freeze stops pushes and the reconcile, not the operator's rollback (as for container groups).
    if tracking.frozen(group.tag_map) and not rollback:
        return f"frozen ({tracking.FREEZE} is set on the scaling group): left as it is"
    if group.lifecycle_state != "Active":
        return f"scaling group {group.id} is {group.lifecycle_state}: it must be Active"
    if view.configuration is None:
        return f"scaling group {group.id} has no active ECI scaling configuration"
    return None


def _ess_step(rule: Rule, view: ScalingView, action: str, body: dict[str, Any], phase: str, **kw: Any) -> Step:
    return Step(rule.name, action, view.group.id, body, phase=phase, scaling_group=view.group.id, **kw)


def _recovery(rule: Rule, view: ScalingView) -> list[Step]:
    """Put back what a worker that died left: the recorded Standby instances, the recorded processes."""
    tags = view.group.tag_map
    processes, owner, ids = recorded(tags)
    if not processes and not ids:
        return []
    region, gid = view.region, view.group.id
    note = (f"left by a rollout of {owner or 'an earlier run'} that did not finish",)
    steps: list[Step] = []
    standby = [i.id for i in view.instances if i.id in ids and i.lifecycle_state == STANDBY]
    for start in range(0, len(standby), MAX_BATCH):
        chunk = standby[start : start + MAX_BATCH]
        token = tokens.recover_exit_token(rule, view, chunk, tags.get(SUSPENDED, ""))
        body = {"RegionId": region, "ScalingGroupId": gid, "InstanceIds": chunk, "ClientToken": token}
        steps.append(_ess_step(rule, view, "ExitStandby", body, "recover", notes=note))
    still = [p for p in processes if p in view.group.suspended]
    if still:
        token = tokens.recover_resume_token(rule, view, still, tags.get(SUSPENDED, ""))
        body = {"RegionId": region, "ScalingGroupId": gid, "Processes": still, "ClientToken": token}
        steps.append(_ess_step(rule, view, "ResumeProcesses", body, "recover", notes=note))
    keys = [k for k in tags if k == SUSPENDED or k.startswith(STANDBY_KEY)]
    steps.append(_ess_step(rule, view, "UntagResources", _untag(region, gid, keys), "recover", notes=note))
    return steps


def recovery(rules: Any, observed: Any) -> list[Step]:
    """The recovery steps of every scaling-group rule whose group carries a record, from what was observed:
    the reconcile's tick plans them even when no registry answers (and the push would not plan)."""
    from ..clients.eci_model import GroupIndex

    views = GroupIndex(observed).scaling
    out: list[Step] = []
    for rule in rules:
        for view in find(views, rule) if rule.target.scaling_group is not None else []:
            out.extend(_recovery(rule, view))
    return out


def _untag(region: str, gid: str, keys: list[str]) -> dict[str, Any]:
    return {"RegionId": region, "ResourceType": "scalinggroup", "ResourceIds": [gid], "TagKeys": keys}


def _tag(region: str, gid: str, tags: Mapping[str, str]) -> dict[str, Any]:
    return {
        "RegionId": region,
        "ResourceType": "scalinggroup",
        "ResourceIds": [gid],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


def _configuration(plan: Plan, case: _ScalingCase) -> list[Step]:
    event, rule, view, reuse = case.event, case.rule, case.view, case.reuse
    config = as_group(view)
    # held: the targeted containers whose own version keeps them where they are (the others may move)
    guard, held = reuse.guard(event, rule, config)
    if guard is not None:
        plan.skipped.append(Skip(rule.name, f"scaling configuration: {guard.reason}", config.id))
        return []
    notes: list[str] = []
    changes = reuse.changes(config, event, rule, reuse.pulls, notes, held)
    if not changes.targets:
        plan.skipped.append(Skip(rule.name, f"scaling configuration {config.id}: no container runs {event.repository}"))
        return []
    if not changes.new_images:
        return []  # the configuration has it: the instances may still drift (_instances)
    pull = ess_pull(reuse.pulls.get(changes.new_images, rule, event, case.env).for_update())
    tags = tracking.record(
        config.tag_map,
        version=tracking.version_of(event.digest, event.tag),
        event_time=event.time,
        rule=rule.name,
        previous=tracking.version_of(changes.old_images[0].digest, changes.old_images[0].tag),
        tag=event.tag,
        live=case.live,
    )
    body, back = _modify_bodies(config.id, changes, pull, tags, view)
    # ModifyEciScalingConfiguration has no ClientToken (SDK model): setting the same images twice is harmless.
    return [
        case.step(
            "ModifyEciScalingConfiguration",
            body,
            "configure",
            image=changes.new_images[0].render(),
            rollback=back,
            previous=changes.previous,
            event_id=event.event_id,
            notes=tuple(notes),
            location=view.region,
        )
    ]


def _modify_bodies(
    config_id: str, changes: Any, pull: dict[str, Any], tags: list[dict[str, str]] | None, view: ScalingView
) -> tuple[dict[str, Any], dict[str, Any]]:
    """ModifyEciScalingConfiguration to the new images, and back to the old ones (with the
    configuration's own tags)."""
    ess = {"Container": "Containers", "InitContainer": "InitContainers"}
    # No RegionId: ModifyEciScalingConfigurationRequest has none (SDK model); the client's region is the step's.
    body: dict[str, Any] = {
        "ScalingConfigurationId": config_id,
        "ContainersUpdateType": "IncrementalUpdate",  # the default, RenewUpdate, would drop the other containers
        **{ess[k]: v for k, v in changes.body.items()},
        **pull,
        **({"Tags": tags} if tags is not None else {}),
    }
    back: dict[str, Any] = {
        "ScalingConfigurationId": config_id,
        "ContainersUpdateType": "IncrementalUpdate",
        **{ess[k]: v for k, v in changes.back.items()},
        **pull,
        "Tags": [{"Key": t.key, "Value": t.value} for t in view.configuration.tags] if view.configuration else [],
    }
    return body, back


# A scaling group's instance that never restarts (RestartPolicy Never, from its configuration) is not
# replaced by this product: the configuration it was created from moves anyway, so ESS's next instances
# run the new image.
NEVER_WAY_OUT = (
    "the scaling group's own replacement of its instances (the configuration is updated: scale in and out to "
    "renew them)"
)


def _instances(plan: Plan, case: _ScalingCase) -> list[Step]:
    """An UpdateContainerGroup per instance that runs an older image, planned as for any container group
    (its own no-downgrade guard, rollback request and ClientToken); Standby instances of our record count
    as InService (the recovery puts them back first)."""
    event, rule, view, reuse = case.event, case.rule, case.view, case.reuse
    _, _, ours = recorded(view.group.tag_map)
    out: list[Step] = []
    for instance in view.instances:
        state = IN_SERVICE if instance.id in ours and instance.lifecycle_state == STANDBY else instance.lifecycle_state
        group = view.container_groups.get(instance.id)
        if state != IN_SERVICE or group is None:
            why = f"instance is {instance.lifecycle_state}" if group else "instance has no container group"
            plan.skipped.append(Skip(rule.name, f"{why}: left to the scaling group", instance.id))
            continue
        guard, held = reuse.guard(event, rule, group)
        guard = guard or reuse.never(rule, group, NEVER_WAY_OUT)  # as for any container group (planner)
        if guard is not None:
            plan.skipped.append(guard)
            continue
        sub = Plan()
        reuse.plan_update(sub, event, rule, group, case.env, reuse.pulls, case.live, held)
        plan.skipped.extend(sub.skipped)
        out.extend(s.with_scaling(view.group.id, "update") for s in sub.steps)
    return out


def _wrapped(work: list[Step], case: _ScalingCase, *, already: list[str]) -> list[Step]:
    """The OOS procedure around the work; each of its steps names the push it is for (audit, notifications)."""
    steps = _procedure(work, case, already=already)
    return [s if s.event_id else replace(s, event_id=case.event.event_id) for s in steps]


def _procedure(work: list[Step], case: _ScalingCase, *, already: list[str]) -> list[Step]:
    event, rule, view = case.event, case.rule, case.view
    region, gid = view.region, view.group.id
    ours = [p for p in PROCESSES if p not in already]
    steps: list[Step] = []
    record = {SUSPENDED: f"{','.join(ours)}|{rule.name}"}
    steps.append(case.step("TagResources", _tag(region, gid, record), "suspend"))
    if ours:
        token = tokens.suspend_token(rule, view, event)
        body = {"RegionId": region, "ScalingGroupId": gid, "Processes": ours, "ClientToken": token}
        steps.append(case.step("SuspendProcesses", body, "suspend"))
    steps.extend(s for s in work if s.action == "ModifyEciScalingConfiguration")
    updates = [s for s in work if s.action == "UpdateContainerGroup"]
    size = min(rule.rollout.batch_size, MAX_BATCH)
    for n, start in enumerate(range(0, len(updates), size), 1):
        steps.extend(_batch(case, updates[start : start + size], f"batch:{n}"))
    if ours:
        token = tokens.resume_token(rule, view, event)
        body = {"RegionId": region, "ScalingGroupId": gid, "Processes": ours, "ClientToken": token}
        steps.append(case.step("ResumeProcesses", body, "resume"))
    steps.append(case.step("UntagResources", _untag(region, gid, [SUSPENDED]), "resume"))
    return steps


def _batch(case: _ScalingCase, updates: list[Step], phase: str) -> list[Step]:
    rule, view, event = case.rule, case.view, case.event
    region, gid = view.region, view.group.id
    ids = [s.group_id or s.target for s in updates]
    chunks = [ids[i : i + IDS_PER_TAG] for i in range(0, len(ids), IDS_PER_TAG)]
    record = {f"{STANDBY_KEY}{n}": ",".join(chunk) for n, chunk in enumerate(chunks, 1)}
    enter = tokens.enter_standby_token(rule, view, event, ids)
    leave = tokens.exit_standby_token(rule, view, event, ids)
    return [
        case.step("TagResources", _tag(region, gid, record), phase),
        case.step(
            "EnterStandby", {"ScalingGroupId": gid, "InstanceIds": ids, "ClientToken": enter}, phase, location=region
        ),
        *(s.with_scaling(gid, phase) for s in updates),
        case.step(
            "ExitStandby", {"RegionId": region, "ScalingGroupId": gid, "InstanceIds": ids, "ClientToken": leave}, phase
        ),
        case.step("UntagResources", _untag(region, gid, list(record)), phase),
    ]
