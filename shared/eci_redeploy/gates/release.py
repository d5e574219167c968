"""Releasing held changes: each planned again as a redelivery of its push, stale holds dropped, gated
again and applied, or handed to the single writer (`HandedOff`, the work order's evidence).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..events.model import PushEvent
from ..execution.executor import APPLY, Executor
from ..planning import tracking
from ..planning.newer import compare, seen
from ..planning.steps import Plan
from ..rules.model import RuleSet
from . import store
from .context import GateContext
from .evaluate import Evidence
from .gating import _gate, gate_plan
from .held import HeldChange, held_changes
from .replay import replay_event
from .writes import _write, _Writes


@dataclass
class HandedOff:
    """A release handed to the single writer: the held pushes it releases or records, the hand-off's answer."""

    plan: Plan
    events: list[PushEvent]
    answer: Any = None

    @property
    def failed(self) -> bool:
        return False

    def to_json(self) -> dict[str, Any]:
        body = self.plan.to_json()
        body["handed_off"] = self.answer
        return body


def _stale_holds(change: HeldChange, stale: _Writes) -> bool:
    """Groups already on the held version, or on something newer pushed since: their hold is dropped.
    Whether there is any."""
    found = False
    held = seen(change.rule, change.held.tag, change.held.pushed_ms)
    for group in change.groups:
        done = tracking.applied(group.tag_map, change.rule.name)
        newer_applied = compare(seen(change.rule, done.tag, done.event_time_ms), held).newer
        if done.digest == change.held.version or newer_applied:
            keys = store.keys_of(group.tag_map, change.rule.name)
            stale.drop(group.region or change.rule.target.region, group.id, keys)
            found = found or bool(keys)
    return found


@dataclass
class _Replanned:
    """Held changes planned again: the plan, the groups it was planned on, the stale holds to drop, and
    the replayed pushes (by event id) with whether their change has a stale hold."""

    plan: Plan = field(default_factory=Plan)
    groups: dict[str, ContainerGroup] = field(default_factory=dict)
    stale: _Writes = field(default_factory=_Writes)
    events: dict[str, tuple[PushEvent, bool]] = field(default_factory=dict)


def _replan(
    rules: RuleSet,
    gateway: Any,
    env: Mapping[str, str],
    match: Callable[[HeldChange], bool] | None,
    repositories: frozenset[str] | None,
) -> _Replanned | None:
    from ..planning.planner import plan_event

    observed: dict[str, list[ContainerGroup]] = {}
    changes = [
        c for c in held_changes(rules, gateway, observed=observed, repositories=repositories) if c.held.state == "held"
    ]
    if match is not None:
        changes = [c for c in changes if match(c)]
    if not changes:
        return None
    out = _Replanned()
    for change in changes:
        rule_groups = observed[change.rule.name]
        out.groups.update({g.id: g for g in rule_groups})
        event = replay_event(change.rule, change.held)
        out.events[event.event_id] = (event, _stale_holds(change, out.stale))
        out.plan.extend(plan_event(event, rules, rule_groups, env, only=change.rule.name))
    return out


def release(
    rules: RuleSet,
    gateway: Any,
    env: Mapping[str, str],
    *,
    context: GateContext | None = None,
    match: Callable[[HeldChange], bool] | None = None,
    repositories: frozenset[str] | None = None,
    executor: Executor = APPLY,
    hand_off: Callable[[list[PushEvent], Any], Any] | None = None,
) -> Any:
    """Plan every held change again (those `match` selects) with what is known now: drop stale holds,
    record evidence, hold or refuse, apply what goes. With `hand_off` none of that is done here: the
    pushes whose release would change anything are handed to the single writer, which does it (with
    the evidence `context.events` holds). Returns the apply Report, or HandedOff (None: nothing held)."""
    ctx = context or GateContext.from_env(env)
    found = _replan(rules, gateway, env, match, repositories)
    if found is None:
        return None
    if hand_off is not None:
        return _hand_off(found, rules, ctx, hand_off, executor)
    executor.effect(_write, found.stale, gateway)
    gated = gate_plan(found.plan, rules, found.groups.values(), gateway, env, context=ctx, executor=executor)
    return executor.carry_out(gated, rules, gateway, env)


def _hand_off(
    found: _Replanned, rules: RuleSet, ctx: GateContext, hand_off: Callable[..., Any], executor: Executor
) -> HandedOff:
    """Decided here only to know what to hand over (nothing is written here: what was read may be stale
    by the time a write would land, and the writer decides again on a fresh describe): a change that
    goes, or whose hold the writer would change (evidence, refusal, a stale hold dropped)."""
    gating = _gate(found.plan, rules, found.groups.values(), ctx)
    shown = gating.out if gating is not None else found.plan
    touched: set[str | None] = {s.group_id for s in shown.steps}
    if gating is not None:
        touched.update(gid for ids in [*gating.writes.set.values(), *gating.writes.unset.values()] for gid in ids)
    wanted = {s.event_id for s in found.plan.steps if s.group_id in touched}
    events = [e for eid, (e, stale) in found.events.items() if stale or eid in wanted]
    answer = executor.effect(hand_off, events, gate_work(ctx.events, events)) if events else None
    return HandedOff(shown, events, answer)


def gate_work(known: Mapping[str, Evidence], events: list[PushEvent]) -> Any:
    """What the events said of these pushes' scan and signature, as the work order carries it to the
    writer (which asks the ACR API itself for what is missing). Only the events': evidence read from a
    hold's tags is that rule's verdict (a scan passed under its threshold), not the image's counts."""
    from ..execution.handoff import GateWork, WorkEvidence

    evidence = []
    for key in sorted({k for e in events for k in (e.digest or "", f":{e.tag}") if k in known}):
        found = known[key]
        if found.scan is None and found.signed is None:
            continue
        scan = found.scan
        evidence.append(
            WorkEvidence(
                image=key,
                scan_status=scan.status if scan else None,
                counts=dict(scan.counts) if scan else {},
                signed=found.signed,
            )
        )
    return GateWork(evidence=evidence)
