"""The gates' entry points inside the functions: ScanCompleted / SigningCompleted events on the push
function, `GET /status` and `POST /approvals/<id>` on the webhook function, the timer's release, and the
worker's side of a release order (`run_order`: the only place, with a worker function, that writes the
hold, evidence and approval tags)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from ..core.errors import AuthenticationError, EciRedeployError
from ..core.log import log_event
from ..events.adapters.fc_http import reply
from ..execution.executor import APPLY, Executor
from ..gates.acr import GateEvent, evidence_from_env, is_gate_event, parse_gate_event
from ..gates.early import evidence_events, is_evidence_order, record
from ..gates.evaluate import Approval, Change, Evidence, evaluate
from ..gates.flow import GateContext, HeldChange, held_changes, release, replay_event, status, version_for
from ..rules.model import RuleSet


def split(raw: Any) -> tuple[list[dict[str, Any]], bool]:
    """(the scan / signing events in a payload, whether that is all it holds)."""
    items = raw if isinstance(raw, list) else [raw]
    found = [e for e in items if is_gate_event(e)]
    return found, bool(found) and len(found) == len(items)


def _collect(raw_events: list[dict[str, Any]], ctx: GateContext) -> list[GateEvent]:
    """The events that name an image; the evidence each brings is kept in `ctx.events` by the digest it
    names (an event naming only a tag is logged and brings none: a tag is no evidence of content)."""
    events: list[GateEvent] = []
    for raw in raw_events:
        event = parse_gate_event(raw)
        if event is None:
            log_event("gates.event_ignored", id=raw.get("id"), type=raw.get("type"), reason="names no repository")
            continue
        if not event.digest:  # about no hold: nothing is asked, nothing released (issue 23)
            log_event("gates.event_ignored", id=event.event_id, type=raw.get("type"), reason="names no digest")
            continue
        events.append(event)
        key = event.digest
        before = ctx.events.get(key, Evidence())
        ctx.events[key] = Evidence(
            event.evidence.scan or before.scan,
            event.evidence.signed if event.evidence.signed is not None else before.signed,
            None,
        )
        log_event(
            "gates.event",
            gate=event.kind,
            id=event.event_id,
            repository=event.repository,
            tag=event.tag,
            digest=event.digest,
        )
    return events


def on_gate_events(
    raw_events: list[dict[str, Any]],
    rules: RuleSet,
    gateway: Any,
    env: Mapping[str, str],
    context: Any = None,
    *,
    gate_context: GateContext | None = None,
    hand_off: Any = None,
) -> dict[str, Any]:
    """Release what the events' evidence lets go (or record it and hand the release to the single writer).
    A duplicate event finds nothing held any more, or the same hand-off (FC drops its twin)."""
    ctx = gate_context or GateContext.from_env(env, lookup=False)
    if ctx.lookup is None:
        ctx.lookup = evidence_from_env(env, context)
    events = _collect(raw_events, ctx)
    if not events:
        return {"ok": True, "released": [], "note": "no scan or signing event names an image by its digest"}

    matched: set[tuple[str, str]] = set()

    def matches(change: HeldChange) -> bool:
        hits = [e for e in events if _names(e, change)]
        matched.update((e.event_id, change.rule.name) for e in hits)
        return bool(hits)

    report = release(
        rules,
        gateway,
        env,
        context=ctx,
        match=matches,
        repositories=frozenset(e.repository for e in events),
        hand_off=hand_off,
    )
    out: dict[str, Any] = {"ok": True, "released": []}
    if report is not None:
        out = {"ok": not report.failed, "released": report.to_json()}
    early = [e for e in evidence_events(events, rules) if (e.event_id, e.only_rule) not in matched]
    if early:  # nothing held for them yet (EventBridge does not order events): kept, not dropped
        out["early"] = _early(early, rules, gateway, ctx, hand_off)
    elif report is None:
        out["note"] = "nothing is held for these images"
    return out


def _names(event: GateEvent, change: HeldChange) -> bool:
    """Whether a scan / signing event is about this held change: the digest it names is the held one.
    A tag names no content (it moves: the 1.4.0 scanned may not be the 1.4.0 held), so an event naming
    only a tag is about no hold (issue 23); the timer asks the ACR API about the held digest itself."""
    if event.repository != change.rule.source.repository or not event.digest:
        return False
    return change.held.digest == event.digest


def _early(events: list[Any], rules: RuleSet, gateway: Any, ctx: GateContext, hand_off: Any) -> Any:
    """Signatures with nothing held for them yet: handed to the single writer as an evidence order (or
    recorded here without one), so that the hold, recorded later, finds them."""
    from ..gates.release import gate_work

    if hand_off is not None:
        return hand_off(events, gate_work(ctx.events, events))
    return {"recorded_on": record(events, rules, gateway, ctx)}


# ---- the webhook function: GET /status, POST /approvals/<id> ----


def _bearer(request: Any) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.query.get("token") or None


def approvers(value: str | None) -> list[tuple[str, str]]:
    """`name:token` pairs, comma-separated; a token alone is approver-<n>."""
    out = []
    for n, item in enumerate((value or "").split(","), 1):
        item = item.strip()
        if not item:
            continue
        name, sep, token = item.partition(":")
        out.append((name.strip(), token.strip()) if sep else (f"approver-{n}", name.strip()))
    return [(n, t) for n, t in out if t]


def who_approves(presented: str | None, allowed: list[tuple[str, str]]) -> str | None:
    if not presented:
        return None
    found = None
    for name, token in allowed:  # every comparison made, in constant time each
        if hmac.compare_digest(presented.encode(), token.encode()):
            found = found or name
    return found


def http_route(
    request: Any,
    settings: Any,
    rules: RuleSet,
    env: Mapping[str, str],
    gateway: Any,
    dispatcher: Any,
    *,
    now: Any = None,
) -> dict[str, Any]:
    from ..events.auth import check_token

    path = request.path.rstrip("/")
    ctx = GateContext.from_env(env, lookup=False)
    clock = now or ctx.now
    if path == "/status":
        if request.method != "GET":
            return reply(405, {"error": "use GET"})
        try:
            check_token(request, settings.webhook_token)
        except AuthenticationError as exc:
            return reply(401, {"error": exc.one_line()})
        return reply(200, status(rules, gateway, now=clock()))
    if request.method != "POST":
        return reply(405, {"error": "use POST"})
    return _approve(request, path.removeprefix("/approvals/"), rules, env, gateway, dispatcher, clock)


def _approve(
    request: Any, hid: str, rules: RuleSet, env: Mapping[str, str], gateway: Any, dispatcher: Any, clock: Any
) -> dict[str, Any]:
    """POST /approvals/<id>: record the approval in the held groups' tags, hand the release to the worker.
    The caller must be an approver of some rule before anything is looked up: an anonymous caller gets
    the same 401 for every id, so it learns no rule names and no held changes."""
    if who_approves(_bearer(request), _all_approvers(rules, env)) is None:
        log_event("approval.rejected", status=401)
        return reply(401, {"error": "not an approver (token in Authorization: Bearer or ?token=)"})
    name, _, short = hid.rpartition(".")
    rule = rules.rule(name) if name and short else None
    gates = rules.gates_for(rule) if rule is not None else None
    if rule is None or gates is None or gates.approval is None:
        return reply(404, {"error": f"no rule with an approval gate for {hid!r}"})
    approver = who_approves(_bearer(request), approvers(env.get(gates.approval.approvers_env)))
    if approver is None:
        log_event("approval.rejected", id=hid, status=401)
        return reply(401, {"error": f"not an approver of {rule.name} (token in Authorization: Bearer or ?token=)"})
    try:
        change = _held_as(hid, held_changes(rules, gateway, only=rule.name))
    except EciRedeployError as exc:
        return reply(503, {"error": exc.one_line()})
    if change is None:
        return reply(404, {"error": f"nothing held as {hid} (released, replaced by a newer push, or never held)"})
    when = clock()
    decision = evaluate(
        gates, Change(rule.name, change.held.version, change.held.pushed_at, change.held.since), Evidence(), when
    )
    if change.held.state == "refused" or (decision.verdict == "refused" and decision.reason.startswith("approval")):
        return reply(410, {"error": f"{hid} was refused: {decision.reason or 'refused earlier'}"})
    from ..execution.handoff import GateWork, WorkApproval, WorkOrder

    # Recorded by the single writer, for this hold only: written here, from what was read above, it
    # could land on a newer push's hold that replaced this one meanwhile, and approve that.
    approval = WorkApproval(id=hid, held_since_ms=change.held.since_ms, approver=approver[:64], at=when)
    order = WorkOrder.for_events(
        [replay_event(rule, change.held)], salt=f"approval:{approver}", gates=GateWork(approval=approval)
    )
    try:
        done = dispatcher.dispatch(order)
    except EciRedeployError as exc:  # nothing recorded: the approver asks again
        return reply(503, {"error": f"the approval was not recorded ({exc.one_line()}): approve again"})
    _audit_approval(change, approver)
    return reply(
        202, {"approved": hid, "by": approver, "task_id": done.task_id, "groups": sorted(g.id for g in change.groups)}
    )


def _held_as(hid: str, changes: list[HeldChange]) -> HeldChange | None:
    """The held change whose hold on some group has exactly this id (its rule, full digest and creation:
    store.approval_id), as that hold: what the notification that showed the id was about."""
    from ..gates import store

    for change in changes:
        for group in change.groups:
            held = store.read(group.tag_map, change.rule.name)
            if held is not None and held.id == hid and held.version == change.held.version:
                return HeldChange(held, change.rule, change.groups)
    return None


def _all_approvers(rules: RuleSet, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Every rule's approvers: whom the route authenticates before it looks up the id's rule."""
    out: list[tuple[str, str]] = []
    for rule in rules:
        gates = rules.gates_for(rule)
        if gates is not None and gates.approval is not None:
            out += approvers(env.get(gates.approval.approvers_env))
    return out


