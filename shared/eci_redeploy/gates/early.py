"""Evidence that arrives before its hold. EventBridge does not order events: ACR's SigningCompleted can
reach the push function while the PushCompleted it signs is still queued for the worker, so nothing is
held yet. A signature cannot be asked for later (the ACR API has none), so it is not dropped: the push
function hands it to the writer anyway (an evidence order: events with source `gate-evidence`, one per
rule with a `signed` gate watching the repository), and the writer releases the hold if there is one by
now, else records the signature on the rule's groups (store.signed_writes: bound to the digest and the
repository, bounded). A push held or planned later reads it there (flow._evidence), and so does the
timer. Only a successful signing of a named digest is kept: a failed one, one without a status, or one
naming a tag alone releases nothing (fail closed). A scan needs none of this: the ACR API has the result,
and the worker and the timer ask it for a held change that lacks one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.errors import RetryLater
from ..core.log import log_event
from ..events.model import PushEvent
from ..execution.executor import APPLY, Executor
from ..planning import tracking
from ..rules.model import RuleSet
from . import EVIDENCE_SOURCE, store
from .acr import GateEvent
from .context import GateContext
from .held import HeldChange, observe_rule
from .release import release
from .writes import _write, _Writes


def evidence_events(events: Iterable[GateEvent], rules: RuleSet) -> list[PushEvent]:
    """The successful signings of a digest, one per rule with a `signed` gate watching its repository and
    registry (and its tags, when the signing names one): a signing no push of the rule could match is
    not recorded on its groups, where it would only evict a signature it needs (store.MAX_SIGNED)."""
    from ..planning.planner import registry_mismatch

    out = []
    for e in events:
        if e.evidence.signed is not True or store.signed_key(e.digest) is None:
            continue
        for rule in rules:
            gates = rules.gates_for(rule)
            if gates is None or not gates.signed or rule.source.repository != e.repository:
                continue
            event = PushEvent(
                e.repository,
                e.tag,
                e.digest,
                EVIDENCE_SOURCE,
                e.event_id,
                instance_id=e.instance_id,
                region=e.region,
                signed=True,
                only_rule=rule.name,
            )
            if registry_mismatch(rule, event) or (e.tag and rules.policy(rule).decide(e.tag)):
                continue
            out.append(event)
    return out


def is_evidence_order(order: Any) -> bool:
    return order.gates is not None and all(e.source == EVIDENCE_SOURCE for e in order.events)


def signed_by(ctx: GateContext, event: PushEvent) -> bool:
    """Whether what the order brought says this digest was signed (nothing else is recorded)."""
    found = ctx.events.get(event.digest or "")
    return found is not None and found.signed is True


def record(
    events: list[PushEvent], rules: RuleSet, gateway: Any, ctx: GateContext, executor: Executor = APPLY
) -> list[str]:
    """Record each event's signature on its rule's groups (not on a frozen one, nor one already running that digest).
    Returns the groups it was recorded on; a failed write raises RetryLater (the platform retries)."""
    writes, recorded = _Writes(), []
    at = store.to_ms(ctx.now()) or 0
    for event in events:
        rule = rules.rule(event.only_rule or "")
        if rule is None or event.digest is None or not signed_by(ctx, event):
            continue
        for group in observe_rule(gateway, rule, rules):
            # frozen: never touched, not even its tags; running the digest: nothing to release
            if tracking.frozen(group.tag_map) or tracking.applied(group.tag_map, rule.name).digest == event.digest:
                continue
            change = store.signed_writes(group.tag_map, event.digest, event.repository, at)
            if change is None:
                log_event("gates.signature_unrecorded", group=group.id, digest=event.digest, reason="no room")
                continue
            put, drop = change
            region = group.region or rule.target.region
            if put:
                writes.put(region, group.id, put)
            writes.drop(region, group.id, drop)
            recorded.append(group.id)
    if failed := executor.effect(_write, writes, gateway):
        raise RetryLater(f"a signature could not be recorded on {', '.join(failed)}")
    log_event("gates.signature_recorded", groups=recorded, digests=sorted({e.digest for e in events if e.digest}))
    return recorded


def run(
    order: Any,
    rules: RuleSet,
    gateway: Any,
    env: Mapping[str, str],
    ctx: GateContext,
    executor: Executor,
) -> Any:
    """The writer's side of an evidence order: release what is held for the digest by now (as a release
    order would), record the signature for the rules with nothing held. Never planned as a push."""
    from ..planning.steps import Plan

    events = order.push_events()
    named = {(e.only_rule, e.digest) for e in events if e.digest}
    found: set[str] = set()

    def matches(change: HeldChange) -> bool:
        hit = (change.rule.name, change.held.digest) in named
        if hit:
            found.add(change.rule.name)
        return hit

    repositories = frozenset(e.repository for e in events)
    report = release(
        rules,
        gateway,
        env,
        context=ctx,
        match=matches,
        repositories=repositories,
        executor=executor,
    )
    record([e for e in events if e.only_rule not in found], rules, gateway, ctx, executor)
    return report if report is not None else executor.nothing_done(Plan())
