"""planning/coalesce.py: pushes of one delivery sorted and coalesced per rule, newest by the rule's own order
(`TagPolicy.order_key`), then event time, then delivery order; and `decide` planning only the winners."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from eci_redeploy.events.model import PushEvent
from eci_redeploy.planning.coalesce import coalesce
from eci_redeploy.planning.decide import decide

from helpers import group, rule

PUBLIC = {"public": ["reg.example.com"]}
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def push(tag: str, n: int, *, minutes: int | None = None, repository: str = "team/web") -> PushEvent:
    when = T0 + timedelta(minutes=minutes) if minutes is not None else None
    return PushEvent(repository, tag, "sha256:" + f"{n:064x}", "distribution", f"e{n}", when, "reg.example.com")


def test_semver_rules_take_the_highest_version_whatever_the_clock_says(make_rules):
    rules = make_rules(rule("web", tags={"semver": "^1.0.0"}))
    events = [push("1.10.0", 1, minutes=1), push("1.9.0", 2, minutes=5), push("1.2.0", 3, minutes=9)]
    merged = coalesce(events, rules)
    assert merged.only == [None, [], []]  # 1.10.0 wins; 1.9.0 and 1.2.0 are planned for no rule
    assert {(s.event.tag, s.by.tag, s.basis) for s in merged.superseded} == {
        ("1.9.0", "1.10.0", "the rule's tag order"),
        ("1.2.0", "1.10.0", "the rule's tag order"),
    }


def test_rules_without_an_order_take_the_latest_push_then_the_delivery_order(make_rules):
    rules = make_rules(rule("web", tags={"glob": "main-*"}))
    by_time = coalesce([push("main-b", 1, minutes=9), push("main-a", 2, minutes=1)], rules)
    assert by_time.only == [None, []] and by_time.superseded[0].basis == "event time"
    untimed = coalesce([push("main-b", 1), push("main-a", 2)], rules)
    assert untimed.only == [[], None] and untimed.superseded[0].basis == "delivery order"


def test_each_rule_coalesces_on_its_own(make_rules):
    # The same two pushes: the semver rule wants 1.10.0 (higher), the glob rule the later push 1.9.0.
    rules = make_rules(
        rule("by-version", tags={"semver": "^1.0.0"}, selector={"tags": {"app": "web"}}, pull=PUBLIC),
        rule("by-time", tags={"glob": "1.*"}, selector={"tags": {"app": "canary"}}, pull=PUBLIC),
    )
    events = [push("1.10.0", 1, minutes=1), push("1.9.0", 2, minutes=5)]
    merged = coalesce(events, rules)
    assert merged.only == [["by-version"], ["by-time"]]
    groups = [
        group("eci-web", "reg.example.com/team/web:1.0.0"),
        group("eci-canary", "reg.example.com/team/web:1.0.0", tags={"app": "canary"}),
    ]
    plan = decide(events, rules, groups, {})
    assert sorted((s.rule, s.target, s.image.rsplit("@", 1)[1][-2:]) for s in plan.steps) == [
        ("by-time", "eci-canary", "02"),
        ("by-version", "eci-web", "01"),
    ]
    reasons = {(s.rule, s.reason) for s in plan.skipped}
    assert (
        "by-version",
        f"{events[1].describe()} superseded by {events[0].describe()} in the same delivery (the rule's tag order)",
    ) in reasons
    assert (
        "by-time",
        f"{events[0].describe()} superseded by {events[1].describe()} in the same delivery (event time)",
    ) in reasons
    assert [e.event_id for e in plan.events] == ["e1", "e2"]  # both still listed as read


def test_pushes_no_rule_acts_on_and_other_repositories_are_left_alone(make_rules):
    rules = make_rules(rule("web", tags={"semver": "^1.0.0"}, pull=PUBLIC))
    events = [push("1.1.0", 1), push("2.0.0", 2), push("1.0.0", 3, repository="team/api"), push("1.2.0", 4)]
    merged = coalesce(events, rules)
    # 2.0.0 is outside the range and team/api is unwatched: planned as before (they report their own skip).
    assert merged.only == [[], None, None, None]
    plan = decide(events, rules, [group("eci-web", "reg.example.com/team/web:1.0.0")], {})
    assert [s.image.rsplit(":", 1)[1][-1] for s in plan.steps] == ["4"]
    assert "tag 2.0.0 is outside '^1.0.0'" in [s.reason for s in plan.skipped]
    assert "no rule watches team/api" in [s.reason for s in plan.skipped]


def test_a_single_push_is_planned_exactly_as_before(make_rules):
    rules = make_rules(rule("web", tags={"semver": "^1.0.0"}, pull=PUBLIC))
    groups = [group("eci-web", "reg.example.com/team/web:1.0.0")]
    event = push("1.1.0", 1)
    from eci_redeploy.planning.planner import plan_event

    alone, direct = decide([event], rules, groups, {}), plan_event(event, rules, groups, {})
    assert [s.body for s in alone.steps] == [s.body for s in direct.steps]
