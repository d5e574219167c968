"""Carry a plan out through the gateway (or show it, for a dry run) and report what happened."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .adapters import Parsed
from .decide import decide, push_events
from .errors import EciApiError
from .gateway import EciGateway
from .log import log_event
from .plan import Plan, Step
from .rules import RuleSet
from .state import ContainerGroup


@dataclass
class Outcome:
    step: Step
    status: str  # applied | failed | not-attempted | dry-run
    request_id: str | None = None
    group_id: str | None = None
    error: str | None = None
    code: str | None = None
    attempts: int = 0
    result: dict[str, Any] = field(default_factory=dict)  # the group after the call: status, images

    def to_json(self) -> dict[str, Any]:
        out = self.step.to_json()
        out.pop("params")
        out.update({"status": self.status, "image": self.step.image})
        for key in ("request_id", "group_id", "error", "code"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.attempts > 1:
            out["attempts"] = self.attempts
        if self.result:
            out["result"] = self.result
        return out


@dataclass
class Report:
    plan: Plan
    outcomes: list[Outcome] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return any(o.status == "failed" for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        body = self.plan.to_json()
        if self.dry_run:
            body["dry_run"] = True
            return body
        body["actions"] = [o.to_json() for o in self.outcomes]
        body["seconds"] = round(self.seconds, 3)
        return body


def observe(
    gateway: EciGateway, parsed: Sequence[Parsed], rules: RuleSet, *, check: bool = True
) -> list[ContainerGroup]:
    """Describe only what the matched rules select: one paged query per distinct selection.
    `check=False` describes every rule watching the repository (the reconcile has no tag yet)."""
    seen: set[tuple[Any, ...]] = set()
    groups: dict[str, ContainerGroup] = {}
    from .planner import skip_reason

    for event in push_events(parsed):
        for rule in rules.for_repository(event.repository):
            if check and skip_reason(rule, event, rules):
                continue  # the planner will skip it: no need to ask ECI
            region, selector = rule.target.region, rule.target.container_groups
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


def apply_plan(plan: Plan, gateway: EciGateway, *, dry_run: bool = False) -> Report:
    started = time.monotonic()
    report = Report(plan, dry_run=dry_run)
    if dry_run:
        report.outcomes = [Outcome(step, "dry-run") for step in plan.steps]
        return report
    succeeded: set[str] = set()
    for step in plan.steps:
        if step.requires and step.requires not in succeeded:
            report.outcomes.append(Outcome(step, "not-attempted", error="the step it depends on did not succeed"))
            continue
        try:
            result = gateway.call(step.action, step.body, target=step.target)
        except EciApiError as exc:
            report.outcomes.append(
                Outcome(
                    step,
                    "failed",
                    request_id=exc.request_id,
                    error=exc.one_line(),
                    code=exc.code,
                    attempts=exc.attempts,
                )
            )
            log_event(
                "step",
                rule=step.rule,
                action=step.action,
                target=step.target,
                outcome="failed",
                code=exc.code,
                request_id=exc.request_id,
            )
            continue
        if step.client_token:
            succeeded.add(step.client_token)
        group_id = result.body.get("ContainerGroupId") or step.group_id
        report.outcomes.append(
            Outcome(step, "applied", request_id=result.request_id, group_id=group_id, attempts=result.attempts)
        )
        log_event(
            "step",
            rule=step.rule,
            action=step.action,
            target=step.target,
            outcome="applied",
            request_id=result.request_id,
            group_id=group_id,
            image=step.image,
        )
    _attach_results(report, gateway)
    report.seconds = time.monotonic() - started
    return report


def _attach_results(report: Report, gateway: EciGateway) -> None:
    """One describe per region for the groups touched, so the report shows where they ended up."""
    by_region: dict[str, list[Outcome]] = {}
    for outcome in report.outcomes:
        if outcome.status == "applied" and outcome.group_id and outcome.step.action != "DeleteContainerGroup":
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


def run(
    parsed: Sequence[Parsed],
    rules: RuleSet,
    gateway: EciGateway,
    env: Mapping[str, str],
    *,
    dry_run: bool = False,
) -> Report:
    """Observe only what matched rules need, plan, then apply (or not, for a dry run)."""
    from .decide import watched

    groups = observe(gateway, parsed, rules) if watched(parsed, rules) else []
    plan = decide(parsed, rules, groups, env)
    return apply_plan(plan, gateway, dry_run=dry_run)
