"""Safe rollouts on the wire (real SDK -> HTTP -> fake ECI) with injected faults: exactly-once effects,
ordering, in-flight deferral, health gates, rollback, replace safety, interrupted runs, freeze."""

from collections import Counter

import pytest

from eci_redeploy.clients.eci import RetryPolicy
from eci_redeploy.execution.executor import DryRun, Executor
from eci_redeploy.execution.rollout import Clock
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.server import FakeEciServer
from eci_redeploy.pipeline import run

import helpers
from helpers import rule

HOST = "reg.example.com"


def digest(n):
    return "sha256:" + f"{n:x}" * 64 if n < 16 else "sha256:" + f"{n:064x}"


class World:
    """A fake ECI on the wire, a gateway through the real SDK, and one clock for both."""

    def __init__(self, update_seconds=5.0):
        self.now = 1000.0
        self.server = FakeEciServer().start()
        self.backend = self.server.backend
        self.backend.clock = lambda: self.now
        self.backend.update_seconds = update_seconds
        self.backend.startup_seconds = update_seconds
        self.gateway = gateway_for(
            self.server, retry=RetryPolicy(max_attempts=8, max_seconds=60, initial=0.001, maximum=0.002)
        )
        self.on_sleep = []
        self.clock = Clock(sleep=self._sleep, now=lambda: self.now)

    def _sleep(self, seconds):
        self.now += seconds
        for hook in list(self.on_sleep):
            hook()

    def seed(self, n, image=f"{HOST}/team/web:1.0.0", **extra):
        self.backend.seed(
            [
                {
                    "ContainerGroupId": f"eci-{i}",
                    "ContainerGroupName": f"web-{i}",
                    "RegionId": "cn-hangzhou",
                    "Status": "Running",
                    "Tags": [{"Key": "app", "Value": "web"}],
                    "Containers": [{"Name": "app", "Image": image}],
                    **extra,
                }
                for i in range(n)
            ]
        )

    def images(self):
        return {gid: g.spec["Container"][0]["Image"] for gid, g in sorted(self.backend.groups.items())}

    def mutations(self, action=None):
        return self.backend.mutating_calls(action)

    def stop(self):
        self.server.stop()


@pytest.fixture
def world():
    w = World()
    yield w
    w.stop()


def push(n, minutes=0, event_id=None):
    return [helpers.push(f"1.{n}.0", digest(n), minutes=minutes, event_id=event_id or f"ev-{n}")]


def rules_with(make_rules, **rollout):
    return make_rules({**rule("web", pull={"public": [HOST]}), "rollout": {"poll_seconds": 1, **rollout}})


