"""The single writer's queue (execution/writer.py) on its own: which queued pushes a newer one supersedes (by the
rule's order, `TagPolicy.order_key`, then event time), de-duplication, and the retry budget."""

from __future__ import annotations

import threading

import pytest

from eci_redeploy.core.errors import RetryLater
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.handoff import WorkOrder
from eci_redeploy.execution.writer import RetryBudget, Writer, superseded

import helpers
from helpers import rule


def push(tag, minutes, repository="team/web", event_id=None):
    return helpers.push(tag, None, repository=repository, minutes=minutes, event_id=event_id or f"ev-{tag}-{minutes}")


@pytest.fixture
def semver_rules(make_rules):
    return make_rules(rule("web", tags={"semver": "^1.0.0"}))


def test_a_higher_version_supersedes_even_when_pushed_earlier(semver_rules):
    # semver rules order by version (1.10.0 > 1.9.0, not as strings), event time only breaks ties
    old, new = push("1.9.0", minutes=5), push("1.10.0", minutes=1)
    assert superseded(old, [new], semver_rules) is new
    assert superseded(new, [old], semver_rules) is None


def test_the_same_version_pushed_again_later_supersedes_the_earlier_push(semver_rules):
    first, again = push("1.2.0", minutes=1), push("1.2.0", minutes=2)
    assert superseded(first, [again], semver_rules) is again
    assert superseded(again, [first], semver_rules) is None
    assert superseded(first, [first], semver_rules) is None  # itself never counts


def test_rules_without_an_order_of_their_own_use_event_time(make_rules):
    rules = make_rules(rule("web", tags={"glob": "main-*"}))
    older, newer = push("main-zzz", minutes=1), push("main-aaa", minutes=2)
    assert superseded(older, [newer], rules) is newer
    assert superseded(newer, [older], rules) is None
    untimed = PushEvent("team/web", "main-x", None, "distribution", "ev-x", registry_host="reg.example.com")
    assert superseded(untimed, [newer], rules) is None  # nothing to compare: it runs


def test_a_push_is_superseded_only_when_newer_for_every_rule_it_acts_on(make_rules):
    rules = make_rules(
        rule("all", tags={"glob": "*"}),
        rule("stable", tags={"semver": "^1.0.0"}, selector={"tags": {"app": "stable"}}),
    )
    stable = push("1.3.0", minutes=1)
    prerelease_later = push("1.4.0-rc.1", minutes=2)  # newer for "all", not a deploy for "stable"
    assert superseded(stable, [prerelease_later], rules) is None
    assert superseded(stable, [push("1.4.0", minutes=2)], rules) is not None


def test_pushes_of_other_repositories_and_unwatched_pushes_never_interact(semver_rules):
    assert superseded(push("1.1.0", 1), [push("1.2.0", 2, repository="team/api")], semver_rules) is None
    assert superseded(push("1.1.0", 1, repository="team/api"), [push("1.2.0", 2)], semver_rules) is None


class Held:
    """A work function that blocks on its first order, so that later ones queue up behind it."""

    def __init__(self, fail_times=0):
        self.release = threading.Event()
        self.ran: list[list[str]] = []
        self.fail_times = fail_times

    def __call__(self, order):
        self.ran.append([e.tag for e in order.events])
        if len(self.ran) == 1:
            self.release.wait(10)
        if self.fail_times:
            self.fail_times -= 1
            raise RetryLater("throttled")
        return "done"


def order(*events):
    return WorkOrder.for_events(list(events))


def test_queued_orders_are_superseded_by_a_newer_queued_push_and_duplicates_dropped(semver_rules):
    work = Held()
    writer = Writer(work, lambda: semver_rules, budget=RetryBudget(retries=0))
    try:
        writer.submit(order(push("1.1.0", 1)))  # running, held
        while not work.ran:
            pass
        for tag, minutes in (("1.3.0", 3), ("1.2.0", 2), ("1.5.0", 5), ("1.4.0", 4)):
            writer.submit(order(push(tag, minutes)))
        assert writer.submit(order(push("1.5.0", 5))).via == "writer:duplicate"
        work.release.set()
        assert writer.drain(10)
    finally:
        writer.stop()
    assert work.ran == [["1.1.0"], ["1.5.0"]]
    assert writer.counts["superseded"] == 3 and writer.counts["duplicate"] == 1