def _audit_approval(change: HeldChange, approver: str) -> None:
    from ..report import holds

    names = [g.name for g in change.groups if g.name]
    groups = [g.id for g in change.groups]
    holds.approval(change.rule.name, change.held.id, change.held.digest, change.held.tag, groups, names, approver)


def run_release(
    rules: RuleSet,
    gateway: Any,
    env: Mapping[str, str],
    context: Any = None,
    *,
    executor: Executor = APPLY,
    gate_context: GateContext | None = None,
    hand_off: Any = None,
) -> Any:
    """The timer's pass over held changes (before its reconcile), with the ACR API as evidence."""
    if not any(rules.gates_for(r) for r in rules):
        return None
    ctx = gate_context or GateContext.from_env(env, lookup=False)
    if ctx.lookup is None:
        ctx.lookup = evidence_from_env(env, context)
    return release(rules, gateway, env, context=ctx, executor=executor, hand_off=hand_off)


def run_order(
    order: Any,
    rules: RuleSet,
    gateway: Any,
    env: Mapping[str, str],
    context: Any = None,
    *,
    executor: Executor,
    gate_context: GateContext | None = None,
) -> Any:
    """The worker's side of a release order (`WorkOrder.gates`): the held changes its pushes name are
    planned again on a fresh describe, with the evidence and the approval it brings, and released,
    recorded, refused or dropped there (flow.release). `executor`: the one the order asks for (its
    `dry_run`), chosen by the caller: no default, so an order is never applied by omission. Returns
    the apply Report, or None."""
    ctx = order_context(order, env, context, gate_context)
    if is_evidence_order(order):
        from ..gates import early

        return early.run(order, rules, gateway, env, ctx, executor)
    events = order.push_events()
    named = {(r.name, version_for(r, e)) for e in events if e.only_rule and (r := rules.rule(e.only_rule)) is not None}
    found: list[HeldChange] = []

    def matches(change: HeldChange) -> bool:
        hit = (change.rule.name, change.held.version) in named
        if hit:
            found.append(change)
            _approval_for_groups(change, ctx)
        return hit

    report = release(
        rules,
        gateway,
        env,
        context=ctx,
        match=matches,
        repositories=frozenset(e.repository for e in events),
        executor=executor,
    )
    approval = order.gates.approval
    if approval is not None and not any(_approved_any(c, ctx) for c in found):
        log_event("gates.approval_unused", id=approval.id, reason="released, replaced or refused since")
    return report


