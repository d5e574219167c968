"""One deliver-and-apply pass: observe, decide, gate (gates/), then apply (execution.py) and notify."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .adapters import Parsed
from .decide import decide, push_events
from .execution import Report, apply_plan, observe
from .gateway import EciGateway
from .rollout import Clock
from .rules import RuleSet

__all__ = ["Report", "apply_plan", "observe", "run"]


def run(
    parsed: Sequence[Parsed],
    rules: RuleSet,
    gateway: EciGateway,
    env: Mapping[str, str],
    *,
    dry_run: bool = False,
    clock: Clock | None = None,
    deadline: float | None = None,
    gate_context: Any = None,
) -> Report:
    """Observe only what matched rules need, plan, then apply (or not, for a dry run). `deadline`: see
    rollout.execute."""
    from .decide import watched
    from .errors import PlanningError
    from .notify import messages_for, planning_error_message, send

    groups = observe(gateway, parsed, rules) if watched(parsed, rules) else []
    try:
        plan = decide(parsed, rules, groups, env)
    except PlanningError as exc:
        events = push_events(parsed)
        send([planning_error_message(exc.rule, exc.one_line(), events[0] if events else None)], rules, env)
        raise
    from .gates.flow import gate_plan  # held and refused changes leave the plan here (gates/)

    plan = gate_plan(plan, rules, groups, gateway, env, context=gate_context, dry_run=dry_run)
    report = apply_plan(plan, gateway, dry_run=dry_run, rules=rules, clock=clock, deadline=deadline)
    if not dry_run:
        send(messages_for(report), rules, env)
    return report