def test_ten_deliveries_change_each_group_exactly_once(world, make_rules):
    world.seed(3)
    rules = rules_with(make_rules)
    for _ in range(10):
        run(push(4), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    assert Counter(c.params["ContainerGroupId"] for c in world.mutations()) == {"eci-0": 1, "eci-1": 1, "eci-2": 1}
    assert set(world.images().values()) == {f"{HOST}/team/web@{digest(4)}"}


def test_an_older_event_after_a_newer_one_changes_nothing(world, make_rules):
    world.seed(2)
    rules = rules_with(make_rules)
    run(push(5, minutes=10), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    before = len(world.mutations())
    report = run(push(4, minutes=5), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    assert len(world.mutations()) == before == 2
    assert all("older than the one already applied" in s.reason for s in report.plan.skipped)
    assert set(world.images().values()) == {f"{HOST}/team/web@{digest(5)}"}


def test_racing_pushes_newer_wins_and_nothing_is_mutated_while_updating(world, make_rules):
    world.seed(1)
    rules = rules_with(make_rules)
    racing = []

    def second_push_arrives():  # while the first rollout waits for the group to become healthy
        if not racing:
            racing.append(run(push(6, minutes=2), rules, world.gateway, {}, executor=Executor(clock=world.clock)))

    world.on_sleep.append(second_push_arrives)
    first = run(push(5, minutes=1), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    world.on_sleep.clear()
    assert first.outcomes[0].health == "ready"
    assert racing[0].deferred and racing[0].outcomes == []  # it saw Updating and kept its hands off
    assert not [c for c in world.backend.calls if c.code == "IncorrectStatus"]
    retried = run(
        push(6, minutes=2), rules, world.gateway, {}, executor=Executor(clock=world.clock)
    )  # the platform's retry
    assert [o.status for o in retried.outcomes] == ["applied"]
    assert world.images() == {"eci-0": f"{HOST}/team/web@{digest(6)}"}
    assert len(world.mutations()) == 2


def test_thirty_percent_throttling_completes_every_rollout_without_duplicates(world, make_rules):
    world.seed(6)
    world.backend.faults.throttle_share = 0.3
    rules = rules_with(make_rules, batch_size=2)
    report = run(push(7), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    assert [o.status for o in report.outcomes] == ["applied"] * 6
    throttled = [c for c in world.backend.calls if c.code == "Throttling.User"]
    assert len(throttled) >= 3  # the faults really happened
    tokens = Counter(c.params["ClientToken"] for c in world.mutations())
    assert len(tokens) == 6 and set(tokens.values()) == {1}
    assert set(world.images().values()) == {f"{HOST}/team/web@{digest(7)}"}


def test_an_image_that_fails_to_start_is_rolled_back_and_the_rollout_stops(world, make_rules):
    world.seed(3)
    world.backend.faults.broken_images = [f"*{digest(8)}"]
    rules = rules_with(make_rules, batch_size=1, timeout_seconds=30)
    report = run(push(8), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    first, *rest = report.outcomes
    assert first.status == "rolled-back" and first.health.startswith("timeout: still Pending")
    assert any("Failed to pull image" in e for e in first.events)
    assert first.rollback_request_id
    assert [o.status for o in rest] == ["not-attempted", "not-attempted"]
    assert "rollout stopped" in rest[0].error
    world.now += 10
    assert world.images() == {f"eci-{i}": f"{HOST}/team/web:1.0.0" for i in range(3)}
    assert world.backend.group("eci-0").status == "Running"
    assert report.to_json()["actions"][0]["restored"] == {"app": f"{HOST}/team/web:1.0.0"}
    assert world.now - 1000 < 60  # within the timeout (plus the rollback)


def test_failure_budget_lets_the_rollout_continue(world, make_rules):
    world.seed(2)
    world.backend.faults.broken_images = [f"*{digest(9)}"]
    rules = rules_with(make_rules, batch_size=1, timeout_seconds=10, failure_budget=5)
    report = run(push(9), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    assert [o.status for o in report.outcomes] == ["rolled-back", "rolled-back"]


def test_killed_after_k_of_n_groups_redelivery_finishes_the_rest(world, make_rules):
    world.seed(5)
    rules = rules_with(make_rules, batch_size=1)
    real_call = world.gateway.call
    done = []

    def dies_after_two(action, body, **kw):
        if action == "UpdateContainerGroup" and len(done) == 2:
            raise KeyboardInterrupt  # the function instance is killed here
        result = real_call(action, body, **kw)
        if action == "UpdateContainerGroup":
            done.append(body["ContainerGroupId"])
        return result

    world.gateway.call = dies_after_two
    with pytest.raises(KeyboardInterrupt):
        run(push(10), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    world.gateway.call = real_call
    assert len(world.mutations()) == 2
    report = run(push(10), rules, world.gateway, {}, executor=Executor(clock=world.clock))  # redelivery
    assert len([o for o in report.outcomes if o.status == "applied"]) == 3
    assert Counter(c.params["ContainerGroupId"] for c in world.mutations()) == {f"eci-{i}": 1 for i in range(5)}


def test_replace_with_a_failing_successor_keeps_the_old_group(world, make_rules):
    world.seed(1)
    world.backend.faults.broken_images = [f"*{digest(11)}"]
    template = {"ContainerGroupName": "web", "Container": [{"Name": "app", "Image": f"{HOST}/team/web:1.0.0"}]}
    rules = make_rules(
        {
            **rule("web", action="replace", template="t.yaml", pull={"public": [HOST]}),
            "rollout": {"poll_seconds": 1, "timeout_seconds": 20},
        },
        templates={"t.yaml": template},
    )
    report = run(push(11), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    create, delete = report.outcomes
    assert create.status == "rolled-back" and delete.status == "not-attempted"
    assert list(world.backend.groups) == ["eci-0"]  # the successor was deleted, the old group kept
    assert [c.action for c in world.mutations()] == ["CreateContainerGroup", "DeleteContainerGroup"]
    assert world.mutations()[1].params["ContainerGroupId"] == create.group_id


def test_replace_deletes_the_old_group_only_after_the_successor_is_healthy(world, make_rules):
    world.seed(1)
    template = {"ContainerGroupName": "web", "Container": [{"Name": "app", "Image": f"{HOST}/team/web:1.0.0"}]}
    rules = make_rules(
        {**rule("web", action="replace", template="t.yaml", pull={"public": [HOST]}), "rollout": {"poll_seconds": 1}},
        templates={"t.yaml": template},
    )
    report = run(push(12), rules, world.gateway, {}, executor=Executor(clock=world.clock))
    create, delete = report.outcomes
    assert (create.status, create.health, delete.status) == ("applied", "ready", "applied")
    (successor,) = world.backend.groups.values()
    assert successor.id == create.group_id and successor.status == "Running"
    assert {t["Key"]: t["Value"] for t in successor.spec["Tag"]}["app"] == "web"


def test_a_frozen_group_is_never_touched(world, make_rules):
    world.seed(1, Tags=[{"Key": "app", "Value": "web"}, {"Key": "eci-redeploy.freeze", "Value": "manual rollback"}])
    report = run(push(13), rules_with(make_rules), world.gateway, {}, executor=Executor(clock=world.clock))
    assert report.outcomes == [] and "frozen" in report.plan.skipped[0].reason
    assert world.mutations() == []


def test_dry_run_applies_nothing(world, make_rules):
    world.seed(2)
    report = run(push(14), rules_with(make_rules), world.gateway, {}, executor=DryRun(clock=world.clock))
    assert [o.status for o in report.outcomes] == ["dry-run", "dry-run"] and world.mutations() == []


def test_tracking_tags_stay_within_ecI_limits(world, make_rules):
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(18)]
    world.seed(1, Tags=[{"Key": "app", "Value": "web"}, *many])
    report = run(push(15), rules_with(make_rules), world.gateway, {}, executor=Executor(clock=world.clock))
    assert [o.status for o in report.outcomes] == ["applied"]
    assert any("no room" in n for n in report.outcomes[0].step.notes)
    assert len(world.backend.group("eci-0").spec["Tag"]) == 19