def test_one_delivery_with_an_older_push_after_a_newer_one_keeps_the_newer(semver_rules):
    work = Held()
    work.release.set()
    writer = Writer(work, lambda: semver_rules)
    try:
        writer.submit(order(push("1.2.0", 2), push("1.1.0", 1)))  # {"events": [1.2.0 @ 10:02, 1.1.0 @ 10:01]}
        assert writer.drain(10)
    finally:
        writer.stop()
    assert work.ran == [["1.2.0"]]


def test_a_retryable_failure_is_retried_with_backoff_until_the_budget_is_spent(semver_rules):
    work = Held(fail_times=10)
    work.release.set()
    writer = Writer(work, lambda: semver_rules, budget=RetryBudget(retries=3, initial=0.01, maximum=0.02))
    try:
        accepted = writer.submit(order(push("1.1.0", 1)))
        assert writer.drain(10)
    finally:
        writer.stop()
    assert len(work.ran) == 4  # the first try and 3 retries
    assert writer.results[accepted.task_id].startswith("gave-up: throttled")
    assert writer.counts == {**writer.counts, "retried": 3, "gave_up": 1}


def test_a_retry_that_succeeds_reports_the_result(semver_rules):
    work = Held(fail_times=2)
    work.release.set()
    writer = Writer(work, lambda: semver_rules, budget=RetryBudget(retries=3, initial=0.01, maximum=0.02))
    try:
        accepted = writer.submit(order(push("1.1.0", 1)))
        assert writer.drain(10)
    finally:
        writer.stop()
    assert writer.results[accepted.task_id] == "done" and len(work.ran) == 3


def test_backoff_grows_and_is_bounded():
    import random

    budget = RetryBudget(initial=1.0, maximum=8.0)
    rng = random.Random(1)
    delays = [budget.delay(n, rng) for n in range(1, 8)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 2.0 <= delays[2] <= 4.0
    assert all(4.0 <= d <= 8.0 for d in delays[4:])


@pytest.mark.parametrize("value", ["three", "-1"])
def test_a_bad_retry_setting_is_one_clear_error(value):
    from eci_redeploy.core.errors import ConfigError

    with pytest.raises(ConfigError, match="ECI_REDEPLOY_WORKER_RETRIES must be a whole number of at least 0, not"):
        RetryBudget.from_env({"ECI_REDEPLOY_WORKER_RETRIES": value})
    assert RetryBudget.from_env({}) == RetryBudget()


@pytest.mark.parametrize("value", ["many", "0", "2.5"])
def test_a_bad_step_limit_is_one_clear_error_before_anything_is_handed_off(value):
    """ECI_REDEPLOY_WORKER_MAX_STEPS is read by the same parser as the writer's budget
    (core.settings.env_number): a whole number of at least 1, else one error naming it."""
    from eci_redeploy.core.errors import ConfigError
    from eci_redeploy.functions import push_worker

    order = WorkOrder.for_events([push("1.1.0", 1)])
    handed = []
    with pytest.raises(ConfigError, match="ECI_REDEPLOY_WORKER_MAX_STEPS must be a whole number of at least 1"):
        push_worker._continue(order, None, {"ECI_REDEPLOY_WORKER_MAX_STEPS": value}, None, 0.0, handed)
    assert handed == []


def test_an_evidence_order_is_no_push_it_neither_supersedes_nor_is_superseded(semver_rules):
    """A signature handed to the writer before its push ran (gates.early: source gate-evidence, no time)
    is evidence, not a push of the version: the queued push of the same version must not drop it (the
    push would then be held with its only signature lost: ACR sends it once), and it must not drop a push
    of an older version either (it deploys nothing itself)."""
    from eci_redeploy.execution import writer
    from eci_redeploy.gates import EVIDENCE_SOURCE

    assert writer.EVIDENCE_SOURCE == EVIDENCE_SOURCE

    def signing(tag):
        return PushEvent(
            "team/web", tag, "sha256:" + "ab" * 32, EVIDENCE_SOURCE, f"sig-{tag}", signed=True, only_rule="web"
        )

    assert superseded(signing("1.2.0"), [push("1.2.0", minutes=1)], semver_rules) is None
    assert superseded(signing("1.2.0"), [push("1.3.0", minutes=1)], semver_rules) is None
    assert superseded(push("1.1.0", minutes=1), [signing("1.2.0")], semver_rules) is None
