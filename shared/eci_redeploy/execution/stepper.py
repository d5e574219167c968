"""A health-gated rollout as short steps: the writer never sleeps on a health wait.

One step, per rule, from the groups just described (`planning/batchmark.py` reads their marks):

1. judge the rule's current batch (the groups its latest step started): a failed group is rolled back
   (UpdateContainerGroup to its undo image, the mark turned `failed`) or, without an undo (a restart,
   `rollback: false`), its mark turned `failed` (TagResources) so that it is reported once;
2. a group still coming up, or another change in flight on the rule's groups: stop here, look again
   in `poll_seconds` (the continuation);
3. the failure budget spent: stop the rollout;
4. else start the next batch (the marks ride in the request that changes the group), describe it once
   and, if it is healthy already, go on with the next batch in the same step.

`advance` returns the outcomes and when the next step should look (None: the rollout is over). The
caller schedules that step: the worker function as an async invocation of itself with
`x-fc-async-delay` (functions/push_worker.py), `serve` in its writer's queue (execution/writer.py).

A unit the marks do not fit (no room under ECI's 20 tags, an undo image too long for a tag, a
replace's create and delete, a create) runs as before, waiting in the step (execution/rollout.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..clients.eci import EciGateway, tag_calls
from ..clients.eci_model import ContainerGroup
from ..core.errors import EciApiError
from ..core.log import log_event
from ..events.model import PushEvent
from ..planning import batchmark as bm
from ..planning.steps import Plan, Step
from ..rules.model import Rule, RuleSet
from .clock import Clock
from .rollout import CONTINUED, FAILED, Outcome, _record, _rollout, call_all, roll_back, units

WAITING = "waiting for the batch before it to become healthy: a later step starts it"
STEPPED = frozenset({"UpdateContainerGroup", "RestartContainerGroup"})


@dataclass
class Stepped:
    outcomes: list[Outcome]
    again_in: float | None  # seconds until the next step should look; None: nothing left to look at


@dataclass(frozen=True)
class _Look:
    """What one step of every rule goes through: the groups as last described (updated as the step
    changes them, so later decisions in it read the marks just written), the gateway, the environment
    (a rollback's pull parameters), the clock and the invocation's deadline."""

    seen: dict[str, ContainerGroup]
    gateway: EciGateway
    env: Mapping[str, str]
    clock: Clock
    deadline: float | None


def advance(
    plan: Plan,
    groups: Sequence[ContainerGroup],
    gateway: EciGateway,
    rules: RuleSet,
    env: Mapping[str, str],
    clock: Clock,
    *,
    deadline: float | None = None,
) -> Stepped:
    look = _Look({g.id: g for g in groups}, gateway, env, clock, deadline)
    by_rule: dict[str, list[list[Step]]] = {}
    for unit in units(plan.steps):
        by_rule.setdefault(unit[0].rule, []).append(unit)
    names = list(dict.fromkeys([*by_rule, *(s.rule for s in plan.skipped if s.rule)]))
    outcomes: list[Outcome] = []
    again: list[float] = []
    for rule in (r for r in rules if r.name in names and steppable(r)):
        event = _event_for(rule, plan, by_rule.get(rule.name, []))
        if event is None:
            continue
        deferred = {s.target for s in plan.deferred if s.rule == rule.name}
        done = _rule_step(look, rule, event, by_rule.get(rule.name, []), deferred)
        outcomes.extend(done.outcomes)
        if done.again_in is not None:
            again.append(done.again_in)
    return Stepped(outcomes, min(again) if again else None)


def _event_for(rule: Rule, plan: Plan, rule_units: list[list[Step]]) -> PushEvent | None:
    ids = {u[0].event_id for u in rule_units}
    for event in plan.events:
        if event.event_id in ids:
            return event
    return next(
        (e for e in plan.events if e.repository == rule.source.repository and e.only_rule in (None, rule.name)), None
    )


def steppable(rule: Rule) -> bool:
    """Rules whose rollout goes in steps: health-gated in-place changes of container groups without an
    image-cache pre-warm. A scaling group's procedure is not (execution/scaling.py): its processes stay
    suspended only while one invocation runs it, which resumes them before it returns."""
    return (
        rule.rollout.wait
        and rule.target.action in ("update", "restart")
        and rule.pull.prewarm is None
        and rule.target.scaling_group is None
    )


def _rule_step(look: _Look, rule: Rule, event: PushEvent, todo: list[list[Step]], deferred: set[str | None]) -> Stepped:
    settings, push = rule.rollout, bm.push_key(rule.name, event)
    outcomes: list[Outcome] = []
    started_here = False
    refused = 0  # calls ECI refused in this step: they count against the budget, as a failed group does
    while True:
        batch = bm.current_batch(look.seen.values(), rule.name)
        pending = _judge(look, batch, rule, event, outcomes)
        if pending or (deferred - {g.id for g in batch}):
            outcomes.extend(_left(todo, WAITING))
            return Stepped(outcomes, settings.poll_seconds)
        if bm.failures(look.seen.values(), rule.name, push) + refused > settings.failure_budget:
            reason = f"rollout stopped: the failure budget ({settings.failure_budget}) is spent"
            outcomes.extend(_left(todo, reason))
            return Stepped(outcomes, None)
        if not todo:
            return Stepped(outcomes, None)
        if started_here and look.deadline is not None and look.clock.now() >= look.deadline:
            outcomes.extend(_left(todo, CONTINUED))
            return Stepped(outcomes, 0.0)
        batch_units, todo = todo[: settings.batch_size], todo[settings.batch_size :]
        before = len(outcomes)
        started = _start(look, batch_units, rule, push, outcomes)
        refused += sum(1 for o in outcomes[before:] if o.status in ("failed", "rolled-back"))
        started_here = True
        ids = [o.group_id for o in started if o.group_id]
        if ids and not _refresh(look.gateway, rule.target.region, ids, look.seen, rule.name):
            outcomes.extend(_left(todo, WAITING))  # not seen with its marks yet: never start past it
            return Stepped(outcomes, settings.poll_seconds)
        for outcome in started:  # the report's after-picture, from the look just taken
            group = look.seen[outcome.group_id or ""]
            outcome.result = {
                "status": group.status,
                "images": {c.name: c.image for c in group.containers + group.init_containers},
            }
        deferred -= set(ids)


def _left(todo: list[list[Step]], reason: str) -> list[Outcome]:
    return [Outcome(s, "not-attempted", error=reason) for unit in todo for s in unit]


def _judge(look: _Look, batch: list[ContainerGroup], rule: Rule, event: PushEvent, outcomes: list[Outcome]) -> bool:
    """Act on the failed groups of the batch; True while some are still coming up."""
    now_ms = int(time.time() * 1000)
    settings = rule.rollout
    pending = False
    for group in batch:
        verdict = bm.judge(group, now_ms, settings.timeout_seconds, FAILED)
        if verdict.state == "pending":
            pending = True
        elif verdict.state == "failed":
            outcomes.append(_fail(verdict, rule, event, look.gateway, look.env))
            look.seen[group.id] = _marked_failed(group)
    return pending


def _marked_failed(group: ContainerGroup) -> ContainerGroup:
    """The group as the next look would see it: its mark `failed` (decisions later in this step read it)."""
    mark = bm.mark_of(group.tag_map)
    assert mark is not None
    failed = bm.Mark(mark.started_ms, bm.FAILED, mark.push, mark.rule).value()
    tags = [{"Key": t.key, "Value": t.value} for t in group.tags if t.key != bm.BATCH]
    raw = group.model_dump(by_alias=True)
    raw["Tags"] = [*tags, {"Key": bm.BATCH, "Value": failed}]
    return ContainerGroup.model_validate(raw)


def _fail(verdict: bm.Verdict, rule: Rule, event: PushEvent, gateway: EciGateway, env: Mapping[str, str]) -> Outcome:
    group = verdict.group
    body = bm.rollback_body(group, rule, event, env) if rule.rollout.rollback else None
    action = "UpdateContainerGroup" if body is not None else "TagResources"
    image = next((c.image for c in group.containers), "")
    step = Step(rule.name, action, group.id, body or {"RegionId": rule.target.region}, image, group.id)
    step.event_id = event.event_id
    error = f"not healthy: {verdict.reason}"
    outcome = Outcome(step, "failed", group_id=group.id, health=verdict.reason, error=error)
    if body is None:  # nothing to go back to: record the failure so that it is reported once
        failed = _marked_failed(group).tag_map[bm.BATCH]
        tags = {"Tag": [{"Key": bm.BATCH, "Value": failed}]}
        for _, exc in tag_calls(gateway, "TagResources", rule.target.region, [group.id], tags):
            outcome.error = f"{error}; its mark could not be written: {exc.one_line()}"
        return outcome
    refused = roll_back(gateway, outcome, "UpdateContainerGroup", body, found_by="a later step")
    if refused is not None:
        outcome.code = refused.code
    return outcome


def _start(look: _Look, batch: list[list[Step]], rule: Rule, push: str, outcomes: list[Outcome]) -> list[Outcome]:
    """Start one batch: the groups whose marks fit are changed and left to a later look; the others
    run the waiting rollout. Returns the outcomes of the groups started."""
    mark = bm.Mark(int(time.time() * 1000), bm.STARTED, push, rule.name)
    marked: list[list[Step]] = []
    waited: list[list[Step]] = []
    for unit in batch:
        step = _with_marks(unit, mark, rule, look.seen)
        (marked if step is not None else waited).append(unit if step is None else [step, *unit[1:]])
    firsts = call_all(look.gateway, [unit[0] for unit in marked])
    _record(look.gateway, firsts)  # a restart's tracking tags, as the waiting rollout writes them
    for outcome in firsts:
        if outcome.status == "applied":
            outcome.health = "pending"
    outcomes.extend(firsts)
    if waited:
        outcomes.extend(_rollout(waited, look.gateway, rule.rollout, look.clock))
    return [o for o in firsts if o.status == "applied" and o.group_id]


def _with_marks(unit: list[Step], mark: bm.Mark, rule: Rule, seen: dict[str, ContainerGroup]) -> Step | None:
    """The unit's first step carrying the batch marks; None when they do not fit (or it is no in-place change)."""
    step = unit[0]
    group = seen.get(step.group_id or "")
    if step.action not in STEPPED or len(unit) > 1 or group is None:
        return None
    # No undo where the planner plans no rollback (the image it replaces is not a valid reference).
    can_undo = step.action == "UpdateContainerGroup" and step.rollback is not None and rule.rollout.rollback
    undo = bm.undo_value(step.previous) if can_undo and _images_only(step.rollback) else None
    if step.action == "UpdateContainerGroup":
        if "Tag" not in step.body or (undo is None and can_undo):
            return None  # the waiting rollout, with the planner's own rollback
        tags = bm.with_marks(step.body["Tag"], mark, undo)
        if tags is None:
            return None
        return _copy(step, body={**step.body, "Tag": tags})
    record = {**step.record, bm.BATCH: mark.value()}
    if len(set(group.tag_map) | set(record)) > 20:
        return None
    return _copy(step, record=record)


def _images_only(rollback: Mapping[str, Any] | None) -> bool:
    """Whether the rollback puts back images only, which is all the undo tag can hold: not the
    ImagePullPolicy a same-tag re-push set to Always, nor a whole container spec (update.containers: full)."""
    entries = [c for section in ("Container", "InitContainer") for c in (rollback or {}).get(section) or []]
    return all(set(c) <= {"Name", "Image"} for c in entries)


def _copy(step: Step, **changes: Any) -> Step:
    from dataclasses import replace

    return replace(step, **changes)


def _refresh(gateway: EciGateway, region: str, ids: list[str], seen: dict[str, ContainerGroup], rule: str) -> bool:
    """One describe of the batch just started (a batch healthy at once needs no later step). False
    when it could not be read, or does not show every started group in the rule's current batch."""
    try:
        for group in gateway.describe(region, ids=ids):
            seen[group.id] = group
    except EciApiError as exc:  # the next step looks again
        log_event("health.describe_failed", code=exc.code)
        return False
    return set(ids) <= {g.id for g in bm.current_batch((seen[i] for i in ids if i in seen), rule)}
