"""Property: every module that asks "which push is newer" gets the same answer (issue 27 item 1).

Four places used to decide it with different tie-breaks: coalescing one delivery, the single writer
dropping superseded work, the gates replacing a held change, and the planner's check against what a
group's record says was applied. When two of them disagree the writer can drop a push the planner
would deploy. Each is driven here through its own entry point with two pushes drawn at random (tags
in and out of the rule's order, equal and different times, no time, a time in 2099), under a semver
rule, a glob rule and a semver rule with `allow_downgrade`, and held to `planning.newer.compare`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.executor import DryRun
from eci_redeploy.execution.writer import superseded
from eci_redeploy.planning import newer, tracking
from eci_redeploy.planning.coalesce import coalesce
from eci_redeploy.planning.newer import DELIVERY_ORDER, Seen, compare
from eci_redeploy.planning.planner import plan_event
from eci_redeploy.rules.model import parse_rules

from helpers import examples, group, rule

HOST = "reg.example.com"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
FAR = datetime(2099, 1, 1, tzinfo=timezone.utc)  # a recorded time no clock has reached: never evidence
RULES_RAW = {
    "semver": rule("web", tags={"semver": ">=0.1.0"}, pull={"public": [HOST]}),
    "glob": rule("web", tags={"glob": "*"}, pull={"public": [HOST]}),
    "rollback": {**rule("web", tags={"semver": ">=0.1.0"}, pull={"public": [HOST]}), "allow_downgrade": True},
    # `updates: minor`: 1.x and 2.x are other lines (other groups), so neither is newer than the other
    "minor": rule("web", tags={"semver": ">=0.1.0", "updates": "minor"}, pull={"public": [HOST]}),
}
RULES = {kind: parse_rules({"version": 1, "rules": [body]}) for kind, body in RULES_RAW.items()}
# the same rules with a gate: the gates' own check of a push against the change they hold
GATED_RULES = {
    kind: parse_rules({"version": 1, "rules": [{**body, "gates": {"soak": "15m"}}]}) for kind, body in RULES_RAW.items()
}
TAGS = st.sampled_from(["1.0.0", "1.2.0", "1.10.0", "2.0.0"])  # each rule acts on all of them
TIMES = st.one_of(st.none(), st.just(FAR), st.integers(0, 3).map(lambda m: T0 + timedelta(minutes=m)))


def push(n: int, tag: str, when: datetime | None) -> PushEvent:
    return PushEvent("team/web", tag, f"sha256:{n:064x}", "distribution", f"ev-{n}", time=when, registry_host=HOST)


def seen(rules, event: PushEvent, received: int | None = None) -> Seen:
    return newer.seen(rules.rules[0], event.tag, event.time, received)


def applied(event: PushEvent, name: str = "g"):
    """A group the rule last changed to `event` (its image, and the record the planner writes)."""
    tags = {"app": "web", tracking.DIGEST: event.digest, tracking.RULE: "web", tracking.TAG: event.tag}
    ms = tracking.millis(event.time)
    if ms is not None:
        tags[tracking.EVENT_TIME] = str(ms)
    return group(name, f"{HOST}/team/web@{event.digest}", tags=tags)


def deploys(event: PushEvent, over: PushEvent, rules) -> bool:
    return bool(plan_event(event, rules, [applied(over)], {}).steps)


def passed_over_by_the_gates(event: PushEvent, held: PushEvent, kind: str) -> bool:
    """Whether the gates skip `event` as older than the change held for `held` (gates.flow, dry run)."""
    from eci_redeploy.gates import store
    from eci_redeploy.gates.flow import GateContext, gate_plan

    rules = GATED_RULES[kind]
    hold = store.Held("web", held.digest, held.tag, "held", tracking.millis(held.time), tracking.millis(T0), ())
    running = f"{event.tag.split('.')[0]}.0.0"  # on the push's own line: the guards let it reach the gates
    g = group("g", f"{HOST}/team/web:{running}", tags={"app": "web", **hold.tags()})
    plan = plan_event(event, rules, [g], {})
    ctx = GateContext(now=lambda: T0 + timedelta(minutes=1))
    out = gate_plan(plan, rules, [g], None, {}, context=ctx, executor=DryRun())
    return any("older than the held change" in s.reason for s in out.skipped)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(RULES)), TAGS, TIMES, TAGS, TIMES)
def test_every_caller_agrees_with_the_one_comparator(kind, tag_a, time_a, tag_b, time_b):
    rules = RULES[kind]
    a, b = push(1, tag_a, time_a), push(2, tag_b, time_b)
    # coalescing: of one delivery [a, b], b wins exactly when the comparator says so (delivery order
    # breaking a tie), and names the same basis
    verdict = compare(seen(rules, b, 1), seen(rules, a, 0))
    lost = [(s.event, s.basis) for s in coalesce([a, b], rules).superseded]
    if seen(rules, a).line != seen(rules, b).line:  # other `updates` lines: other groups, both kept
        assert verdict.order == 0 and lost == []
    else:
        assert verdict.order != 0  # the delivery order always tells
        back = compare(seen(rules, a, 0), seen(rules, b, 1))
        assert lost == ([(a, verdict.basis)] if verdict.newer else [(b, back.basis)])
    # the writer, which knows no receipt order: drops a for b exactly when b is newer without it
    plain = compare(seen(rules, b), seen(rules, a))
    assert (superseded(a, [b], rules) is b) == plain.newer
    assert (superseded(b, [a], rules) is a) == plain.older
    if plain.order != 0:
        assert verdict.basis != DELIVERY_ORDER and verdict.order == plain.order
    # the planner, against a group whose record is the other push: what the writer drops, the
    # planner would never deploy over the newer one; what it keeps because it is newer, it deploys
    # unless the rule's own guards say no (a downgrade: only without allow_downgrade)
    if plain.newer:
        assert not deploys(a, b, rules)
        assert deploys(b, a, rules)
    if plain.order == 0 and tag_a == tag_b:
        assert deploys(b, a, rules)  # cannot tell them apart: the later delivery is not skipped as older
    # the gates, holding a: they pass b over as older exactly when the comparator says b is older
    assert passed_over_by_the_gates(b, a, kind) == plain.older


def test_a_time_from_2099_is_no_evidence_in_any_caller():
    rules = RULES["glob"]
    poisoned, genuine = push(1, "1.0.0", FAR), push(2, "1.2.0", T0)
    assert compare(seen(rules, genuine), seen(rules, poisoned)).order == 0
    assert superseded(genuine, [poisoned], rules) is None
    assert deploys(genuine, poisoned, rules)  # the record of 2099 no longer blocks a genuine push


def test_the_gates_check_is_exercised_both_ways():
    older, newer = push(1, "1.0.0", T0), push(2, "1.2.0", T0 - timedelta(minutes=1))
    assert passed_over_by_the_gates(older, newer, "semver")  # a lower version than the one held
    assert not passed_over_by_the_gates(newer, older, "semver")
    assert not passed_over_by_the_gates(older, newer, "rollback")  # later by time: it replaces the hold
