"""A writer that never waits (issue 25), on the wire: `serve`'s webhook app on a real port, the single
writer behind it, the real ECI SDK, the fake ECI over HTTP with transition times. A health-gated
rollout is a sequence of short steps (execution/stepper.py) whose progress rides on the groups' tags
(planning/batchmark.py); between steps the writer serves other rules.

No timing is asserted here (bench/headofline.py measures it): the tests assert order and outcome.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from loadstack import HOST, T0, Stack, digest, envelope, seeded


@pytest.fixture
def env(monkeypatch, tmp_path):
    from loadstack import TOKEN

    for key in [k for k in __import__("os").environ if k.startswith(("ECI_REDEPLOY_", "ALIBABA_CLOUD_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_TOKEN", TOKEN)
    monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "0")
    monkeypatch.setenv("ECI_REDEPLOY_LOG_LEVEL", "WARNING")
    return tmp_path


def two_rules(path: Path, **rollout: Any) -> Path:
    """Rule `web` (team/web, groups app=web) rolls one group at a time, health-gated; rule `api`
    (team/api, groups app=api) is unrelated."""

    def rule(name: str, repo: str, app: str) -> dict[str, Any]:
        return {
            "name": name,
            "source": {"repository": repo, "registry": HOST, "tags": {"semver": "^1.0.0"}},
            "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"tags": {"app": app}}},
            "pull": {"public": [HOST]},
            "rollout": {"batch_size": 1, "poll_seconds": 0.1, "timeout_seconds": 30, **rollout},
        }

    body = {"version": 1, "rules": [rule("web", "team/web", "web"), rule("api", "team/api", "api")]}
    path.write_text(yaml.safe_dump(body))
    return path


def api_push(minor: int) -> bytes:
    return envelope(minor, event_id=f"api-{minor}").replace(b"team/web", b"team/api")


def api_groups(n: int) -> list[dict[str, Any]]:
    out = []
    for i, group in enumerate(seeded(n, f"{HOST}/team/api:1.0.0")):
        out.append(
            {
                **group,
                "ContainerGroupId": f"eci-api-{i}",
                "ContainerGroupName": f"api-{i}",
                "Tags": [{"Key": "app", "Value": "api"}],
            }
        )
    return out


def until(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def stack(env, monkeypatch):
    started: list[Stack] = []

    def make(web_groups: int, transition: float, **rollout: Any) -> Stack:
        rules = two_rules(env / "rules.yaml", **rollout)
        monkeypatch.setenv("ECI_REDEPLOY_RULES", str(rules))
        s = Stack(rules, web_groups, transition_seconds=transition).start()
        s.backend.seed(api_groups(1))
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def web_images(s: Stack) -> dict[str, str]:
    return {gid: img for gid, img in s.images().items() if not gid.startswith("eci-api")}


def test_an_unrelated_push_is_applied_while_a_health_gated_rollout_waits(stack):
    """Rule web rolls 4 groups one at a time, each Updating for 0.5 s before it is healthy. Before, the
    writer slept through each health wait, so a push for rule api waited for all of them (or a 60 s
    slice). Now the api push is applied between web's steps: before web's rollout has finished."""
    s = stack(4, transition=0.5)
    assert s.deliver(envelope(5)) == 202
    until(lambda: len(s.mutations()) >= 1, "web's first batch")
    assert s.deliver(api_push(3)) == 202
    until(lambda: s.images()["eci-api-0"].endswith(digest(3)), "the api push")
    web_done = [gid for gid, img in web_images(s).items() if img.endswith(digest(5))]
    assert len(web_done) < 4, f"web's rollout had finished before api was applied: {web_done}"
    s.drain()
    assert set(web_images(s).values()) == {f"{HOST}/team/web@{digest(5)}"}
    calls = [c.params["ContainerGroupId"] for c in s.mutations()]
    assert Counter(calls) == {**{f"eci-{i:03d}": 1 for i in range(4)}, "eci-api-0": 1}  # one move each
    assert s.writer.counts["delayed"] >= 3  # web's steps came back through the queue, not a sleep


def test_a_failing_batch_found_by_a_later_step_is_rolled_back_and_the_rollout_stops(stack):
    """The first group never becomes healthy (its image cannot be pulled); the step that started it
    returns; a later step finds it still Pending past timeout_seconds, rolls it back to the image it
    ran (from the group's undo tag) and stops the rollout (failure budget 0). A redelivered push
    changes nothing: the failure is recorded on the group."""
    s = stack(3, transition=0.1, timeout_seconds=1, poll_seconds=0.2)
    s.backend.faults.broken_images = [f"*{digest(8)}"]
    assert s.deliver(envelope(8)) == 202
    s.drain()
    updates = [c.params for c in s.backend.mutating_calls("UpdateContainerGroup")]
    assert [p["ContainerGroupId"] for p in updates] == ["eci-000", "eci-000"]  # the change, its rollback
    assert updates[1]["Container.1.Image"] == f"{HOST}/team/web:1.0.0"
    assert s.writer.counts["delayed"] >= 2  # found by a later step, not by waiting
    until(lambda: s.backend.group("eci-000").status == "Running", "the rollback")
    assert web_images(s) == {f"eci-{i:03d}": f"{HOST}/team/web:1.0.0" for i in range(3)}
    marks = {t["Key"]: t["Value"] for t in s.backend.group("eci-000").spec["Tag"]}
    assert marks["eci-redeploy.batch"].split(";")[1] == "failed"
    s.backend.faults.broken_images = []
    assert s.deliver(envelope(8, event_id="ev-8-again")) == 202  # a redelivery with a new id
    s.drain()
    assert len(s.backend.mutating_calls("UpdateContainerGroup")) == 2


def test_a_continuation_delivered_twice_changes_nothing_twice(stack):
    """FC delivers at least once: every continuation the writer queues is handed in a second time
    (a new task id each, so the writer's own de-duplication cannot hide it). Each step decides from a
    fresh describe, so no group is changed twice and the rollout ends."""
    s = stack(3, transition=0.3)
    writer = s.writer
    submit = writer.submit

    def twice(order, *, delay=0):
        accepted = submit(order, delay=delay)
        if order.step:
            submit(order.model_copy(update={"task_id": order.task_id[:-4] + "dup0"}), delay=delay)
        return accepted

    writer.submit = twice  # type: ignore[method-assign]
    assert s.deliver(envelope(6)) == 202
    s.drain()
    assert set(web_images(s).values()) == {f"{HOST}/team/web@{digest(6)}"}
    assert Counter(c.params["ContainerGroupId"] for c in s.mutations()) == {f"eci-{i:03d}": 1 for i in range(3)}
    assert set(s.token_uses().values()) == {1}


def test_the_writer_never_drops_a_continuation_as_superseded(stack):
    """A newer push queued behind a rollout's continuation supersedes queued deliveries, not the
    continuation (it may have a batch to roll back); the newer push then moves every group on."""
    s = stack(3, transition=0.3)
    assert s.deliver(envelope(5)) == 202
    until(lambda: len(s.mutations()) >= 1, "the first batch")
    assert s.deliver(envelope(6)) == 202
    s.drain()
    assert set(web_images(s).values()) == {f"{HOST}/team/web@{digest(6)}"}
    moves = Counter(c.params["ContainerGroupId"] for c in s.mutations())
    assert all(n <= 2 for n in moves.values()), moves  # at most one move per newer push


def test_the_fc_stand_in_answers_a_duplicate_task_id_with_409_and_the_dispatcher_takes_it_as_queued():
    """FC 3.0 task de-duplication: "When the same ID enters the system, the request is considered as a
    duplicate submission and rejected, and an error 409 is returned"
    (https://www.alibabacloud.com/help/en/fc/task-deduplication). For our own task id that is "already
    queued": the hand-off succeeded."""
    from eci_redeploy.clients.eci import Credentials
    from eci_redeploy.core.settings import Settings
    from eci_redeploy.events.model import PushEvent
    from eci_redeploy.execution.dispatch import Fc3Dispatcher
    from eci_redeploy.execution.handoff import WorkOrder
    from fcfixtures import FcStandIn

    with FcStandIn() as fc:
        settings = Settings(rules_path=None, fc_endpoint=fc.url, worker_function="eci-redeploy-worker")  # type: ignore[arg-type]
        dispatcher = Fc3Dispatcher(settings, Credentials("ak", "sk", None))
        order = WorkOrder.for_events([PushEvent("team/web", "1.4.0", digest(4), "distribution", "ev-4", time=T0)])
        first = dispatcher.dispatch(order, delay=2.5)
        again = dispatcher.dispatch(order)
        assert [i["status"] for i in fc.invocations] == [202, 409]
        assert fc.invocations[0]["headers"]["x-fc-async-delay"] == "3"  # whole seconds, never earlier
        assert first.task_id == again.task_id == order.task_id and again.via.endswith(":duplicate")
        assert len(fc.queue) == 1 and json.loads(fc.queue[0]["body"])["task_id"] == order.task_id


WORKER = """
import sys, time, urllib.request
from pathlib import Path
from types import SimpleNamespace
from eci_redeploy.functions.push_worker import handle_work

context = SimpleNamespace(request_id="sub", function=SimpleNamespace(name="worker"), region="cn-hangzhou",
                          account_id="1", credentials=None)
deadline = time.monotonic() + 60  # bounded: stops by itself
while time.monotonic() < deadline:
    with urllib.request.urlopen(sys.argv[1] + "/__next", timeout=10) as reply:
        body = reply.read() if reply.status == 200 else b""
    if not body:
        time.sleep(0.02)
        continue
    print("step", flush=True)
    handle_work(body, context, default_rules=Path(sys.argv[2]))
    print("done", flush=True)
"""


def test_a_rollout_survives_a_worker_killed_between_steps_and_a_continuation_delivered_twice(env, tmp_path):
    """The worker function as FC runs it: a separate process fed by FC's queue (the stand-in), the
    real SDKs on the wire to the fake ECI and to the stand-in. 3 groups, one per batch, each Updating
    for 0.4 s. The worker starts the first batch and hands the next step to FC with a delay; it is
    killed (SIGKILL) while it waits for that message; a new worker process takes the continuation from
    FC's queue, which is also delivered twice, and finishes the rollout: each group changed once."""
    import os
    import signal
    import subprocess
    import sys

    from eci_redeploy.events.model import PushEvent
    from eci_redeploy.execution.handoff import WorkOrder
    from eci_redeploy.fake.server import FakeEciServer
    from fcfixtures import FcStandIn

    from helpers import ROOT

    rules = two_rules(tmp_path / "rules.yaml", poll_seconds=0.1)
    with FakeEciServer() as fake, FcStandIn(time_scale=0.3) as fc:
        fake.backend.update_seconds = 0.4
        fake.backend.seed(seeded(3))
        key, secret = fake.credentials
        worker_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "shared"),
            "ECI_REDEPLOY_RULES": str(rules),
            "ECI_REDEPLOY_ECI_ENDPOINT": fake.url,
            "ECI_REDEPLOY_FC_ENDPOINT": fc.url,
            "ECI_REDEPLOY_WORKER_FUNCTION": "eci-redeploy-worker",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": key,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
        }

        def worker(log: str) -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-c", WORKER, fc.url, str(rules)],
                cwd=ROOT,
                env=worker_env,
                stdout=subprocess.PIPE,
                stderr=(tmp_path / log).open("wb"),
                text=True,
            )

        def updates() -> list[str]:
            with fake.backend._lock:
                return [c.params["ContainerGroupId"] for c in fake.backend.mutating_calls("UpdateContainerGroup")]

        push = PushEvent("team/web", "1.5.0", digest(5), "distribution", "ev-5", time=T0, registry_host=HOST)
        first = WorkOrder.for_events([push])
        fc.queue.append({"task_id": first.task_id, "body": first.model_dump_json().encode(), "ready_at": 0})
        one = worker("worker-1.log")
        try:
            assert one.stdout is not None
            assert one.stdout.readline().strip() == "step" and one.stdout.readline().strip() == "done"
            assert updates() == ["eci-000"] and len(fc.queue) == 1  # the next step waits in FC's queue
            os.kill(one.pid, signal.SIGKILL)  # between steps
            one.wait(10)
        finally:
            if one.poll() is None:
                one.kill()
        fc.deliver_again(fc.queue[0]["task_id"])  # at least once: the continuation, twice
        two = worker("worker-2.log")
        try:
            until(lambda: len(updates()) == 3 and not fc.queue, "the rollout to finish", timeout=60)
            until(lambda: all(fake.backend.group(f"eci-{i:03d}").status == "Running" for i in range(3)), "health")
            time.sleep(1.0)  # let the last continuations run: they must change nothing
        finally:
            two.kill()
            two.wait(10)
        assert Counter(updates()) == {f"eci-{i:03d}": 1 for i in range(3)}
        assert {fake.backend.group(f"eci-{i:03d}").spec["Container"][0]["Image"] for i in range(3)} == {
            f"{HOST}/team/web@{digest(5)}"
        }
        delayed = [i for i in fc.invocations if i["headers"].get("x-fc-async-delay")]
        assert delayed and all(i["headers"]["x-fc-invocation-type"] == "Async" for i in delayed)
        # the continuation delivered twice ran twice; its second run handed on the same next step, which
        # FC refused as a duplicate (409) and the worker took as "already queued"
        assert Counter(i["status"] for i in fc.invocations)[409] >= 1
        assert "DispatchError" not in (tmp_path / "worker-2.log").read_text()


