"""Gating a plan: per rollout unit of a gated rule, go | held (recorded in the groups' tags) | refused,
with the evidence known now; the plan out carries only what goes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..events.model import PushEvent
from ..execution.executor import APPLY, Executor
from ..planning import tracking
from ..planning.newer import compare, seen
from ..planning.steps import Plan, Skip, Step
from ..rules.model import Rule, RuleSet
from . import store
from .context import GateContext, Transition, subject_for, version_for
from .evaluate import Approval, Change, Decision, Evidence, ScanResult, evaluate
from .notices import _report
from .replay import _replayed_approval, replayed_since
from .writes import _write, _Writes


def _units(steps: Sequence[Step]) -> list[list[Step]]:
    from ..execution.rollout import units

    return units(steps)


def _strip(step: Step) -> Step:
    """The step without its rule's held-change tags: a released change leaves no hold of its rule
    behind (other rules' holds on the group stay)."""

    def kept(tags: list[dict[str, str]]) -> list[dict[str, str]]:
        # Written empty (reads as no hold: store.read) rather than left out: whether Tag.N replaces the
        # group's tags or merges into them (undocumented), the hold is gone either way.
        ours = set(store.keys_of({t.get("Key", ""): t.get("Value", "") for t in tags}, step.rule or ""))
        return [{**t, "Value": ""} if t.get("Key") in ours else t for t in tags]

    body = step.body
    if "Tag" in body:
        body = {**body, "Tag": kept(body["Tag"])}
    rollback = step.rollback
    if rollback and "Tag" in rollback:
        rollback = {**rollback, "Tag": kept(rollback["Tag"])}
    return dataclasses.replace(step, body=body, rollback=rollback)


def _evidence(
    held: store.Held | None,
    version: str,
    rule: Rule,
    event: PushEvent,
    gates: Any,
    ctx: GateContext,
    recorded: bool = False,
) -> Evidence:
    scan: ScanResult | None = None
    signed: bool | None = None
    approval: Approval | None = None
    if held is not None and held.version == version:
        if "scan" in held.passed:
            scan = ScanResult("COMPLETE", {})
        if "signed" in held.passed:
            signed = True
        approval = ctx.approvals.get((held.id, held.since_ms)) or held.approval
    elif held is None:
        approval = _replayed_approval(ctx, rule.name, version, event)
    # Evidence an event brought counts for the digest it named only (a tag names no content: issue 23).
    brought = ctx.events.get(event.digest) if event.digest and version == event.digest else None
    if brought is not None:
        scan = brought.scan or scan
        signed = brought.signed if brought.signed is not None else signed
    if signed is None and recorded:  # a signature that came before the hold (gates.early)
        signed = True
    if ctx.lookup is not None:
        subject = subject_for(rule, event)
        if gates.scan is not None and (scan is None or not scan.complete):
            scan = ctx.lookup.scan(rule, subject) or scan
        if gates.signed and not signed:
            found = ctx.lookup.signed(rule, subject)
            signed = found if found is not None else signed
    return Evidence(scan, signed, approval)


def gate_plan(
    plan: Plan,
    rules: RuleSet,
    groups: Iterable[ContainerGroup],
    gateway: Any,
    env: Mapping[str, str],
    *,
    context: GateContext | None = None,
    executor: Executor = APPLY,
) -> Plan:
    """The plan with only what may go now; held and refused changes recorded and reported (when the
    executor applies), skipped."""
    ctx = context or GateContext.from_env(env)
    gating = _gate(plan, rules, groups, ctx)
    if gating is None:
        return plan
    executor.effect(_record, gating, rules, gateway, env, ctx)
    return gating.out


def _record(gating: _Gating, rules: RuleSet, gateway: Any, env: Mapping[str, str], ctx: GateContext) -> None:
    """The holds' tag writes made, and each transition told; a write that failed is a skip (asked again)."""
    for gid in _write(gating.writes, gateway):
        gating.out.skipped.append(
            Skip(None, f"could not record the hold on {gid}: the next push or reconcile asks again")
        )
    _report(list(gating.transitions.values()), rules, env, ctx)


def _gate(plan: Plan, rules: RuleSet, groups: Iterable[ContainerGroup], ctx: GateContext) -> _Gating | None:
    """Every unit of a gated rule decided: the plan out, and the tag writes and reports it takes (not made
    here). None when nothing in the plan is gated."""
    gated = {r.name: (r, g) for r in rules if (g := rules.gates_for(r)) is not None}
    if not gated or not plan.steps:
        return None
    gating = _Gating(rules, gated, ctx, ctx.now(), {g.id: g for g in groups}, {e.event_id: e for e in plan.events})
    # Everything but the steps carries over (events, other_events: issue 14); what is gated is re-added.
    gating.out = dataclasses.replace(
        plan, steps=[], skipped=list(plan.skipped), events=list(plan.events), other_events=list(plan.other_events)
    )
    for unit in _units(plan.steps):
        if unit[0].rule not in gated or unit[0].event_id not in gating.events:
            gating.out.steps.extend(unit)
        else:
            gating.unit(unit)
    if gating.pending:  # an update's tag list replaces the group's tags: it carries the holds written now
        gating.out.steps = [_with_holds(s, gating.pending.get(s.group_id or "")) for s in gating.out.steps]
    return gating


def _with_holds(step: Step, change: tuple[dict[str, str], set[str]] | None) -> Step:
    """The step whose tag lists (if any) carry the hold writes `change` (tags set, keys dropped) made on
    its group in this pass, so the update does not undo another rule's hold recorded meanwhile."""
    if change is None:
        return step
    put, gone = change

    def kept(tags: list[dict[str, str]]) -> list[dict[str, str]]:
        # a key dropped meanwhile is written empty, so a merging Tag.N cannot bring it back either
        rest = [{**t, "Value": ""} if t.get("Key") in gone else t for t in tags if t.get("Key") not in put]
        return rest + [{"Key": k, "Value": v} for k, v in put.items()]

    body, rollback = step.body, step.rollback
    lists = [kept(b["Tag"]) for b in (body, rollback) if b and "Tag" in b]
    if any(len(tags) > tracking.MAX_TAGS for tags in lists):
        # The record and the holds fit one at a time, not together (ECI would refuse the update, and
        # not retryably): it goes without its tag lists, as any change without room for its record,
        # keeping the holds written before it.
        note = "no room for the tracking tags next to a hold written now (ECI allows 20): updated without them"
        body = {k: v for k, v in body.items() if k != "Tag"}
        rollback = {k: v for k, v in rollback.items() if k != "Tag"} if rollback else rollback
        return dataclasses.replace(step, body=body, rollback=rollback, notes=(*step.notes, note))
    if "Tag" in body:
        body = {**body, "Tag": kept(body["Tag"])}
    if rollback and "Tag" in rollback:
        rollback = {**rollback, "Tag": kept(rollback["Tag"])}
    return dataclasses.replace(step, body=body, rollback=rollback)


@dataclass
class _Unit:
    """One rollout unit of a gated rule, with what the groups' tags say is held."""

    name: str
    rule: Rule
    gates: Any
    event: PushEvent
    version: str
    group: ContainerGroup | None
    target: str
    region: str
    held: store.Held | None

    @property
    def same(self) -> bool:
        return self.held is not None and self.held.version == self.version


@dataclass
class _Gating:
    """gate_plan's state while it walks the units: the plan out, the tag writes, the transitions to
    report, and the decisions (the groups of one rollout share their evidence and decision: the ACR
    API is asked once per push)."""

    rules: RuleSet
    gated: dict[str, tuple[Rule, Any]]
    ctx: GateContext
    now: datetime
    by_id: dict[str, ContainerGroup]
    events: dict[str, PushEvent]
    out: Plan = field(default_factory=Plan)
    writes: _Writes = field(default_factory=_Writes)
    transitions: dict[tuple[str, str, str], Transition] = field(default_factory=dict)
    decisions: dict[tuple[Any, ...], Decision] = field(default_factory=dict)
    pending: dict[str, tuple[dict[str, str], set[str]]] = field(default_factory=dict)  # hold writes by group

    def note(self, outcome: str, u: _Unit, hold: store.Held, decision: Decision | None) -> None:
        key = (outcome, u.name, hold.id)
        t = self.transitions.setdefault(key, Transition(outcome, u.name, hold.version, u.event, decision, id=hold.id))
        t.groups.append(u.target)

    def _read(self, unit: list[Step]) -> _Unit:
        name = unit[0].rule
        rule, gates = self.gated[name]
        event = self.events[unit[0].event_id]
        group = next((self.by_id[s.group_id] for s in unit if s.group_id and s.group_id in self.by_id), None)
        held = store.read(group.tag_map, name) if group is not None else None  # its own hold only
        target = group.id if group else unit[0].target
        return _Unit(name, rule, gates, event, version_for(rule, event), group, target, unit[0].region, held)

    def _passed_over(self, u: _Unit) -> bool:
        """An older push than the one held, or the same one refused earlier: skipped."""
        held = u.held
        push = seen(u.rule, u.event.tag, u.event.time)
        if held is not None and not u.same and compare(push, seen(u.rule, held.tag, held.pushed_ms)).older:
            reason = f"older than the held change {held.version} ({held.id}): nothing is downgraded"
            self.out.skipped.append(Skip(u.name, reason, u.target))
            return True
        if u.same and held is not None and held.state == "refused":
            self.out.skipped.append(Skip(u.name, f"refused earlier ({held.id}): push a new image", u.target))
            return True
        return False

    def _decide(self, u: _Unit) -> tuple[Decision, datetime, datetime | None]:
        held = u.held if u.same else None
        replayed = replayed_since(u.event, u.name) if u.held is None else None  # its hold dropped up front
        since = held.since if held is not None else (store.from_ms(replayed) if replayed is not None else None)
        since = min(since, self.now) if since is not None else self.now
        # The hold's record is what the product saw first; a re-sent push's own date changes nothing.
        pushed = held.pushed_at if held is not None and held.pushed_at is not None else u.event.time
        key = (u.name, u.version, pushed, since, (held.passed, held.approval) if held is not None else None)
        decision = self.decisions.get(key)
        if decision is None:
            recorded = bool(u.gates.signed) and u.version == u.event.digest and self._signed(u.event)
            evidence = _evidence(u.held, u.version, u.rule, u.event, u.gates, self.ctx, recorded)
            change = Change(u.name, u.version, pushed, since)
            decision = self.decisions[key] = evaluate(u.gates, change, evidence, self.now)
        return decision, since, pushed

    def _signed(self, event: PushEvent) -> bool:
        """Whether a group recorded a signature of exactly this digest in this repository (gates.early)."""
        return any(store.signed_in(g.tag_map, event.digest, event.repository) for g in self.by_id.values())

    def _state(self, u: _Unit, state: str, decision: Decision, since: datetime, pushed: datetime | None) -> store.Held:
        approval = None
        if u.same and u.held is not None:  # an approval counts for the hold it was given to only
            approval = self.ctx.approvals.get((u.held.id, u.held.since_ms)) or u.held.approval
        elif u.held is None:
            approval = _replayed_approval(self.ctx, u.name, u.version, u.event)
        return store.Held(
            u.name,
            u.version,
            u.event.tag,
            state,
            store.to_ms(pushed),
            store.to_ms(since),  # type: ignore[arg-type]
            decision.passed,
            approval,
        )

    def unit(self, unit: list[Step]) -> None:
        u = self._read(unit)
        if self._passed_over(u):
            return
        decision, since, pushed = self._decide(u)
        if decision.verdict == "go":
            self._go(u, unit, decision)
        else:
            state = "held" if decision.verdict == "held" else "refused"
            self._hold(u, decision, self._state(u, state, decision, since, pushed))

    def _go(self, u: _Unit, unit: list[Step], decision: Decision) -> None:
        self.out.steps.extend(_strip(s) for s in unit)
        ours = store.keys_of(u.group.tag_map, u.name) if u.group is not None else []
        if u.group is not None and ours and not any("Tag" in s.body for s in unit):
            # A restart (or an update without room for tags) cannot drop the hold itself. Otherwise
            # the change's own tag list drops it, so a change that fails to go keeps its hold.
            self.writes.drop(u.region, u.group.id, ours)
        if u.same and u.held is not None:
            self.note("released", u, u.held, decision)
        elif u.held is not None:
            self.note("superseded", u, u.held, None)

    def _hold(self, u: _Unit, decision: Decision, state: store.Held) -> None:
        if decision.verdict == "held":
            waiting = "; ".join(f"{w.gate}: {w.releases_by}" for w in decision.waiting)
            self.out.skipped.append(Skip(u.name, f"held ({state.id}) until {waiting}", u.target))
        else:
            self.out.skipped.append(Skip(u.name, f"refused ({state.id}): {decision.reason}", u.target))
        if u.group is None:
            reason = "a create has no group to record the hold on: the next push or reconcile asks again"
            self.out.skipped.append(Skip(u.name, reason, u.target))
        elif (change := store.writes(u.group.tag_map, state, {r.name for r in self.rules})) is None:
            reason = f"no room on {u.group.id} for the hold (ECI allows 20 tags): the next push or reconcile asks again"
            self.out.skipped.append(Skip(u.name, reason, u.target))
        else:
            if change[0]:
                self.writes.put(u.region, u.group.id, change[0])
            if change[1]:
                self.writes.drop(u.region, u.group.id, change[1])
            put, gone = self.pending.setdefault(u.group.id, ({}, set()))
            put.update(change[0])
            gone.update(change[1])
        if u.held is not None and not u.same:
            self.note("superseded", u, u.held, None)
        if not u.same or (u.held is not None and u.held.state != state.state):
            self.note(state.state, u, state, decision)
