"""Gates in the flow: a plan is gated before it is applied, held changes are released later.

    plan (pure) -> gate_plan: per rollout unit, go | held (recorded in the groups' tags) | refused
                -> apply (only what goes)
    release (timer, ScanCompleted / SigningCompleted, approvals): held changes are planned again as a
    redelivery of their push (same digest, same push time, same ClientTokens), with the evidence
    that came in, and gated again. With a worker function the entry points write nothing: they hand a
    release order to the single writer, which runs `release` there (gates.handlers.run_order), since a
    tag write decided from an earlier describe would overwrite whatever replaced that hold meanwhile.

A release is idempotent: once a held change went out its tags are gone, so a duplicate event finds
nothing held; a redelivery racing it plans the same steps with the same ClientTokens. A newer push
replaces a held one; an older one is skipped, and the planner's event-time guard still keeps a group
from going back to anything older than what it runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from ..clients.eci import tag_calls
from ..clients.eci_model import ContainerGroup
from ..core.log import log_event
from ..events.model import PushEvent
from ..planning import tracking
from ..planning.newer import compare, seen
from ..planning.steps import Plan, Skip, Step
from ..rules.model import Rule, RuleSet
from . import RELEASE_SOURCE, store
from .decide import Approval, Change, Decision, Evidence, ScanResult, Subject, evaluate


class EvidenceSource(Protocol):
    """Where scan results and signatures are looked up when no event brought them (the ACR API)."""

    def scan(self, rule: Rule, subject: Subject) -> ScanResult | None: ...

    def signed(self, rule: Rule, subject: Subject) -> bool | None: ...


def _wall() -> datetime:
    return datetime.now(timezone.utc)


CLOCK: Callable[[], datetime] = _wall  # the wall clock every gate decision reads (tests replace it)


def _utcnow() -> datetime:
    return CLOCK()


@dataclass
class GateContext:
    now: Callable[[], datetime] = _utcnow
    lookup: EvidenceSource | None = None  # None: evidence only from tags and events
    events: dict[str, Evidence] = field(default_factory=dict)  # digest -> evidence an event brought
    webhook_url: str | None = None  # the webhook function's URL, for approve links
    # (held change id, held since ms) -> an approval a work order brings: it counts for that hold only
    approvals: dict[tuple[str, int], Approval] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, lookup: bool = True) -> GateContext:
        """The wall clock, the ACR API when credentials are there (the worker asks it too: the single
        writer decides on what it finds itself), the approve links' base URL."""
        from .acr import evidence_from_env

        return cls(
            lookup=evidence_from_env(env) if lookup else None,
            webhook_url=(env.get("ECI_REDEPLOY_WEBHOOK_URL") or "").rstrip("/") or None,
        )


@dataclass
class Transition:
    """A change of a held change's state, reported once (audit line per group, one notification)."""

    outcome: str  # held | refused | released | superseded
    rule: str
    version: str
    event: PushEvent
    decision: Decision | None
    groups: list[str] = field(default_factory=list)
    detail: str = ""
    id: str = ""  # the hold's id (store.approval_id): what a notification shows and an approval names


@dataclass
class _Writes:
    set: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = field(default_factory=dict)
    unset: dict[tuple[str, tuple[str, ...]], list[str]] = field(default_factory=dict)

    def put(self, region: str, gid: str, tags: Mapping[str, str]) -> None:
        self.set.setdefault((region, tuple(sorted(tags.items()))), []).append(gid)

    def drop(self, region: str, gid: str, keys: Iterable[str]) -> None:
        keys = tuple(sorted(keys))
        if keys:
            self.unset.setdefault((region, keys), []).append(gid)


def version_for(rule: Rule, event: PushEvent) -> str:
    return tracking.version_of(event.digest if rule.pull.digest else None, event.tag)


def subject_for(rule: Rule, event: PushEvent) -> Subject:
    acr = rule.pull.acr
    instance = event.instance_id or (acr.instance_id if acr else None)
    if instance is None and rule.source.registry and rule.source.registry.startswith("cri-"):
        instance = rule.source.registry
    region = event.region or (acr.region if acr and acr.region else None) or rule.target.region
    return Subject(event.repository, event.tag, event.digest, instance, region, event.time)


def _units(steps: Sequence[Step]) -> list[list[Step]]:
    from ..execution.rollout import units

    return units(steps)


def _strip(step: Step) -> Step:
    """The step without its rule's held-change tags: a released change leaves no hold of its rule
    behind (other rules' holds on the group stay)."""

    def kept(tags: list[dict[str, str]]) -> list[dict[str, str]]:
        ours = set(store.keys_of({t.get("Key", ""): t.get("Value", "") for t in tags}, step.rule or ""))
        return [t for t in tags if t.get("Key") not in ours]

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


def _replayed_approval(ctx: GateContext, rule: str, version: str, event: PushEvent) -> Approval | None:
    """For a group with no hold left (a restart released in an earlier time slice dropped them all up
    front): the approval a release order brought for the very hold this push replays (its event id is
    `held:<rule>:<held since ms>`, replay_event), same rule, same version."""
    since = replayed_since(event, rule)
    if since is None or not ctx.approvals:
        return None
    return ctx.approvals.get((store.approval_id(rule, version, since), since))