def test_the_async_event_age_covers_the_retries_behind_a_backlog_and_serve_keeps_the_same_budget():
    """Issue 22 item 6: a message older than maxAsyncEventAgeInSeconds is dropped to the on-failure
    destination, retries left or not. 3600 s covered 30 full-length worker invocations queued ahead
    (reserved concurrency 1, timeout 120 s): a backlog the retry policy would still have worked through.
    The age must cover a backlog of at least 100 invocations, the longest continuation delay the rules
    allow (poll_seconds <= 60) and every retry of the message itself; `serve` keeps the same budget.
    FC's range for the age: [1, 604800] (PutAsyncInvokeConfigInput, FC 3.0 API reference)."""
    from eci_redeploy.execution.writer import RetryBudget
    from eci_redeploy.rules.model import Rollout

    from helpers import ROOT

    resources = yaml.safe_load((ROOT / "s.yaml").read_text())["resources"]
    worker = resources["worker"]["props"]
    config = worker["asyncInvokeConfig"]
    age, retries, timeout = config["maxAsyncEventAgeInSeconds"], config["maxAsyncRetryAttempts"], worker["timeout"]
    longest_delay = Rollout.model_fields["poll_seconds"].metadata[-1].le
    assert age >= 100 * timeout + longest_delay + (retries + 1) * timeout, age
    assert age <= 604800
    assert resources["push"]["props"]["asyncInvokeConfig"]["maxAsyncEventAgeInSeconds"] == age
    assert RetryBudget().max_age == age and RetryBudget().retries == retries


