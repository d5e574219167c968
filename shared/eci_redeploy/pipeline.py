"""The one pipeline every entry point runs: observe -> decide -> gate -> apply -> report.

    parsed events ──► observe (only what matched rules select) ──► [refine: the webhook confirms digests]
        ──► decide (pure: steps with the exact ECI requests) ──► gate (gates/: hold, refuse, record)
        ──► apply (Executor.carry_out: batches, health, rollback; audit) ──► report (notifications)

The push and worker functions, `serve`, `invoke` (through the single writer: `run_serialised`) call
`run`; the webhook's reply and `plan` call `run(..., executor=Preview())` (gated, applied nowhere,
nobody told: execution/executor.py says what each executor does); the reconcile decides from the
registries and enters at `finish` (gate, apply, report). Entry points differ only in their adapter,
in the executor they choose, and in what they do with the report (reply 202, raise `RetryLater` for
a platform retry, print JSON, exit 1). Held changes the gates release go through the same
`Executor.carry_out` (gates/ sit below this module).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .clients.eci_model import ContainerGroup
from .core.errors import EciRedeployError, PlanningError, RetryLater
from .events.adapters import Parsed
from .events.model import PushEvent
from .execution.executor import APPLY, Executor
from .planning.decide import decide, push_events
from .planning.steps import Plan, Skip
from .rules.model import RuleSet

if TYPE_CHECKING:  # the execution modules load when something may be applied, not for an unwatched push
    from .execution.apply import Report

# The webhook's digest confirmation: (parsed, observed groups) -> (parsed, skips, notes).
Refine = Callable[[list[Parsed], list[ContainerGroup]], tuple[list[Parsed], list[Skip], list[str]]]

__all__ = ["finish", "raise_if_retryable", "run", "run_serialised", "unwatched"]


def unwatched(parsed: Sequence[Parsed], rules: RuleSet, env: Mapping[str, str]) -> Plan | None:
    """None when some rule watches these events; otherwise the plan that says why nothing happens,
    made without touching ECI (nor importing its SDK)."""
    from .planning.decide import watched

    if watched(parsed, rules):
        return None
    return decide(parsed, rules, [], env)


def run(
    parsed: Sequence[Parsed],
    rules: RuleSet,
    gateway: Any,
    env: Mapping[str, str],
    *,
    executor: Executor = APPLY,
    groups: Sequence[ContainerGroup] | None = None,
    refine: Refine | None = None,
    gate_context: Any = None,
) -> Report:
    """The whole pipeline for a delivery. `groups`: the observed state when the caller has it (`plan
    --state`), else described through `gateway`. `executor`: applies, or shows (DryRun, Preview:
    `Report.decided` keeps the plan before the gates); with `stepwise` `Report.next_step` says when
    the caller should run the next step."""
    from .execution.apply import observe
    from .planning.decide import watched

    if groups is None:
        groups = observe(gateway, parsed, rules) if watched(parsed, rules) else []
    groups = list(groups)
    notes: list[str] = []
    dropped: list[Skip] = []
    if refine is not None:
        parsed, dropped, notes = refine(list(parsed), groups)
    try:
        plan = decide(parsed, rules, groups, env)
    except PlanningError as exc:
        executor.planning_error(exc, push_events(parsed), rules, env)
        raise
    plan.skipped[:0] = dropped
    report = finish(plan, rules, groups, gateway, env, executor=executor, gate_context=gate_context)
    report.decided, report.notes = plan, notes
    return report


def finish(
    plan: Plan,
    rules: RuleSet,
    groups: Iterable[ContainerGroup],
    gateway: Any,
    env: Mapping[str, str],
    *,
    executor: Executor = APPLY,
    gate_context: Any = None,
) -> Report:
    """From a decided plan on: gate (held and refused changes leave the plan here), apply, report."""
    groups = groups if hasattr(groups, "__len__") else list(groups)  # read twice: gates, steps
    gated = plan
    # gate_plan returns the plan as it is when nothing is gated: the gates stay unimported then.
    if plan.steps and any(rules.gates_for(r) is not None for r in rules):
        from .gates.flow import gate_plan

        gated = gate_plan(plan, rules, groups, gateway, env, context=gate_context, executor=executor)
    return executor.carry_out(gated, rules, gateway, env, groups)


def raise_if_retryable(report: Report, *, stepped: Iterable[str] = ()) -> None:
    """Raise `RetryLater` when a retry can do better: a step failed with an error the ECI client calls
    worth a retry (clients.eci.retry_later), or a change was deferred while another is in flight
    (except for the rules in `stepped`: their rollout looks again in its next step instead)."""
    from .clients.eci import retry_later

    retryable = [o for o in report.outcomes if o.status == "failed" and o.code and retry_later(o.code)]
    if retryable:
        codes = ", ".join(sorted({o.code for o in retryable if o.code}))
        raise RetryLater(f"{len(retryable)} step(s) failed with retryable errors ({codes})")
    handled = set(stepped)
    deferred = [s for s in report.plan.deferred if s.rule not in handled]
    if deferred:
        targets = ", ".join(sorted({s.target or "?" for s in deferred}))
        raise RetryLater(f"deferred while a change is in flight on {targets}")


def run_serialised(
    parsed: Sequence[Any],
    rules: RuleSet,
    gateway: Any,
    env: Mapping[str, str],
    *,
    budget: Any = None,
) -> Report:
    """`invoke`: one payload through the same single writer `serve` uses: the newest push of each rule
    wins inside the payload, a retryable failure is tried again with backoff on a fresh describe, and
    the report of the last try is returned (with the superseded pushes among its skips)."""
    from .execution.handoff import WorkOrder
    from .execution.writer import RetryBudget, Writer

    budget = budget or RetryBudget.from_env(env)
    events = push_events(parsed)
    if not events:
        return run(parsed, rules, gateway, env)  # nothing to write: no queue needed
    others = [p for p in parsed if not isinstance(p, PushEvent)]
    reports: list[Report] = []
    errors: list[EciRedeployError] = []

    def work(order: WorkOrder) -> Any:
        try:
            report = run([*others, *order.push_events()], rules, gateway, env)
        except EciRedeployError as exc:  # bad input or an ECI error outside a step: the caller reports it
            errors.append(exc)
            return None
        reports.append(report)
        raise_if_retryable(report)
        return report

    writer = Writer(work, lambda: rules, budget=budget)
    try:
        writer.submit(WorkOrder.for_events(events))
        writer.drain(budget.max_age + 60)
    finally:
        writer.stop()
    if errors:
        raise errors[-1]
    if not reports:
        raise EciRedeployError(f"the work order did not run: {next(iter(writer.results.values()), 'no result')}")
    report = reports[-1]
    for event, by in writer.dropped:
        report.plan.skipped.append(Skip(None, f"{event.describe()} superseded by the newer push {by.describe()}"))
    return report
