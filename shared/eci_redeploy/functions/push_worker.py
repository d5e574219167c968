"""The EventBridge function (ACR Enterprise Edition pushes) and the worker the webhook hands off to.

Both are invoked asynchronously: a retryable failure raises so that the platform retries; bad input
is logged and acknowledged, because a retry cannot fix it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..core.errors import EciRedeployError, InputError, RetryLater
from ..core.log import log_event
from ..core.settings import Settings, env_number
from ..events.adapters import decode_json, parse_body
from ..events.triggers import eventbridge_events
from ..execution.executor import APPLY, Executor, executor_for
from . import runtime


def handle_push(event: bytes, context: Any, *, default_rules: Path) -> dict[str, Any]:
    env = runtime.environment()
    try:
        settings = Settings.from_env(env, default_rules=default_rules)
        raw = eventbridge_events(event)  # its own trigger's events only
        if b"cr:Artifact:S" in event:  # ScanCompleted / SigningCompleted: evidence for the gates
            result = _gate_events(raw, settings, env, context)
            if result is not None:
                return result
        parsed = parse_body(raw, source="eventbridge")
        _log_rejected(parsed, context)
        rules = runtime.rules_for(settings.rules_path)
        if settings.worker_function:  # the worker is the single writer: hand the pushes to it
            return hand_off(parsed, rules, settings, env, context)
        return _through_pipeline(parsed, rules, env, context, APPLY)
    except InputError as exc:
        log_event("input.rejected", function="push", error=exc.one_line(), request_id=runtime.request_id(context))
        return {"ok": False, "error": exc.one_line()}
    except RetryLater:
        raise
    except EciRedeployError as exc:
        log_event("failed", function="push", error=exc.one_line(), request_id=runtime.request_id(context))
        return {"ok": False, "error": exc.one_line()}


def _log_rejected(parsed: Any, context: Any) -> None:
    """A batch whose other events proceed: the rejected ones are logged (and in the result), never lost."""
    from ..events.model import RejectedEvent

    rejected = [p.summary() for p in parsed if isinstance(p, RejectedEvent)]
    if rejected:
        log_event("input.rejected", function="push", events=rejected, request_id=runtime.request_id(context))


def handle_work(
    event: bytes, context: Any, *, default_rules: Path, gateway: Any = None, dispatcher: Any = None
) -> dict[str, Any]:
    """`dispatcher`: where the rollout's next step goes (serve: its writer); default the worker function."""
    from ..execution.handoff import WorkOrder, is_work_order  # only the worker needs the hand-off models

    env = runtime.environment()
    try:
        settings = Settings.from_env(env, default_rules=default_rules)
        raw = decode_json(event, source="work-order")
        if not is_work_order(raw):
            raise InputError("not a work order from the webhook function", source="work-order")
        order = WorkOrder.model_validate(raw)
        rules = runtime.rules_for(settings.rules_path)
        release = order.gates is not None
        log_event("work.start", task_id=order.task_id, events=len(order.events), release=release, step=order.step)
        result = _through_pipeline(
            order.push_events(),
            rules,
            env,
            context,
            executor_for(order.dry_run, deadline=_deadline(env), stepwise=steps_enabled(env)),
            gateway=gateway,
            continuation=lambda delay: _continue(order, settings, env, context, delay, dispatcher),
            release=order if order.gates is not None else None,
        )
        return {**result, "task_id": order.task_id}
    except RetryLater:
        raise
    except EciRedeployError as exc:
        log_event("failed", function="worker", error=exc.one_line(), request_id=runtime.request_id(context))
        return {"ok": False, "error": exc.one_line()}
    except ValueError as exc:  # pydantic's ValidationError
        log_event("input.rejected", function="worker", error=str(exc).splitlines()[0])
        return {"ok": False, "error": "invalid work order"}


def steps_enabled(env: Any) -> bool:
    """Health-gated rollouts in steps (default), or waited for in the worker (ECI_REDEPLOY_WORKER_STEPS=0)."""
    return str(env.get("ECI_REDEPLOY_WORKER_STEPS", "1")).strip().lower() not in ("0", "false", "no")


def _gate_events(raw: Any, settings: Settings, env: Any, context: Any) -> dict[str, Any] | None:
    """Scan / signing events release held changes (gates/); None when the payload holds other events too
    (those go the usual way after the gate events are handled). With a worker function the release is
    handed to it with the evidence the events bring (the single writer records it and applies what
    goes: nothing is written here); the hand-off is salted with the events' ids."""
    from .gate_endpoints import on_gate_events, split

    found, only = split(raw)
    if not found:
        return None
    rules = runtime.rules_for(settings.rules_path)
    release_to = None
    if settings.worker_function:
        ids = ",".join(sorted(str(e.get("id")) for e in found))
        release_to = lambda ev, work: hand_off(ev, rules, settings, env, context, salt="gate:" + ids, gates=work)  # noqa: E731
    result = on_gate_events(found, rules, runtime.gateway_factory(env, context), env, context, hand_off=release_to)
    return result if only else None


