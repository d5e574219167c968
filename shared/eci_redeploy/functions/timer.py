"""The timer function: one reconcile per tick, against the real ECI API and the registries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import EciRedeployError
from ..core.log import log_event
from ..core.settings import Settings
from ..events.adapters import parse_body
from ..events.model import TimerTick
from ..events.triggers import timer_event
from ..execution.executor import APPLY, DryRun, Executor
from . import runtime


def handle_tick(event: bytes, context: Any, *, default_rules: Path, gateway: Any = None) -> dict[str, Any]:
    env = runtime.environment()
    try:
        settings = Settings.from_env(env, default_rules=default_rules)
        ticks = [p for p in parse_body(timer_event(event), source="timer") if isinstance(p, TimerTick)]
        if not ticks:
            return {"ok": False, "error": "not a timer event"}
        rules = runtime.rules_for(settings.rules_path)
        if settings.worker_function:  # decide here, change nothing: the worker is the single writer
            return _hand_off(rules, settings, env, context, gateway, ticks[0])
        result = run_reconcile(rules, env, context, gateway=gateway)
    except EciRedeployError as exc:
        log_event("failed", function="timer", error=exc.one_line(), request_id=runtime.request_id(context))
        return {"ok": False, "error": exc.one_line()}
    log_event(
        "reconcile.done",
        trigger=ticks[0].trigger_name,
        changed=len(result.report.outcomes),
        wanted=result.wanted,
        registry_requests=result.registry_requests,
    )
    return {"ok": not result.report.failed and not result.problems, **result.to_json()}


def _hand_off(rules: Any, settings: Settings, env: Any, context: Any, gateway: Any, tick: TimerTick) -> dict[str, Any]:
    """Ask the registries what each rule wants (a dry run against ECI), then hand the rules that have
    something to change, or a change deferred, to the worker, which decides again on a fresh describe.
    Held changes whose gates opened, or whose hold the worker would change, are handed over first
    (gates/: nothing is written here); rules with a change the gates hold are handed over too, so that
    the worker records the hold."""
    from ..gates.flow import is_held
    from .gate_endpoints import run_release
    from .push_worker import hand_off

    # Salted with the tick: FC must not drop a later tick's hand-off as a duplicate of this one.
    tick_id = tick.trigger_time.isoformat() if tick.trigger_time else str(runtime.request_id(context))
    gateway = gateway or runtime.gateway_factory(env, context)
    released = run_release(
        rules,
        gateway,
        env,
        context,
        hand_off=lambda ev, work: hand_off(ev, rules, settings, env, context, salt=tick_id, gates=work),
    )
    result = run_reconcile(rules, env, context, gateway=gateway, executor=DryRun())
    result.released = released
    tell_problems(result, rules, env)  # decided here, so told here: the worker only sees what drifted
    plan = result.report.plan
    pending = {s.rule for s in plan.steps} | {s.rule for s in plan.deferred if s.rule}
    pending |= {s.rule for s in plan.skipped if s.rule and is_held(s)}
    events = [e for e in result.events if e.only_rule in pending]
    events += _recoveries(rules, plan, events, tick_id)
    body = result.to_json()
    if events:
        body["handed_off"] = hand_off(events, rules, settings, env, context, salt=tick_id)
    log_event("reconcile.decided", trigger=tick.trigger_name, pending=sorted(pending), wanted=result.wanted)
    return {"ok": not result.problems, **body}


def run_reconcile(
    rules: Any,
    env: Any,
    context: Any = None,
    *,
    gateway: Any = None,
    executor: Executor = APPLY,
    gate_context: Any = None,
) -> Any:
    """Release held changes whose gates opened (not in a dry run), then reconcile; the problems told."""
    from ..operations.reconcile import reconcile
    from .gate_endpoints import run_release

    gateway = gateway or runtime.gateway_factory(env, context)
    # Held changes whose gates opened go first (gates/); the reconcile then sees them in flight.
    released = executor.effect(run_release, rules, gateway, env, context, gate_context=gate_context)
    clients = runtime.registry_clients(
        env, context, max_requests=int(env.get("ECI_REDEPLOY_REGISTRY_MAX_REQUESTS", "50"))
    )
    spread = float(env.get("ECI_REDEPLOY_RECONCILE_SPREAD_SECONDS", "0"))
    result = reconcile(
        rules, gateway, clients, env, spread_seconds=spread, executor=executor, gate_context=gate_context
    )
    result.released = released
    executor.effect(tell_problems, result, rules, env)
    return result


def _recoveries(rules: Any, plan: Any, events: list[Any], tick_id: str) -> list[Any]:
    """A recovery order for each rule whose scaling group a dead worker left suspended and that has no
    other event to hand over (its registry did not answer): the worker puts the group back. (With an
    event, the worker's plan for it starts with the same recovery.)"""
    from ..events.model import PushEvent
    from ..planning.steps import RECOVERY_SOURCE

    handed = {e.only_rule for e in events}
    out = []
    for step in plan.steps:
        rule = rules.rule(step.rule)
        if step.phase == "recover" and step.rule not in handed and rule is not None:
            handed.add(step.rule)
            out.append(
                PushEvent(
                    rule.source.repository,
                    None,
                    None,
                    RECOVERY_SOURCE,
                    f"recover:{step.rule}:{tick_id}",
                    signed=True,
                    only_rule=step.rule,
                )
            )
    return out


def tell_problems(result: Any, rules: Any, env: Any) -> None:
    """A timer that cannot work must not stay silent: each problem logged and sent to the rule's channels."""
    if not result.problems:
        return
    from ..report.notify import problem_message, send

    for problem in result.problems:
        log_event("reconcile.problem", **problem)
    send([problem_message(p) for p in result.problems], rules, env)
