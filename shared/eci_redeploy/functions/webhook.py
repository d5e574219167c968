"""The HTTP-trigger function: registry and CI webhooks.

Authenticate, read the body, plan (so the caller sees what will happen), then hand the events to the
worker asynchronously with a task id derived from them and reply 202 at once. Nothing is deployed
from a request that fails any check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import AuthenticationError, ConfigError, EciRedeployError, InputError, PlanningError
from ..core.log import log_event
from ..core.settings import Settings
from ..events.adapters import MAX_BODY, MAX_ENVELOPE, decode_json, fc_http, parse_body, rejections
from ..events.adapters.fc_http import HttpRequest, reply
from ..events.auth import ReplayGuard, authenticate, payload_kinds
from ..events.model import PushEvent, RejectedEvent
from ..execution.handoff import WorkOrder
from ..planning.confirm import UNSIGNED_SOURCES, confirm
from . import runtime as common


def client_factory(env: Any, context: Any, **limits: Any) -> Any:
    """Registry clients for confirming unsigned payloads (tests point this at a local registry)."""
    return common.registry_clients(env, context, **limits)


GUARD = ReplayGuard()


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
    if request.method == "GET" and request.path.rstrip("/") in ("", "/rules"):
        return _page(request, env, context, default_rules, gateway)
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
        body, parsed = _authenticated_body(request, settings)
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
    if any(isinstance(p, RejectedEvent) for p in parsed) and not any(isinstance(p, PushEvent) for p in parsed):
        # Part of the delivery was read, but no push in it: nothing was accepted (the reply lists each).
        reason = f"body: no push in the delivery was accepted: {rejections(parsed)}"
        log_event("webhook.rejected", status=400, reason=reason, request_id=rid)
        return reply(400, {"error": reason, "events": [p.summary() for p in parsed if hasattr(p, "summary")]})
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
    answer = http_route(request, settings, rules, env, gateway, dispatcher)
    form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if form and request.method == "POST" and answer["statusCode"] == 202:
        # The page's Approve button (functions/page.py): back to the page, with the token it came with.
        from urllib.parse import quote

        from ..events.auth import presented_token

        back = "/?token=" + quote(presented_token(request) or "", safe="")
        return {"statusCode": 303, "headers": {"Location": back, "Referrer-Policy": "no-referrer"}, "body": ""}
    return answer


def _page(request: HttpRequest, env: Any, context: Any, default_rules: Path, gateway: Any) -> dict[str, Any]:
    """GET /: the operator's page (functions/page.py); GET /rules: what it lists, as `list --json` prints
    it. Behind the viewer or an approver token."""
    from . import page

    try:
        settings = Settings.from_env(env, default_rules=default_rules)
        rules = common.rules_for(settings.rules_path)
    except EciRedeployError as exc:
        return reply(500, {"error": exc.one_line()})
    gateway = gateway or common.gateway_factory(env, context)
    limits = {"max_requests": 20, "timeout": 3.0, "max_wait_seconds": 2.0}  # a page must answer soon
    return page.handle(request, settings, rules, env, gateway, client_factory(env, context, **limits))


def _authenticate(request: HttpRequest, kinds: frozenset[str] | None, settings: Settings) -> None:
    authenticate(
        request,
        kinds,
        token=settings.webhook_token,
        hmac_secret=settings.hmac_secret,
        guard=GUARD,
        window=settings.replay_window_seconds,
    )


# What reaches this function's URL: registry webhooks and the signed CI call. ACR EventBridge events
# go to the push function (as the webhook they would arrive token-only yet count as platform-signed);
# timer events go to the timer.
NOT_WEBHOOK_KINDS = {
    "acr-eventbridge": ("EventBridge CloudEvents", "the push function"),
    "TimerTick": ("timer events", "the timer function"),
}


def _authenticated_body(request: HttpRequest, settings: Settings) -> tuple[Any, list[Any]]:
    """Parse first, then authenticate by what the body holds (see events/auth.py, authenticate); an
    unreadable body is authenticated before its 400 is given."""
    try:
        body = decode_json(request.body, source="body")
        parsed = parse_body(body, source="body", content_type=request.headers.get("content-type"))
    except InputError:
        _authenticate(request, None, settings)
        raise
    kinds = payload_kinds(parsed)
    _authenticate(request, kinds, settings)
    foreign = sorted(kinds & NOT_WEBHOOK_KINDS.keys())
    if foreign:
        what, where = NOT_WEBHOOK_KINDS[foreign[0]]
        raise InputError(f"{what} are not taken by the webhook: send them to {where}", source="body")
    return body, parsed


def _plan_and_dispatch(
    parsed: list[Any], settings: Settings, env: Any, context: Any, dispatcher: Any, gateway: Any, *, dry_run: bool
) -> dict[str, Any]:
    from ..pipeline import run, unwatched
    from ..planning.decide import push_events

    rules = common.rules_for(settings.rules_path)
    # 202 as soon as part of a delivery was rejected and the rest accepted: the sender must not read a
    # plain 200 as "all of it went through" (the reply's `events` names each rejected one).
    done_status = 202 if any(isinstance(p, RejectedEvent) for p in parsed) else 200
    nothing = unwatched(parsed, rules, env)
    if nothing is not None:
        return reply(done_status, {"accepted": False, **nothing.to_json()})
    events = push_events(parsed)

    def refine(parsed: list[Any], groups: list[Any]) -> tuple[list[Any], list[Any], list[str]]:
        nonlocal events
        if env.get("ECI_REDEPLOY_CONFIRM_DIGESTS", "1") == "0":
            return parsed, [], _trust_notes(events)
        limits = {"max_requests": 6, "timeout": 3.0, "max_wait_seconds": 2.0}
        confirmation = confirm(events, rules, groups, client_factory(env, context, **limits))
        events = confirmation.events
        parsed = [p for p in parsed if not isinstance(p, PushEvent)] + list(events)
        return parsed, confirmation.dropped, confirmation.notes

    # The reply shows what the gates hold (nothing recorded here: the worker records and applies).
    gateway = gateway or common.gateway_factory(env, context)
    report = run(parsed, rules, gateway, env, mode="preview", refine=refine)
    shown = report.plan
    summary = shown.to_json()
    summary["actions"] = [
        {"rule": s.rule, "action": s.action, "target": s.target, "image": s.image} for s in shown.steps
    ]
    if report.notes:
        summary["notes"] = report.notes
    handed = [] if dry_run else _for_the_writer(events, rules)
    if not handed:
        return reply(200 if dry_run else done_status, {"accepted": False, "dry_run": dry_run, **summary})
    order = WorkOrder.for_events(handed)
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


def _for_the_writer(events: list[PushEvent], rules: Any) -> list[PushEvent]:
    """Every push some rule acts on goes to the single writer, even when the preview found nothing to
    change: whether a group already runs it, or runs something newer, is decided there against a fresh
    describe. Deciding it here would race the writer: after A, B (still rolling out), A again, the
    preview sees A running and a 200 here would leave the groups on B.

    Only the pushes a rule still acts on after coalescing are sent (FC caps an async payload at 128 KB;
    a 256 KiB envelope of pushes must not become a hand-off that cannot be sent)."""
    from ..planning.coalesce import coalesce
    from ..planning.planner import skip_reason

    acted_on = [e for e in events if any(skip_reason(r, e, rules) is None for r in rules.for_repository(e.repository))]
    if len(acted_on) < 2:
        return acted_on
    merged = coalesce(acted_on, rules)
    return [e for e, only in zip(acted_on, merged.only, strict=True) if only != []]


def _trust_notes(events: list[PushEvent]) -> list[str]:
    return [
        f"{e.describe()}: {e.source} payloads are unsigned; the digest was not confirmed with the registry"
        for e in events
        if e.source in UNSIGNED_SOURCES and not e.signed
    ]
