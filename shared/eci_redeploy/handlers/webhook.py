"""The HTTP-trigger function: registry and CI webhooks.

Authenticate, read the body, plan (so the caller sees what will happen), then hand the events to the
worker asynchronously with a task id derived from them and reply 202 at once. Nothing is deployed
from a request that fails any check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..adapters import MAX_BODY, MAX_ENVELOPE, decode_json, detect, fc_http, parse_body
from ..adapters.fc_http import HttpRequest
from ..confirm import UNSIGNED_SOURCES, confirm
from ..errors import AuthenticationError, ConfigError, EciRedeployError, InputError, PlanningError
from ..log import log_event
from ..pushevent import PushEvent
from ..settings import Settings
from ..webhook_auth import ReplayGuard, check_hmac, check_token
from ..work import WorkOrder
from . import common


def client_factory(env: Any, context: Any, **limits: Any) -> Any:
    """Registry clients for confirming unsigned payloads (tests point this at a local registry)."""
    return common.registry_clients(env, context, **limits)


GUARD = ReplayGuard()


def reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "isBase64Encoded": False,
        "body": json.dumps(body, default=str),
    }


def handle(
    event: bytes | dict[str, Any], context: Any, *, default_rules: Path, dispatcher: Any = None, gateway: Any = None
) -> dict[str, Any]:
    env = common.environment()
    rid = common.request_id(context)
    try:
        raw = decode_json(event, source="http-event", limit=MAX_ENVELOPE) if not isinstance(event, dict) else event
        if not fc_http.looks_like(raw):
            raise InputError("not a Function Compute HTTP trigger event", source="http-event")
        request = fc_http.parse(raw)
    except InputError as exc:
        return reply(400, {"error": exc.one_line()})
    if request.path.rstrip("/") == "/status" or request.path.startswith("/approvals/"):
        return _gates_route(request, env, context, default_rules, dispatcher, gateway)
    if request.method != "POST":
        return reply(405, {"error": "use POST"})
    if len(request.body) > MAX_BODY:
        log_event("webhook.rejected", status=413, size=len(request.body), request_id=rid)
        return reply(413, {"error": f"body of {len(request.body)} bytes is over the {MAX_BODY}-byte limit"})
    try:
        settings = Settings.from_env(env, default_rules=default_rules)
    except ConfigError as exc:
        return reply(500, {"error": exc.one_line()})
    try:
        body = decode_json(request.body, source="body")
        _authenticate(request, body, settings)
        parsed = parse_body(body, source="body")
    except AuthenticationError as exc:
        log_event(
            "webhook.rejected",
            status=401,
            reason=exc.one_line(),
            request_id=rid,
            source_ip=raw.get("requestContext", {}).get("http", {}).get("sourceIp"),
        )
        return reply(401, {"error": exc.one_line()})
    except InputError as exc:
        log_event("webhook.rejected", status=400, reason=exc.one_line(), request_id=rid)
        return reply(400, {"error": exc.one_line()})
    dry_run = request.query.get("dry_run", "").lower() in ("1", "true", "yes") or (
        isinstance(body, dict) and body.get("dry_run") is True
    )
    try:
        return _plan_and_dispatch(parsed, settings, env, context, dispatcher, gateway, dry_run=dry_run)
    except PlanningError as exc:
        return reply(422, {"error": exc.one_line()})
    except InputError as exc:
        return reply(400, {"error": exc.one_line()})
    except EciRedeployError as exc:
        log_event("webhook.failed", error=exc.one_line(), request_id=rid)
        return reply(503, {"error": exc.one_line()})


def _gates_route(
    request: HttpRequest, env: Any, context: Any, default_rules: Path, dispatcher: Any, gateway: Any
) -> dict[str, Any]:
    """GET /status and POST /approvals/<id> (gates/handlers.py)."""
    from ..gates.handlers import http_route

    try:
        settings = Settings.from_env(env, default_rules=default_rules)
        rules = common.rules_for(settings.rules_path)
    except EciRedeployError as exc:
        return reply(500, {"error": exc.one_line()})
    gateway = gateway or common.gateway_factory(env, context)
    dispatcher = dispatcher or common.dispatcher_factory(settings, env, context)
    return http_route(request, settings, rules, env, gateway, dispatcher)


def _authenticate(request: HttpRequest, body: Any, settings: Settings) -> None:
    if detect.generic(body):
        check_hmac(request, settings.hmac_secret, GUARD, window=settings.replay_window_seconds)
    else:
        check_token(request, settings.webhook_token)


def _plan_and_dispatch(
    parsed: list[Any], settings: Settings, env: Any, context: Any, dispatcher: Any, gateway: Any, *, dry_run: bool
) -> dict[str, Any]:
    from ..decide import decide, push_events, watched

    rules = common.rules_for(settings.rules_path)
    events = push_events(parsed)
    if not watched(parsed, rules):
        return reply(200, {"accepted": False, **decide(parsed, rules, [], env).to_json()})
    from ..apply import observe

    gateway = gateway or common.gateway_factory(env, context)
    groups = observe(gateway, parsed, rules)
    notes: list[str] = []
    dropped: list[Any] = []
    if env.get("ECI_REDEPLOY_CONFIRM_DIGESTS", "1") != "0":
        confirmation = confirm(
            events, rules, groups, client_factory(env, context, max_requests=6, timeout=3.0, max_wait_seconds=2.0)
        )
        events, notes, dropped = confirmation.events, confirmation.notes, confirmation.dropped
        parsed = [p for p in parsed if not isinstance(p, PushEvent)] + list(events)
    else:
        notes = _trust_notes(events)
    plan = decide(parsed, rules, groups, env)
    plan.skipped[:0] = dropped
    from ..gates.flow import gate_plan

    # The reply shows what the gates hold (nothing recorded here: the worker records and applies).
    shown = gate_plan(plan, rules, groups, gateway, env, dry_run=True)
    summary = shown.to_json()
    summary["actions"] = [
        {"rule": s.rule, "action": s.action, "target": s.target, "image": s.image} for s in shown.steps
    ]
    if notes:
        summary["notes"] = notes
    if dry_run or not plan.steps:
        return reply(200, {"accepted": False, "dry_run": dry_run, **summary})
    order = WorkOrder.for_events(events)
    dispatcher = dispatcher or common.dispatcher_factory(settings, env, context)
    done = dispatcher.dispatch(order)
    log_event(
        "webhook.dispatched",
        task_id=done.task_id,
        via=done.via,
        request_id=done.request_id,
        events=[e.summary() for e in events],
    )
    return reply(202, {"accepted": True, "task_id": done.task_id, **summary})


def _trust_notes(events: list[PushEvent]) -> list[str]:
    return [
        f"{e.describe()}: {e.source} payloads are unsigned; the digest was not confirmed with the registry"
        for e in events
        if e.source in UNSIGNED_SOURCES and not e.signed
    ]