def test_the_docs_state_the_message_age_s_yaml_sets():
    """Issue 22 item 6: the docs name the same maximum message age as s.yaml and RetryBudget (a page
    still saying 3600 after the change told an operator a backlog is dropped after an hour)."""
    import re

    from helpers import ROOT

    resources = yaml.safe_load((ROOT / "s.yaml").read_text())["resources"]
    age = resources["worker"]["props"]["asyncInvokeConfig"]["maxAsyncEventAgeInSeconds"]
    stated = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text()
        for pattern in (
            r"maxAsyncEventAgeInSeconds:?`?\s*(?:is\s+)?(\d[\d,]*\d)",
            r"_MAX_AGE_SECONDS`?,? default (\d[\d,]*\d)",
            r"doubling to 30 s, (\d[\d,]*\d) s\)",
        ):
            stated += [(page.name, int(m.replace(",", ""))) for m in re.findall(pattern, text)]
    assert stated, "the docs name the message age somewhere"
    assert [s for s in stated if s[1] != age] == [], age


def _web_groups(n: int, *, pull: str | None = None) -> list[dict[str, Any]]:
    """Rule web's groups as an account with creator tags has them: the system tag acs:tag:createdby,
    which Resource Management adds and no request may name (CreateContainerGroupRequestTag: keys
    "cannot start with acs: or aliyun")."""
    out = []
    for group in seeded(n):
        group["Tags"] = [*group["Tags"], {"Key": "acs:tag:createdby", "Value": "ram:1234:alice"}]
        if pull:
            group["Containers"] = [{**c, "ImagePullPolicy": pull} for c in group["Containers"]]
        out.append(group)
    return out


