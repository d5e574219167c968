"""The HTTP-trigger function: registry and CI webhooks.

Authenticate, read the body, plan (so the caller sees what will happen), then hand the events to the
worker asynchronously with a task id derived from them and reply 202 at once. Nothing is deployed
from a request that fails any check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import AuthenticationError, ConfigError, EciRedeployError, InputError, PlanningError
from ..core.log import log_event
from ..core.settings import Settings
from ..events.adapters import MAX_BODY, MAX_ENVELOPE, decode_json, fc_http, parse_body, rejections
from ..events.adapters.fc_http import HttpRequest, reply
from ..events.adapters.traits import traits
from ..events.auth import ReplayGuard, authenticate, payload_kinds
from ..events.model import PushEvent, RejectedEvent
from ..execution.executor import Preview
from ..execution.handoff import WorkOrder
from ..planning.confirm import confirm
from ..report import audit
from . import runtime


def client_factory(env: Any, context: Any, **limits: Any) -> Any:
    """Registry clients for confirming unsigned payloads (tests point this at a local registry)."""
    return runtime.registry_clients(env, context, **limits)


GUARD = ReplayGuard()


@dataclass(frozen=True)
class _Call:
    """One invocation: its environment and FC context, where the rules file is by default, and the ECI
    gateway and dispatcher a caller may pass (`serve`, tests; else made from the environment)."""

    env: Any
    context: Any
    default_rules: Path
    dispatcher: Any = None
    gateway: Any = None

    def settings(self) -> Settings:
        return Settings.from_env(self.env, default_rules=self.default_rules)

    def eci_gateway(self) -> Any:
        return self.gateway or runtime.gateway_factory(self.env, self.context)


def handle(
    event: bytes | dict[str, Any], context: Any, *, default_rules: Path, dispatcher: Any = None, gateway: Any = None
) -> dict[str, Any]:
    env = runtime.environment()
    call = _Call(env, context, default_rules, dispatcher, gateway)
    rid = runtime.request_id(context)
    try:
        raw = decode_json(event, source="http-event", limit=MAX_ENVELOPE) if not isinstance(event, dict) else event
        if not fc_http.looks_like(raw):
            raise InputError("not a Function Compute HTTP trigger event", source="http-event")
        request = fc_http.parse(raw)
    except InputError as exc:
        return reply(400, {"error": exc.one_line()})
    if request.path.rstrip("/") == "/status" or request.path.startswith("/approvals/"):
        return _gates_route(request, call)
    if request.method == "GET" and request.path.rstrip("/") in ("", "/rules"):
        return _page(request, call)
    if request.method != "POST":
        return reply(405, {"error": "use POST"})
    if len(request.body) > MAX_BODY:
        log_event("webhook.rejected", status=413, size=len(request.body), request_id=rid)
        return reply(413, {"error": f"body of {len(request.body)} bytes is over the {MAX_BODY}-byte limit"})
    try:
        settings = call.settings()
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
    return _deliver(request, body, parsed, settings, call)


def _deliver(request: HttpRequest, body: Any, parsed: list[Any], settings: Settings, call: _Call) -> dict[str, Any]:
    """An authenticated delivery with at least one push: planned (or previewed) and handed to the
    writer; each typed error answered with the status that tells the sender whether to retry."""
    rid = runtime.request_id(call.context)
    dry_run = request.query.get("dry_run", "").lower() in ("1", "true", "yes") or (
        isinstance(body, dict) and body.get("dry_run") is True
    )
    # The webhook applies nothing itself: it previews for its reply (Preview) and hands the pushes to
    # the writer, which it does not in a dry run.
    preview = dry_run or _wants_preview(request, call.env)
    try:
        return _plan_and_dispatch(parsed, settings, call, dry_run=dry_run, preview=preview)
    except PlanningError as exc:
        return reply(422, {"error": exc.one_line()})
    except InputError as exc:
        return reply(400, {"error": exc.one_line()})
    except ConfigError as exc:  # no worker to hand off to: no retry of the sender's fixes that
        _config_error_once(exc)
        return reply(500, {"error": exc.one_line()})
    except EciRedeployError as exc:
        log_event("webhook.failed", error=exc.one_line(), request_id=rid)
        return reply(503, {"error": exc.one_line()})


def _gates_route(request: HttpRequest, call: _Call) -> dict[str, Any]:
    """GET /status and POST /approvals/<id> (functions/gate_endpoints.py)."""
    from .gate_endpoints import http_route

    try:
        settings = call.settings()
        rules = runtime.rules_for(settings.rules_path)
    except EciRedeployError as exc:
        return reply(500, {"error": exc.one_line()})
    dispatcher = call.dispatcher or runtime.dispatcher_factory(settings, call.env, call.context)
    answer = http_route(request, settings, rules, call.env, call.eci_gateway(), dispatcher)
    form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if form and request.method == "POST" and answer["statusCode"] == 202:
        # The page's Approve button (functions/page.py): back to the page, with the token it came with.
        from urllib.parse import quote

        from ..events.auth import presented_token

        back = "/?token=" + quote(presented_token(request) or "", safe="")
        return {"statusCode": 303, "headers": {"Location": back, "Referrer-Policy": "no-referrer"}, "body": ""}
    return answer


def _page(request: HttpRequest, call: _Call) -> dict[str, Any]:
    """GET /: the operator's page (functions/page.py); GET /rules: what it lists, as `list --json` prints
    it. Behind the viewer or an approver token."""
    from . import page

    try:
        settings = call.settings()
        rules = runtime.rules_for(settings.rules_path)
    except EciRedeployError as exc:
        return reply(500, {"error": exc.one_line()})
    limits = {"max_requests": 20, "timeout": 3.0, "max_wait_seconds": 2.0}  # a page must answer soon
    clients = client_factory(call.env, call.context, **limits)
    return page.handle(request, settings, rules, call.env, call.eci_gateway(), clients)


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


_LOGGED: set[str] = set()


def _config_error_once(exc: ConfigError) -> None:
    """A configuration error (no worker function set) is logged once per instance, not per delivery."""
    if exc.one_line() not in _LOGGED:
        _LOGGED.add(exc.one_line())
        log_event("webhook.misconfigured", error=exc.one_line())


def _wants_preview(request: HttpRequest, env: Any) -> bool:
    """`?preview=1` (or ECI_REDEPLOY_WEBHOOK_PREVIEW=1): plan against ECI for the reply. Off by default:
    the reply then says what is known without ECI (authentication, parsing, the rules), and a push
    costs the worker's describe only."""
    raw = request.query.get("preview", env.get("ECI_REDEPLOY_WEBHOOK_PREVIEW", "0"))
    return str(raw).strip().lower() in ("1", "true", "yes")


