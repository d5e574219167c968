"""Gates in the flow: a plan is gated before it is applied, held changes are released later.

    plan (pure) -> gate_plan: per rollout unit, go | held (recorded in the groups' tags) | refused
                -> apply (only what goes)
    release (timer, ScanCompleted / SigningCompleted, approvals): held changes are planned again as a
    redelivery of their push (same digest, same push time, same ClientTokens), with the evidence
    that came in, and gated again.

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

from .. import tracking
from ..errors import EciApiError
from ..log import log_event
from ..plan import Plan, Skip, Step
from ..pushevent import PushEvent
from ..rules import Rule, RuleSet
from ..state import ContainerGroup
from . import RELEASE_SOURCE, store
from .decide import Approval, Change, Decision, Evidence, ScanResult, evaluate, newer


class EvidenceSource(Protocol):
    """Where scan results and signatures are looked up when no event brought them (the ACR API)."""

    def scan(self, rule: Rule, subject: Subject) -> ScanResult | None: ...

    def signed(self, rule: Rule, subject: Subject) -> bool | None: ...


@dataclass(frozen=True)
class Subject:
    """The pushed image a gate asks about, as ACR EE names it."""

    repository: str
    tag: str | None
    digest: str | None
    instance_id: str | None
    region: str | None
    pushed_at: datetime | None = None


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
    from ..rollout import units

    return units(steps)


def _strip(step: Step) -> Step:
    """The step without our held-change tags: a released change leaves no hold behind."""
    body = step.body
    if "Tag" in body:
        body = {**body, "Tag": [t for t in body["Tag"] if t.get("Key") not in store.KEYS]}
    rollback = step.rollback
    if rollback and "Tag" in rollback:
        rollback = {**rollback, "Tag": [t for t in rollback["Tag"] if t.get("Key") not in store.KEYS]}
    return dataclasses.replace(step, body=body, rollback=rollback)


def _evidence(
    held: store.Held | None, version: str, rule: Rule, event: PushEvent, gates: Any, ctx: GateContext
) -> Evidence:
    scan: ScanResult | None = None
    signed: bool | None = None
    approval: Approval | None = None
    if held is not None and held.version == version:
        if "scan" in held.passed:
            scan = ScanResult("COMPLETE", {})
        if "signed" in held.passed:
            signed = True
        approval = held.approval
    brought = ctx.events.get(event.digest or "") or ctx.events.get(f":{event.tag}")
    if brought is not None:
        scan = brought.scan or scan
        signed = brought.signed if brought.signed is not None else signed
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
    dry_run: bool = False,
    record: bool = False,
) -> Plan:
    """The plan with only what may go now; held and refused changes recorded, reported, skipped.
    `record`: what may go is not applied by the caller but handed to the single writer: its evidence is
    recorded in the hold (the writer decides again from the tags) and the hold stays until it went."""
    gated = {r.name: (r, g) for r in rules if (g := rules.gates_for(r)) is not None}
    if not gated or not plan.steps:
        return plan
    ctx = context or GateContext.from_env(env)
    now = ctx.now()
    by_id = {g.id: g for g in groups}
    events = {e.event_id: e for e in plan.events}
    out = Plan(steps=[], skipped=list(plan.skipped), events=list(plan.events))
    writes = _Writes()
    transitions: dict[tuple[str, str, str], Transition] = {}
    # The groups of one rollout share their evidence and decision: the ACR API is asked once per push.
    decisions: dict[tuple[Any, ...], Decision] = {}

    def note(outcome: str, rule: str, version: str, event: PushEvent, decision: Decision | None, gid: str) -> None:
        t = transitions.setdefault((outcome, rule, version), Transition(outcome, rule, version, event, decision))
        t.groups.append(gid)

    for unit in _units(plan.steps):
        name = unit[0].rule
        if name not in gated or unit[0].event_id not in events:
            out.steps.extend(unit)
            continue
        rule, gates = gated[name]
        event = events[unit[0].event_id]
        version = version_for(rule, event)
        group = next((by_id[s.group_id] for s in unit if s.group_id and s.group_id in by_id), None)
        target = group.id if group else unit[0].target
        region = unit[0].region
        held = store.read(group.tag_map) if group is not None else None
        if held is not None and held.rule != name:
            held = None  # another rule's hold on this group: ours replaces it if it is held or goes
        same = held is not None and held.version == version
        if held is not None and not same:
            policy = rules.policy(rule)
            is_newer = newer(policy.order_key(event.tag), event.time, policy.order_key(held.tag), held.pushed_at)
            if is_newer is False:
                out.skipped.append(
                    Skip(name, f"older than the held change {held.version} ({held.id}): nothing is downgraded", target)
                )
                continue
        if same and held is not None and held.state == "refused":
            out.skipped.append(Skip(name, f"refused earlier ({held.id}): push a new image", target))
            continue
        since = held.since if same and held is not None else now
        pushed = event.time or (held.pushed_at if same and held is not None else None)
        key = (name, version, pushed, since, (held.passed, held.approval) if same and held is not None else None)
        decision = decisions.get(key)
        if decision is None:
            evidence = _evidence(held, version, rule, event, gates, ctx)
            decision = decisions[key] = evaluate(gates, Change(name, version, pushed, since), evidence, now)
        if decision.verdict == "go" and record:
            out.steps.extend(unit)
            if group is not None and (same or held is None):
                state = store.Held(
                    name,
                    version,
                    event.tag,
                    "held",
                    store.to_ms(pushed),
                    store.to_ms(since),  # type: ignore[arg-type]
                    decision.passed,
                    held.approval if same and held is not None else None,
                )
                current = {k: group.tag_map[k] for k in store.KEYS if k in group.tag_map}
                if state.tags() != current:
                    writes.put(region, group.id, state.tags())
            continue
        if decision.verdict == "go":
            out.steps.extend(_strip(s) for s in unit)
            ours = [k for k in store.KEYS if group is not None and k in group.tag_map]
            if group is not None and ours and not any("Tag" in s.body for s in unit):
                # A restart (or an update without room for tags) cannot drop the hold itself. Otherwise
                # the change's own tag list drops it, so a change that fails to go keeps its hold.
                writes.drop(region, group.id, ours)
            if same:
                note("released", name, version, event, decision, target)
            elif held is not None:
                note("superseded", name, held.version, event, None, target)
            continue
        state = store.Held(
            name,
            version,
            event.tag,
            "held" if decision.verdict == "held" else "refused",
            store.to_ms(pushed),
            store.to_ms(since),  # type: ignore[arg-type]
            decision.passed,
            held.approval if same and held is not None else None,
        )
        if decision.verdict == "held":
            waiting = "; ".join(f"{w.gate}: {w.releases_by}" for w in decision.waiting)
            out.skipped.append(Skip(name, f"held ({state.id}) until {waiting}", target))
        else:
            out.skipped.append(Skip(name, f"refused ({state.id}): {decision.reason}", target))
        if group is None:
            out.skipped.append(
                Skip(name, "a create has no group to record the hold on: the next push or reconcile asks again", target)
            )
        else:
            desired = state.tags()
            current = {k: group.tag_map[k] for k in store.KEYS if k in group.tag_map}
            if desired != current:
                writes.put(region, group.id, desired)
                stale = [k for k in current if k not in desired]
                writes.drop(region, group.id, stale)
        if held is not None and not same:
            note("superseded", name, held.version, event, None, target)
        if not same or (held is not None and held.state != state.state):
            note(state.state, name, version, event, decision, target)
    if not dry_run:
        failed = _write(writes, gateway)
        for gid in failed:
            out.skipped.append(Skip(None, f"could not record the hold on {gid}: the next push or reconcile asks again"))
        _report(list(transitions.values()), rules, env, ctx)
    return out


def _write(writes: _Writes, gateway: Any) -> list[str]:
    """TagResources / UntagResources in chunks of 20 groups; returns the groups whose write failed."""
    failed: list[str] = []
    for (region, keys), ids in writes.unset.items():
        for start in range(0, len(ids), 20):
            chunk = ids[start : start + 20]
            untag = {"RegionId": region, "ResourceType": "ContainerGroup", "ResourceId": chunk, "TagKey": list(keys)}
            try:
                gateway.call("UntagResources", untag, target=",".join(chunk))
            except EciApiError as exc:
                log_event("gates.write_failed", action="UntagResources", groups=chunk, error=exc.one_line())
                failed.extend(chunk)
    for (region, pairs), ids in writes.set.items():
        for start in range(0, len(ids), 20):
            chunk = ids[start : start + 20]
            body: dict[str, Any] = {
                "RegionId": region,
                "ResourceType": "ContainerGroup",
                "ResourceId": chunk,
                "Tag": [{"Key": k, "Value": v} for k, v in pairs],
            }
            try:
                gateway.call("TagResources", body, target=",".join(chunk))
            except EciApiError as exc:
                log_event("gates.write_failed", action="TagResources", groups=chunk, error=exc.one_line())
                failed.extend(chunk)
    return failed


def _report(transitions: list[Transition], rules: RuleSet, env: Mapping[str, str], ctx: GateContext) -> None:
    from ..notify import Message, send

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
        hid = store.approval_id(t.rule, t.version)
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
    from ..apply import observe

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
            held = store.read(group.tag_map)
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
        extra={"only_rule": rule.name},  # planned for this rule alone (work.ONLY_RULE)
    )


def is_held(skip: Skip) -> bool:
    """Whether a skip is a change the gates hold (the timer hands those to the writer to record)."""
    return skip.reason.startswith("held (")


@dataclass
class HandedOff:
    """A release handed to the single writer: which held pushes may go, and the hand-off's answer."""

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
    hand_off: Callable[[list[PushEvent]], Any] | None = None,
) -> Any:
    """Plan every held change again (those `match` selects) with what is known now; apply what goes, or
    with `hand_off` record the evidence and hand the pushes that may go to the single writer.
    Returns the apply Report, or HandedOff (None when nothing is held)."""
    from ..apply import apply_plan
    from ..planner import plan_event

    ctx = context or GateContext.from_env(env)
    observed: dict[str, list[ContainerGroup]] = {}
    changes = [
        c for c in held_changes(rules, gateway, observed=observed, repositories=repositories) if c.held.state == "held"
    ]
    if match is not None:
        changes = [c for c in changes if match(c)]
    if not changes:
        return None
    plan = Plan()
    groups: dict[str, ContainerGroup] = {}
    stale = _Writes()
    for change in changes:
        rule_groups = observed[change.rule.name]
        groups.update({g.id: g for g in rule_groups})
        for group in change.groups:
            done = tracking.applied(group.tag_map)
            newer_applied = (
                change.held.pushed_ms is not None
                and done.event_time_ms is not None
                and done.event_time_ms > change.held.pushed_ms
            )
            if done.digest == change.held.version or newer_applied:
                # Already there, or something newer went out since: the hold is stale, drop it.
                stale.drop(
                    group.region or change.rule.target.region, group.id, [k for k in store.KEYS if k in group.tag_map]
                )
        event = replay_event(change.rule, change.held)
        plan.extend(plan_event(event, rules, rule_groups, env, only=change.rule.name))
    if not dry_run:
        _write(stale, gateway)
    gated = gate_plan(
        plan, rules, groups.values(), gateway, env, context=ctx, dry_run=dry_run, record=hand_off is not None
    )
    if hand_off is not None:
        going = {s.event_id for s in gated.steps}
        events = [e for e in gated.events if e.event_id in going]
        answer = hand_off(events) if events and not dry_run else None
        return HandedOff(gated, events, answer)
    report = apply_plan(gated, gateway, dry_run=dry_run, rules=rules, clock=clock)
    if not dry_run:
        from ..notify import messages_for, send

        send(messages_for(report), rules, env)
    return report