def replayed_since(event: PushEvent, rule: str) -> int | None:
    """When the hold a release replays was created (`held:<rule>:<held since ms>`, replay_event): the
    product's own record of when it first saw the change, carried by its own work order."""
    prefix, _, since = event.event_id.rpartition(":")
    if event.source != RELEASE_SOURCE or prefix != f"held:{rule}" or not since.isascii() or not since.isdigit():
        return None
    return int(since)


def gate_plan(
    plan: Plan,
    rules: RuleSet,
    groups: Iterable[ContainerGroup],
    gateway: Any,
    env: Mapping[str, str],
    *,
    context: GateContext | None = None,
    dry_run: bool = False,
) -> Plan:
    """The plan with only what may go now; held and refused changes recorded, reported, skipped."""
    ctx = context or GateContext.from_env(env)
    gating = _gate(plan, rules, groups, ctx)
    if gating is None:
        return plan
    if not dry_run:
        failed = _write(gating.writes, gateway)
        for gid in failed:
            gating.out.skipped.append(
                Skip(None, f"could not record the hold on {gid}: the next push or reconcile asks again")
            )
        _report(list(gating.transitions.values()), rules, env, ctx)
    return gating.out


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
        rest = [t for t in tags if t.get("Key") not in gone and t.get("Key") not in put]
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


def _write(writes: _Writes, gateway: Any) -> list[str]:
    """UntagResources then TagResources, 20 groups a call; returns the groups whose write failed."""
    failed: list[str] = []
    calls: list[tuple[str, str, list[str], dict[str, Any]]] = [
        ("UntagResources", region, ids, {"TagKey": list(keys)}) for (region, keys), ids in writes.unset.items()
    ]
    calls += [
        ("TagResources", region, ids, {"Tag": [{"Key": k, "Value": v} for k, v in pairs]})
        for (region, pairs), ids in writes.set.items()
    ]
    for action, region, ids, what in calls:
        for chunk, exc in tag_calls(gateway, action, region, ids, what):
            log_event("gates.write_failed", action=action, groups=chunk, error=exc.one_line())
            failed.extend(chunk)
    return failed


def _report(transitions: list[Transition], rules: RuleSet, env: Mapping[str, str], ctx: GateContext) -> None:
    from ..report.notify import Message, send

    messages = []
    for t in transitions:
        waiting = t.decision.waiting if t.decision else ()
        reason = (
            t.decision.reason
            if t.decision and t.decision.verdict == "refused"
            else "; ".join(f"{w.gate}: {w.releases_by}" for w in waiting)
        )
        if t.outcome == "superseded":
            reason = "replaced by a newer push"
        hid = t.id
        for gid in t.groups:
            log_event(
                "audit",
                event_id=t.event.event_id,
                event_source=t.event.source,
                rule=t.rule,
                target=gid,
                group_id=gid if gid.startswith("eci-") else None,
                action=None,
                outcome=t.outcome,
                image_before=None,
                image_after=None,
                digest_before=None,
                digest_after=t.version if t.version.startswith("sha256:") else None,
                request_id=None,
                rollback_request_id=None,
                duration_ms=0.0,
                reason=f"{hid}: {reason}" if reason else hid,
                gate=waiting[0].gate if waiting else None,
            )
        if t.outcome in ("held", "refused"):
            detail = reason
            if t.outcome == "held" and any(w.gate == "approval" for w in waiting):
                link = f"{ctx.webhook_url}/approvals/{hid}" if ctx.webhook_url else f"/approvals/{hid}"
                detail += f"\n- approve: POST {link} with an approver's token (Authorization: Bearer …)"
            if t.decision and t.decision.counts:
                detail += "\n- scan: " + ScanResult("COMPLETE", t.decision.counts).summary()
            messages.append(
                Message(
                    t.rule,
                    t.outcome,
                    t.event.describe(),
                    t.event.digest,
                    [{"target": g, "status": t.outcome} for g in t.groups],
                    t.event.summary(),
                    f"{hid}: {detail}",
                )
            )
    if messages:
        send(messages, rules, env)


# ---- held changes: listing and release ----


@dataclass
class HeldChange:
    held: store.Held
    rule: Rule
    groups: list[ContainerGroup]

    def to_json(self, gates: Any, now: datetime) -> dict[str, Any]:
        evidence = Evidence(
            ScanResult("COMPLETE", {}) if "scan" in self.held.passed else None,
            True if "signed" in self.held.passed else None,
            self.held.approval,
        )
        change = Change(self.rule.name, self.held.version, self.held.pushed_at, self.held.since)
        decision = evaluate(gates, change, evidence, now)
        out: dict[str, Any] = {
            "id": self.held.id,
            "rule": self.rule.name,
            "version": self.held.version,
            "tag": self.held.tag,
            "state": self.held.state,
            "since": self.held.since.isoformat(),
            "pushed_at": self.held.pushed_at.isoformat() if self.held.pushed_at else None,
            "groups": sorted(g.id for g in self.groups),
            "passed": list(self.held.passed),
        }
        if self.held.approval:
            out["approved_by"] = self.held.approval.approver
            out["approved_at"] = self.held.approval.at.isoformat()
        if self.held.state == "held":
            out["waiting_on"] = [
                {
                    "gate": w.gate,
                    "releases_by": w.releases_by,
                    **({"at": w.releases_at.isoformat()} if w.releases_at else {}),
                }
                for w in decision.waiting
            ]
            if decision.verdict == "refused":
                out["next"] = f"refused at the next reconcile: {decision.reason}"
            elif decision.verdict == "go":
                out["next"] = "released at the next reconcile"
        return out