def _plan_and_dispatch(
    parsed: list[Any], settings: Settings, call: _Call, *, dry_run: bool, preview: bool = True
) -> dict[str, Any]:
    from ..pipeline import unwatched
    from ..planning.decide import push_events

    rules, env = runtime.rules_for(settings.rules_path), call.env
    # 202 as soon as part of a delivery was rejected and the rest accepted: the sender must not read a
    # plain 200 as "all of it went through" (the reply's `events` names each rejected one).
    done_status = 202 if any(isinstance(p, RejectedEvent) for p in parsed) else 200
    nothing = unwatched(parsed, rules, env)
    if nothing is not None:
        return reply(done_status, {"accepted": False, **nothing.to_json()})
    events = push_events(parsed)
    retry: list[str] = []  # pushes dropped because their registry could not confirm them (planning/confirm.py)

    def refine(parsed: list[Any], groups: list[Any]) -> tuple[list[Any], list[Any], list[str]]:
        nonlocal events
        if env.get("ECI_REDEPLOY_CONFIRM_DIGESTS", "1") == "0":
            return parsed, [], _trust_notes(events)
        limits = {"max_requests": 6, "timeout": 3.0, "max_wait_seconds": 2.0}
        confirmation = confirm(events, rules, groups, client_factory(env, call.context, **limits))
        events = confirmation.events
        retry.extend(confirmation.retry)
        for event, skip in confirmation.refused:
            audit.refused(event, skip.rule, skip.reason)
        parsed = [p for p in parsed if not isinstance(p, PushEvent)] + list(events)
        return parsed, confirmation.dropped, confirmation.notes

    if preview:
        summary = _preview(parsed, rules, call, refine)
    else:
        parsed, dropped, notes = refine(parsed, [])
        summary = _without_eci(parsed, rules, dropped, notes)
    handed = [] if dry_run else _for_the_writer(events, rules)
    # A push its registry could not confirm is not deployed: 503 asks the sender to deliver it again
    # (the confirmed pushes beside it are handed on; a redelivery of them changes nothing).
    done_status = 503 if retry and not dry_run else done_status
    if not handed:
        return reply(200 if dry_run else done_status, {"accepted": False, "dry_run": dry_run, **summary})
    order = WorkOrder.for_events(handed)
    dispatcher = call.dispatcher or runtime.dispatcher_factory(settings, env, call.context)
    done = dispatcher.dispatch(order)
    log_event(
        "webhook.dispatched",
        task_id=done.task_id,
        via=done.via,
        request_id=done.request_id,
        events=[e.summary() for e in events],
    )
    return reply(503 if retry else 202, {"accepted": True, "task_id": done.task_id, **summary})


