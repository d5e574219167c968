"""A `restart` rule's rollout over the worker's time slices (FC, in process: the handlers, the real SDK
hooked at its transport, the fake ECI with transition times, each continuation a new worker
invocation). A restarted group must be recognised from what ECI shows, as an updated one is (its
tracking tags): else each continuation plans every group again, re-sends the first groups' restarts
(harmless only within ECI's ClientToken window) and, with a slice shorter than one restart, never
finishes; and a push redelivered after that window restarts every group a second time.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from loadstack import HOST, T0, digest

GROUPS = 4
BOUND = 3 * GROUPS  # worker invocations allowed: one per group is enough


@pytest.fixture
def restart_world(fc, monkeypatch, tmp_path):
    """Four groups on the mutable tag team/web:latest, a restart rule over them, batches of one, a 0 s
    time slice (each invocation starts its first batch only), restarts that take 0.05 s. The worker's
    continuations are queued, not run inline, so `drive` runs them one invocation at a time."""
    rules = {
        "version": 1,
        "rules": [
            {
                "name": "web",
                "source": {"repository": "team/web", "tags": {"exact": "latest"}},
                "target": {"region": "cn-hangzhou", "action": "restart", "container_groups": {"tags": {"app": "web"}}},
                "pull": {"public": [HOST]},
                # poll above the restart time: a step that finds its batch still Restarting looks again
                # after it (the continuation's x-fc-async-delay, honoured by `drive` as FC does)
                "rollout": {"batch_size": 1, "poll_seconds": 0.08, "timeout_seconds": 10},
            }
        ],
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(tmp_path / "rules.yaml"))
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_SLICE_SECONDS", "0")
    fc.backend.groups.clear()
    fc.backend.seed(
        {
            "ContainerGroupId": f"eci-{i:03d}",
            "ContainerGroupName": f"web-{i:03d}",
            "RegionId": "cn-hangzhou",
            "Status": "Running",
            "Tags": [{"Key": "app", "Value": "web"}],
            "Containers": [{"Name": "app", "Image": f"{HOST}/team/web:latest"}],
        }
        for i in range(GROUPS)
    )
    fc.backend.update_seconds = 0.05
    fc.queued = []
    fc.dispatcher.work = fc.queued.append
    return fc


def push(minor: int = 7, *, minutes: int = 7, event_id: str | None = None):
    from eci_redeploy.events.model import PushEvent

    at = T0 + timedelta(minutes=minutes)
    return PushEvent(
        "team/web", "latest", digest(minor), "distribution", event_id or f"ev-{minor}", time=at, registry_host=HOST
    )


def drive(fc, event) -> tuple[int, list[dict]]:
    """The push's work order, then every continuation it hands on (or the same order again, FC's retry,
    when the worker raises RetryLater), one worker invocation each, up to BOUND invocations:
    (invocations run, their results)."""
    from eci_redeploy.core.errors import RetryLater
    from eci_redeploy.execution.handoff import WorkOrder
    from fcfixtures import entry, fc_context

    worker = entry("worker")
    queue = [WorkOrder.for_events([event])]
    results = []
    while queue and len(results) < BOUND:
        order = queue.pop(0)
        time.sleep(fc.dispatcher.delays.get(order.task_id, 0))  # FC runs it after its x-fc-async-delay
        try:
            results.append(worker(order.model_dump_json().encode(), fc_context("worker")))
        except RetryLater as exc:  # FC's async retry runs the same order again
            results.append({"ok": False, "retry": str(exc)})
            queue.append(order)
        queue.extend(fc.queued)
        fc.queued.clear()
    assert not queue, f"the rollout did not finish in {BOUND} worker invocations: {restarts_sent(fc)} restart calls"
    return len(results), results


def restarts_sent(fc) -> int:
    return len(fc.backend.mutating_calls("RestartContainerGroup"))


def restarted(fc) -> dict[str, int]:
    """group id -> how many times ECI really restarted it (not calls: a replayed ClientToken is a no-op)."""
    return {gid: fc.backend.group(gid).restart_count for gid in sorted(fc.backend.groups)}


@pytest.mark.parametrize("wait", [True, False], ids=["wait-for-health", "no-wait"])
def test_a_restart_rollout_over_time_slices_finishes_and_restarts_each_group_once(restart_world, wait):
    """Without the health wait the groups restarted by earlier slices are still Restarting when the
    next slice plans: recognised by their record, not deferred (a deferral raises for a retry)."""
    fc = restart_world
    if not wait:
        path = Path(os.environ["ECI_REDEPLOY_RULES"])
        rules = yaml.safe_load(path.read_text())
        rules["rules"][0]["rollout"]["wait"] = False
        path.write_text(yaml.safe_dump(rules))
        fc.backend.update_seconds = 60.0  # every restarted group stays Restarting for the whole test
    invocations, results = drive(fc, push())
    assert restarted(fc) == {f"eci-{i:03d}": 1 for i in range(GROUPS)}
    assert restarts_sent(fc) == GROUPS  # no restart re-sent, not even one ECI would drop by its token
    # one batch of one group per invocation, each started once the one before is healthy; with the
    # health wait, one more to find the last batch healthy (a step never waits: it looks again later)
    assert invocations == (GROUPS + 1 if wait else GROUPS)
    assert all(r["ok"] for r in results)
    tokens = Counter(c.params["ClientToken"] for c in fc.backend.mutating_calls("RestartContainerGroup"))
    assert set(tokens.values()) == {1}


def test_a_restarted_group_records_what_it_now_runs_in_its_tracking_tags(restart_world):
    fc = restart_world
    drive(fc, push())
    for gid in fc.backend.groups:
        tags = {t["Key"]: t["Value"] for t in fc.backend.group(gid).spec["Tag"]}
        assert tags["app"] == "web"
        assert tags["eci-redeploy.digest"] == digest(7)
        assert tags["eci-redeploy.event-time"] == str(int((T0 + timedelta(minutes=7)).timestamp() * 1000))
        assert tags["eci-redeploy.rule"] == "web"
        assert tags["eci-redeploy.tag"] == "latest"
    assert len(fc.backend.mutating_calls("TagResources")) <= GROUPS


def test_a_push_redelivered_after_ecis_token_window_restarts_nothing(restart_world, monkeypatch):
    """Without time slices too. With ECI_REDEPLOY_WORKER_STEPS=0 the first rollout runs whole in one
    invocation (the worker waits for health), as before the rollout went in steps."""
    fc = restart_world
    monkeypatch.delenv("ECI_REDEPLOY_WORKER_SLICE_SECONDS")
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_STEPS", "0")
    assert drive(fc, push())[0] == 1
    fc.backend._tokens.clear()  # ECI's idempotency window is over: only our own record can tell
    before = restarts_sent(fc)
    _, (result,) = drive(fc, push())
    assert restarts_sent(fc) == before
    assert restarted(fc) == {f"eci-{i:03d}": 1 for i in range(GROUPS)}
    assert {s["target"] for s in result["skipped"]} == set(fc.backend.groups)
    assert all("already restarted" in s["reason"] for s in result["skipped"])


def test_another_push_of_the_same_content_restarts_nothing(restart_world):
    """Same digest under another event (another source, a re-tag): the groups already run it."""
    fc = restart_world
    drive(fc, push())
    fc.backend._tokens.clear()
    drive(fc, push(7, minutes=9, event_id="ev-7-again"))
    assert restarted(fc) == {f"eci-{i:03d}": 1 for i in range(GROUPS)}


def test_an_older_push_after_a_newer_restart_is_not_restarted_onto(restart_world):
    fc = restart_world
    drive(fc, push(8, minutes=8))
    fc.backend._tokens.clear()
    _, (result,) = drive(fc, push(7, minutes=7))
    assert restarted(fc) == {f"eci-{i:03d}": 1 for i in range(GROUPS)}
    assert all("nothing is downgraded" in s["reason"] for s in result["skipped"])


def test_a_newer_push_of_the_tag_restarts_each_group_once_more(restart_world):
    fc = restart_world
    drive(fc, push(7, minutes=7))
    invocations, _ = drive(fc, push(8, minutes=8))
    assert invocations == GROUPS + 1  # one step per group, and one that finds the last one healthy
    assert restarted(fc) == {f"eci-{i:03d}": 2 for i in range(GROUPS)}
    assert restarts_sent(fc) == 2 * GROUPS
    assert {t["Value"] for t in fc.backend.group("eci-003").spec["Tag"] if t["Key"] == "eci-redeploy.digest"} == {
        digest(8)
    }


def test_a_record_that_could_not_be_written_fails_the_step_and_the_retry_records_it_without_a_second_restart(
    restart_world,
):
    """TagResources fails past the gateway's retries for the first group: its restart stands unrecorded,
    so the step fails with the throttling code and the worker raises for FC's retry. The retry plans it
    again with the same transition's ClientToken, which ECI answers without restarting (within its
    window), and records it then."""
    fc = restart_world
    fc.backend.faults.actions = ("TagResources",)
    fc.backend.faults.throttle_count = 3  # the fc fixture's gateway tries each call 3 times
    invocations, results = drive(fc, push())
    # the retry, one step per group, and (rollouts in steps) at most two more looks: the retry finds the
    # first group still Restarting, and one finds the last one healthy
    assert GROUPS + 1 <= invocations <= GROUPS + 3 and "Throttling" in results[0]["retry"]
    assert restarted(fc) == {f"eci-{i:03d}": 1 for i in range(GROUPS)}
    assert restarts_sent(fc) == GROUPS + 1  # the replayed token: no restart
    for gid in fc.backend.groups:
        assert {t["Key"]: t["Value"] for t in fc.backend.group(gid).spec["Tag"]}["eci-redeploy.digest"] == digest(7)


def test_a_record_refused_for_good_stops_the_rollout_instead_of_restarting_in_every_slice(restart_world, monkeypatch):
    """A TagResources ECI refuses (not retryable, e.g. a RAM policy without it): the first restart is
    reported failed and the rollout stops there, where re-sending it in every time slice never ended."""
    from eci_redeploy.fake import acr_gates
    from eci_redeploy.fake.exceptions import ApiError

    fc = restart_world

    def refuse(backend, params):
        raise ApiError(403, "Forbidden.RAM", "User not authorized to operate on the specified resource.")

    monkeypatch.setitem(acr_gates._HANDLERS, "TagResources", refuse)
    invocations, (result,) = drive(fc, push())
    assert invocations == 1 and not result["ok"] and "continued" not in result
    assert [a["status"] for a in result["actions"]] == ["failed", "not-attempted", "not-attempted", "not-attempted"]
    assert "could not be written" in result["actions"][0]["error"]
    assert restarted(fc) == {"eci-000": 1, "eci-001": 0, "eci-002": 0, "eci-003": 0}


def test_a_push_without_a_time_clears_the_recorded_time_through_the_sdk(restart_world):
    """TagResources cannot drop a key: the earlier push's time is written empty, which reads as unset."""
    import dataclasses

    from eci_redeploy.planning import tracking

    fc = restart_world
    drive(fc, push(7))
    drive(fc, dataclasses.replace(push(8), time=None))
    tags = {t["Key"]: t["Value"] for t in fc.backend.group("eci-000").spec["Tag"]}
    assert tags["eci-redeploy.event-time"] == "" and tags["eci-redeploy.digest"] == digest(8)
    assert tracking.applied(tags).event_time_ms is None
    assert restarted(fc) == {f"eci-{i:03d}": 2 for i in range(GROUPS)}