def test_a_later_step_s_rollback_sends_no_system_tag_and_is_accepted(stack):
    """Issue 30 item 2 in the stepped rollout's rollback (planning/batchmark.rollback_body): it copied
    the group's whole tag list, acs:tag:createdby included, so ECI (and the fake) refused the rollback
    with InvalidParameter.Tag and the group stayed on the image that cannot be pulled."""
    s = stack(0, transition=0.1, timeout_seconds=1, poll_seconds=0.2)
    s.backend.seed(_web_groups(2))
    s.backend.faults.broken_images = [f"*{digest(8)}"]
    assert s.deliver(envelope(8)) == 202
    s.drain()
    refused = [c for c in s.backend.calls if c.action == "UpdateContainerGroup" and c.status != 200]
    assert refused == []
    updates = [c.params for c in s.backend.mutating_calls("UpdateContainerGroup")]
    assert [p["ContainerGroupId"] for p in updates] == ["eci-000", "eci-000"]  # the change, its rollback
    assert not [k for p in updates for k, v in p.items() if k.startswith("Tag.") and v.startswith("acs:")]
    until(lambda: s.backend.group("eci-000").status == "Running", "the rollback")
    assert web_images(s)["eci-000"] == f"{HOST}/team/web:1.0.0"
    tags = {t["Key"]: t["Value"] for t in s.backend.group("eci-000").spec["Tag"]}
    assert tags["acs:tag:createdby"] == "ram:1234:alice"  # ECI keeps its system tags