def _preview(parsed: list[Any], rules: Any, call: _Call, refine: Any) -> dict[str, Any]:
    """The plan against ECI for the reply (`?preview=1`), gated (nothing recorded here: the worker
    records and applies). An ECI error (throttling) costs the preview, never the delivery."""
    from ..core.errors import EciApiError
    from ..pipeline import run

    try:
        report = run(parsed, rules, call.eci_gateway(), call.env, executor=Preview(), refine=refine)
    except EciApiError as exc:
        log_event("webhook.preview_unavailable", code=exc.code)
        _, dropped, notes = refine(parsed, [])
        summary = _without_eci(parsed, rules, dropped, notes)
        summary["preview"] = f"unavailable: {exc.one_line()}"
        return summary
    shown = report.plan
    summary = shown.to_json()
    summary["actions"] = [
        {"rule": s.rule, "action": s.action, "target": s.target, "image": s.image} for s in shown.steps
    ]
    if report.notes:
        summary["notes"] = report.notes
    return summary


def push_events_of(parsed: list[Any]) -> list[PushEvent]:
    return [p for p in parsed if isinstance(p, PushEvent)]


def _without_eci(parsed: list[Any], rules: Any, dropped: list[Any], notes: list[str]) -> dict[str, Any]:
    """What the reply can say without asking ECI: the events (pushes, then the ignored and rejected ones,
    as the plan lists them), the rules that will act on each push (the worker decides per group against
    a fresh describe), and the rules that will not, with why."""
    from ..planning.planner import skip_reason

    events = push_events_of(parsed)
    others = [p for p in parsed if not isinstance(p, PushEvent) and hasattr(p, "summary")]
    acting: list[dict[str, Any]] = []
    skipped = [d.to_json() for d in dropped]
    for event in events:
        for rule in rules.for_repository(event.repository):
            reason = skip_reason(rule, event, rules)
            if reason:
                skipped.append({"rule": rule.name, "reason": reason})
            else:
                acting.append({"rule": rule.name, "event": event.summary()})
    summary: dict[str, Any] = {"actions": [], "rules": acting, "skipped": skipped}
    summary["events"] = [e.summary() for e in events] + [o.summary() for o in others]
    summary["preview"] = "off: the worker decides against ECI; add ?preview=1 to see its plan here"
    if notes:
        summary["notes"] = notes
    return summary


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
    """With ECI_REDEPLOY_CONFIRM_DIGESTS=0 the token is trusted with digests: every push says so."""
    return [
        f"{e.describe()}: "
        + (f"{e.source} payloads are unsigned; " if traits(e.source).unsigned else "")
        + "the digest was not confirmed with the registry"
        for e in events
        if not e.signed
    ]