def hand_off(
    parsed: Any, rules: Any, settings: Settings, env: Any, context: Any, *, salt: str = "", gates: Any = None
) -> dict[str, Any]:
    """Queue the pushes for the worker (FC: an async invocation of a function that runs one at a time)
    instead of changing ECI here, so that concurrent deliveries cannot race. Decisions are the
    worker's, against a fresh describe; a failed hand-off raises so that the platform retries.
    `gates`: the pushes are held changes to release (execution.handoff.GateWork)."""
    from ..execution.handoff import WorkOrder
    from ..pipeline import unwatched
    from ..planning.decide import push_events

    events = push_events(parsed)
    nothing = unwatched(parsed, rules, env)
    if nothing is not None:
        return {"ok": True, **nothing.to_json()}
    order = WorkOrder.for_events(events, salt=salt, gates=gates)
    try:
        done = runtime.dispatcher_factory(settings, env, context).dispatch(order)
    except EciRedeployError as exc:
        raise RetryLater(f"hand-off to the worker failed: {exc.one_line()}") from None
    log_event("work.handed_off", task_id=done.task_id, via=done.via, events=[e.summary() for e in events])
    return {"ok": True, "accepted": True, "task_id": done.task_id, "via": done.via}


def _deadline(env: Any) -> float | None:
    """When this invocation's time slice ends (ECI_REDEPLOY_WORKER_SLICE_SECONDS; unset: never)."""
    from ..core.errors import ConfigError

    raw = env.get("ECI_REDEPLOY_WORKER_SLICE_SECONDS")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(f"ECI_REDEPLOY_WORKER_SLICE_SECONDS must be a number of seconds, not {raw!r}") from None
    return time.monotonic() + max(0.0, seconds)


def _continue(order: Any, settings: Settings, env: Any, context: Any, delay: float, dispatcher: Any) -> dict[str, Any]:
    """The rollout's next step (or the rest of a spent time slice), as a new async invocation of the
    worker `delay` seconds from now: it queues behind the work that arrived meanwhile instead of
    holding the queue, and decides again on a fresh describe. Its task id derives from this order's,
    so a retried invocation of this order (or this order delivered twice) hands it off once."""
    from ..core.errors import ConfigError
    from ..core.idempotency import task_id

    limit = env_number(env, "ECI_REDEPLOY_WORKER_MAX_STEPS", 1000, int, least=1)
    if order.step + 1 > limit:
        log_event("work.gave_up", task_id=order.task_id, reason=f"rollout still unfinished after {limit} steps")
        return {"gave_up": f"rollout still unfinished after {limit} steps"}
    follow_up = order.model_copy(
        update={"task_id": task_id(order.push_events(), salt=f"after:{order.task_id}"), "step": order.step + 1}
    )
    seconds = round(min(3600.0, max(0.0, delay)), 3)  # FC: whole seconds (execution.dispatch.whole_seconds)
    try:
        target = dispatcher or runtime.dispatcher_factory(settings, env, context)
        done = target.dispatch(follow_up, delay=seconds)
    except ConfigError:
        raise
    except EciRedeployError as exc:
        # No way to queue the rest: let the platform's retry (or serve's writer) run the order again.
        raise RetryLater(f"rollout continues; hand-off failed: {exc.one_line()}") from None
    log_event("work.continued", task_id=order.task_id, next_task_id=done.task_id, delay=seconds, step=follow_up.step)
    return {"task_id": done.task_id, "via": done.via, "delay": seconds}


def _through_pipeline(
    parsed: Any,
    rules: Any,
    env: Any,
    context: Any,
    executor: Executor,
    *,
    gateway: Any = None,
    continuation: Any = None,
    release: Any = None,
) -> dict[str, Any]:
    """The pipeline on the pushes; for a release order (`release`: the WorkOrder) the gates' release of
    the held changes it names, with the evidence and approval it brings (functions.gate_endpoints.run_order).
    When none of them is held any more (released, replaced, refused, or dropped by a restart whose
    rollout this order continues) the held pushes go through the pipeline like any push, gated with
    the evidence and approval the order brings (flow: an approval counts for the hold it was given to,
    here the one the pushes replay)."""
    from ..pipeline import raise_if_retryable, run, unwatched

    nothing = unwatched(parsed, rules, env)  # no rule cares: answered without touching ECI
    if nothing is not None:
        return {"ok": True, **nothing.to_json()}
    gateway = gateway or runtime.gateway_factory(env, context)
    report = gates = None
    if release is not None:
        from .gate_endpoints import order_context, run_order

        gates = order_context(release, env, context)
        report = run_order(release, rules, gateway, env, context, executor=executor, gate_context=gates)
    if report is None:  # gated with what a release order brings: its holds may be gone, not its evidence
        report = run(parsed, rules, gateway, env, executor=executor, gate_context=gates)
    from ..execution.stepper import steppable

    raise_if_retryable(report, stepped=[r.name for r in rules if steppable(r)] if executor.stepwise else ())
    body = {"ok": not report.failed, **report.to_json()}
    from ..execution.rollout import CONTINUED

    delay = report.next_step
    if any(o.error == CONTINUED for o in report.outcomes):
        delay = 0.0
    if continuation is not None and delay is not None:
        body["continued"] = continuation(delay)
    return body