def test_a_rollback_the_undo_tag_cannot_express_is_not_left_to_a_later_step(stack):
    """Issue 22 item 6 in a stepped rollout: a same-tag re-push (no digest) pulls with
    ImagePullPolicy=Always, and its rollback puts back the policy the group had. The undo tag a later
    step reads holds only the image, so such a change is rolled out waiting in its step, with the
    planner's own rollback (IfNotPresent restored), instead of being handed to a later step that would
    leave Always."""
    s = stack(0, transition=0.1, timeout_seconds=1, poll_seconds=0.2)
    s.backend.seed(_web_groups(1, pull="IfNotPresent"))
    s.backend.faults.broken_images = [f"{HOST}/team/web:1.0.0"]  # the re-pushed tag cannot be pulled
    body = json.loads(envelope(0, tag="1.0.0"))
    del body["events"][0]["target"]["digest"]
    del body["events"][0]["target"]["url"]
    assert s.deliver(json.dumps(body).encode()) == 202
    s.drain()
    updates = [c.params for c in s.backend.mutating_calls("UpdateContainerGroup")]
    assert [p.get("Container.1.ImagePullPolicy") for p in updates] == ["Always", "IfNotPresent"], updates
    spec = s.backend.group("eci-000").spec["Container"][0]
    assert spec["ImagePullPolicy"] == "IfNotPresent"