def _approval_for_groups(change: HeldChange, ctx: GateContext) -> None:
    """An approval of a held change (its id, and its earliest `held since`: what the webhook read and
    named the groups of) counts on each of its groups holding that version since then and before the
    approval was given: a group that joined the rule later is held from then, and the groups held
    earliest may be gone by the time the worker runs. A hold made after the approval is not approved."""
    from ..gates import store

    # An approval counts for this version only if its id is this rule's, this version's, from that since.
    rule, version = change.rule.name, change.held.version
    given = [(s, a) for (hid, s), a in list(ctx.approvals.items()) if hid == store.approval_id(rule, version, s)]
    for group in change.groups:
        held = store.read(group.tag_map, change.rule.name)
        if held is None or held.rule != change.rule.name or held.version != change.held.version:
            continue
        for since, approval in given:
            if since <= held.since_ms <= (store.to_ms(approval.at) or 0):
                ctx.approvals.setdefault((held.id, held.since_ms), approval)


def _approved_any(change: HeldChange, ctx: GateContext) -> bool:
    from ..gates import store

    holds = [store.read(g.tag_map, change.rule.name) for g in change.groups]
    return any(h is not None and (h.id, h.since_ms) in ctx.approvals for h in holds)


def order_context(
    order: Any, env: Mapping[str, str], context: Any = None, given: GateContext | None = None
) -> GateContext:
    """The gates' context in the worker (`given`, else a new one): the ACR API, and the evidence and
    approval the order brings."""
    from ..gates.evaluate import ScanResult

    ctx = given or GateContext.from_env(env, lookup=False)
    if ctx.lookup is None:
        ctx.lookup = evidence_from_env(env, context)
    for item in order.gates.evidence:
        scan = ScanResult(item.scan_status, dict(item.counts)) if item.scan_status else None
        ctx.events[item.image] = Evidence(scan, item.signed, None)
    approval = order.gates.approval
    if approval is not None:
        ctx.approvals[(approval.id, approval.held_since_ms)] = Approval(approval.approver, approval.at)
    return ctx
