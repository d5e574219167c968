"""Carry a plan out through the gateway and report what happened (a dry run is shown by
execution/executor.py instead); observe the container groups a plan needs. pipeline.py adds the
decision and the gates on top (gates/ use these directly, so they live below both)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..clients.eci import EciGateway
from ..clients.eci_model import ContainerGroup
from ..core.errors import EciApiError
from ..events.adapters import Parsed
from ..planning.decide import push_events
from ..planning.steps import Plan
from ..rules.model import RuleSet
from .rollout import Clock, Outcome, execute


@dataclass
class Report:
    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    decided: Plan | None = None  # the plan before the gates (pipeline.run)
    notes: list[str] = field(default_factory=list)  # the webhook's digest confirmation notes
    next_step: float | None = None  # a rollout in steps: look again in this many seconds (execution/stepper.py)

    @property
    def failed(self) -> bool:
        return any(o.status in ("failed", "rolled-back") for o in self.outcomes)

    @property
    def deferred(self) -> bool:
        return bool(self.plan.deferred)

    def to_json(self) -> dict[str, Any]:
        body = self.plan.to_json()
        if self.dry_run:
            body["dry_run"] = True
            return body
        body["actions"] = [o.to_json() for o in self.outcomes]
        body["seconds"] = round(self.seconds, 3)
        return body


@dataclass(frozen=True)
class Stepwise:
    """What a rollout in steps decides from: the groups just described, and the environment (pull
    parameters of a rollback found by a later step)."""

    groups: Sequence[ContainerGroup]
    env: Mapping[str, str]


def observe(
    gateway: EciGateway, parsed: Sequence[Parsed], rules: RuleSet, *, check: bool = True
) -> list[ContainerGroup]:
    """Describe only what the matched rules select: one paged query per distinct selection.
    `check=False` describes every rule watching the repository (the reconcile has no tag yet)."""
    seen: set[tuple[Any, ...]] = set()
    groups: dict[str, ContainerGroup] = {}
    from ..planning.planner import skip_reason

    for event in push_events(parsed):
        for rule in rules.for_repository(event.repository):
            if check and skip_reason(rule, event, rules):
                continue  # the planner will skip it: no need to ask ECI
            region, selector = rule.target.region, rule.target.container_groups
            scaling = rule.target.scaling_group
            if scaling is not None:  # the scaling group, its configuration, its instances (Auto Scaling)
                skey = (region, "asg", scaling.id, scaling.name, tuple(sorted((scaling.tags or {}).items())))
                if skey not in seen:
                    seen.add(skey)
                    from .scaling import observe_scaling

                    for thing in observe_scaling(gateway, region, scaling):
                        groups[thing.id] = thing
                continue
            if selector is None:  # create: look for a group of the template's name
                template = rules.templates.get(rule.name) or {}
                key: tuple[Any, ...] = (region, "name", template.get("ContainerGroupName"))
                query: dict[str, Any] = {"name": template.get("ContainerGroupName")}
            elif selector.ids:
                key, query = (region, "ids", tuple(selector.ids)), {"ids": list(selector.ids)}
            elif selector.name:
                key, query = (region, "name", selector.name), {"name": selector.name}
            else:
                assert selector.tags is not None
                key, query = (region, "tags", tuple(sorted(selector.tags.items()))), {"tags": selector.tags}
            if key in seen:
                continue
            seen.add(key)
            for group in gateway.describe(region, **query):
                groups[group.id] = group
    return list(groups.values())


def apply_plan(
    plan: Plan,
    gateway: EciGateway,
    *,
    rules: RuleSet | None = None,
    clock: Clock | None = None,
    deadline: float | None = None,
    steps: Stepwise | None = None,
) -> Report:
    """Carry a gated plan out (a dry run never gets here: execution/executor.py shows it instead).
    `steps`: carry health-gated rollouts out in steps (execution/stepper.py) instead of waiting."""
    started = time.monotonic()
    report = Report(plan)
    rollouts = {r.name: r.rollout for r in rules} if rules is not None else {}
    prewarms = {r.name: r.pull.prewarm for r in rules if r.pull.prewarm} if rules is not None else {}
    waited = plan
    if steps is not None and rules is not None:
        from .stepper import advance, steppable

        stepped = {r.name for r in rules if steppable(r)}
        done = advance(plan, steps.groups, gateway, rules, steps.env, clock or Clock(), deadline=deadline)
        report.outcomes, report.next_step = done.outcomes, done.again_in
        waited = Plan([s for s in plan.steps if s.rule not in stepped], plan.skipped, plan.events, plan.other_events)
    scaling = [s for s in waited.steps if s.scaling_group]
    if scaling:  # scaling-group rules: their own procedure (execution/scaling.py)
        from dataclasses import replace

        from .scaling import execute_scaling

        waited = replace(waited, steps=[s for s in waited.steps if not s.scaling_group])
        report.outcomes += execute_scaling(scaling, gateway, rollouts, clock or Clock(), deadline)
    report.outcomes += execute(waited, gateway, rollouts, clock, prewarms, deadline=deadline)
    _attach_results(report, gateway)
    from ..report.audit import emit

    emit(report)
    report.seconds = time.monotonic() - started
    return report


def _attach_results(report: Report, gateway: EciGateway) -> None:
    """One describe per region for the groups touched, so the report shows where they ended up."""
    by_region: dict[str, list[Outcome]] = {}
    for outcome in report.outcomes:
        if outcome.result:
            continue  # the health check already saw it
        if (
            outcome.status in ("applied", "rolled-back")
            and outcome.group_id
            and outcome.step.action != "DeleteContainerGroup"
        ):
            by_region.setdefault(outcome.step.region, []).append(outcome)
    for region, outcomes in by_region.items():
        try:
            groups = {
                g.id: g for g in gateway.describe(region, ids=sorted({o.group_id for o in outcomes if o.group_id}))
            }
        except EciApiError:
            continue  # the change went through; the report simply lacks the after-picture
        for outcome in outcomes:
            group = groups.get(outcome.group_id or "")
            if group is not None:
                outcome.result = {
                    "status": group.status,
                    "images": {c.name: c.image for c in group.containers + group.init_containers},
                }
