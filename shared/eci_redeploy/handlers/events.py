"""The EventBridge function (ACR Enterprise Edition pushes) and the worker the webhook hands off to.

Both are invoked asynchronously: a retryable failure raises so that the platform retries; bad input
is logged and acknowledged, because a retry cannot fix it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..adapters import decode_json, parse_payload
from ..errors import EciRedeployError, InputError
from ..log import log_event
from ..settings import Settings
from . import common


def handle_push(event: bytes, context: Any, *, default_rules: Path) -> dict[str, Any]:
    env = common.environment()
    try:
        settings = Settings.from_env(env, default_rules=default_rules)
        if b"cr:Artifact:S" in event:  # ScanCompleted / SigningCompleted: evidence for the gates
            result = _gate_events(event, settings, env, context)
            if result is not None:
                return result
        parsed = parse_payload(event, source="eventbridge")
        rules = common.rules_for(settings.rules_path)
        return _run(parsed, rules, env, context, dry_run=False)
    except InputError as exc:
        log_event("input.rejected", function="push", error=exc.one_line(), request_id=common.request_id(context))
        return {"ok": False, "error": exc.one_line()}
    except common.RetryLater:
        raise
    except EciRedeployError as exc:
        log_event("failed", function="push", error=exc.one_line(), request_id=common.request_id(context))
        return {"ok": False, "error": exc.one_line()}


def handle_work(event: bytes, context: Any, *, default_rules: Path, gateway: Any = None) -> dict[str, Any]:
    from ..work import WorkOrder, is_work_order  # only the worker needs the hand-off models

    env = common.environment()
    try:
        settings = Settings.from_env(env, default_rules=default_rules)
        raw = decode_json(event, source="work-order")
        if not is_work_order(raw):
            raise InputError("not a work order from the webhook function", source="work-order")
        order = WorkOrder.model_validate(raw)
        rules = common.rules_for(settings.rules_path)
        log_event("work.start", task_id=order.task_id, events=len(order.events))
        result = _run(order.push_events(), rules, env, context, dry_run=order.dry_run, gateway=gateway)
        return {**result, "task_id": order.task_id}
    except common.RetryLater:
        raise
    except EciRedeployError as exc:
        log_event("failed", function="worker", error=exc.one_line(), request_id=common.request_id(context))
        return {"ok": False, "error": exc.one_line()}
    except ValueError as exc:  # pydantic's ValidationError
        log_event("input.rejected", function="worker", error=str(exc).splitlines()[0])
        return {"ok": False, "error": "invalid work order"}


def _gate_events(event: bytes, settings: Settings, env: Any, context: Any) -> dict[str, Any] | None:
    """Scan / signing events release held changes (gates/); None when the payload holds other events too
    (those go the usual way after the gate events are handled)."""
    from ..gates.handlers import on_gate_events, split

    found, only = split(decode_json(event, source="eventbridge"))
    if not found:
        return None
    rules = common.rules_for(settings.rules_path)
    result = on_gate_events(found, rules, common.gateway_factory(env, context), env, context)
    return result if only else None


def _run(parsed: Any, rules: Any, env: Any, context: Any, *, dry_run: bool, gateway: Any = None) -> dict[str, Any]:
    from ..apply import run
    from ..decide import watched

    if not watched(parsed, rules):
        # No rule cares: answer without touching ECI (and without importing its SDK).
        from ..decide import decide

        return {"ok": True, **decide(parsed, rules, [], env).to_json()}
    report = run(parsed, rules, gateway or common.gateway_factory(env, context), env, dry_run=dry_run)
    common.raise_if_retryable(report)
    return {"ok": not report.failed, **report.to_json()}