def observe_rule(gateway: Any, rule: Rule, rules: RuleSet) -> list[ContainerGroup]:
    from ..execution.apply import observe

    probe = PushEvent(rule.source.repository, None, None, "gates", "probe")
    return list(observe(gateway, [probe], RuleSet([rule], rules.templates), check=False))


def held_changes(
    rules: RuleSet,
    gateway: Any,
    *,
    only: str | None = None,
    observed: dict[str, list[ContainerGroup]] | None = None,
    repositories: frozenset[str] | None = None,
) -> list[HeldChange]:
    """Held and refused changes of the gated rules (`only` one rule; only rules watching `repositories`):
    one describe per rule, nothing else."""
    out: list[HeldChange] = []
    for rule in rules:
        if (only is not None and rule.name != only) or rules.gates_for(rule) is None:
            continue
        if repositories is not None and rule.source.repository not in repositories:
            continue
        groups = observe_rule(gateway, rule, rules)
        if observed is not None:
            observed[rule.name] = groups
        by_version: dict[str, HeldChange] = {}
        for group in groups:
            held = store.read(group.tag_map, rule.name)
            if held is None or held.rule != rule.name:
                continue
            entry = by_version.setdefault(held.version, HeldChange(held, rule, []))
            entry.groups.append(group)
            if held.since_ms < entry.held.since_ms:
                entry.held = held
        out.extend(by_version.values())
    return out


def status(rules: RuleSet, gateway: Any, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or _utcnow()
    changes = held_changes(rules, gateway)
    items = []
    for c in changes:
        gates = rules.gates_for(c.rule)
        items.append(c.to_json(gates, now))
    return {
        "held": [i for i in items if i["state"] == "held"],
        "refused": [i for i in items if i["state"] == "refused"],
        "now": now.isoformat(),
    }


def replay_event(rule: Rule, held: store.Held, *, source: str = RELEASE_SOURCE) -> PushEvent:
    """The held push, planned again: same version, same push time; a stable id so a repeated release
    of one hold is one decision (the same ClientTokens)."""
    registry = rule.source.registry
    instance = (
        registry if registry and registry.startswith("cri-") else (rule.pull.acr.instance_id if rule.pull.acr else None)
    )
    return PushEvent(
        rule.source.repository,
        held.tag,
        held.digest,
        source,
        f"held:{rule.name}:{held.since_ms}",
        time=held.pushed_at,
        registry_host=registry if registry and not registry.startswith("cri-") else None,
        instance_id=instance,
        instance_name=(rule.pull.acr.instance_name or None) if rule.pull.acr else None,
        region=(rule.pull.acr.region if rule.pull.acr else None),
        signed=True,
        only_rule=rule.name,  # planned for this rule alone (decide honours PushEvent.only_rule)
    )


def is_held(skip: Skip) -> bool:
    """Whether a skip is a change the gates hold (the timer hands those to the writer to record)."""
    return skip.reason.startswith("held (")


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
    dry_run: bool = False,
    clock: Any = None,
    deadline: float | None = None,
    hand_off: Callable[[list[PushEvent], Any], Any] | None = None,
) -> Any:
    """Plan every held change again (those `match` selects) with what is known now: drop stale holds,
    record evidence, hold or refuse, apply what goes. With `hand_off` none of that is done here: the
    pushes whose release would change anything are handed to the single writer, which does it (with
    the evidence `context.events` holds). Returns the apply Report, or HandedOff (None: nothing held)."""
    from ..execution.apply import carry_out

    ctx = context or GateContext.from_env(env)
    found = _replan(rules, gateway, env, match, repositories)
    if found is None:
        return None
    if hand_off is not None:
        return _hand_off(found, rules, ctx, hand_off, dry_run=dry_run)
    if not dry_run:
        _write(found.stale, gateway)
    gated = gate_plan(found.plan, rules, found.groups.values(), gateway, env, context=ctx, dry_run=dry_run)
    return carry_out(gated, rules, gateway, env, dry_run=dry_run, clock=clock, deadline=deadline)


def _hand_off(
    found: _Replanned, rules: RuleSet, ctx: GateContext, hand_off: Callable[..., Any], *, dry_run: bool
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
    answer = hand_off(events, _work(ctx.events, events)) if events and not dry_run else None
    return HandedOff(shown, events, answer)


def _work(known: Mapping[str, Evidence], events: list[PushEvent]) -> Any:
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
