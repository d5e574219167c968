"""How a rollback is reported, by both of the writer's rollbacks (issue 27: one helper,
execution/rollout.roll_back, for the waiting rollout's undo and the stepped rollout's rollback found
by a later step): the Outcome's fields and the one `rollback` log line, applied and refused, through
the real SDK against the fake (in-process and on the wire).

The expectations are the contract the two paths had before they shared the helper (execution/
rollout.py `_undo`, execution/stepper.py `_fail`): rolled back, the outcome carries the rollback's
request id and the health that failed; refused, the error names ECI's refusal after the health. Two
differences are kept as they were: the stepped path's refused outcome carries ECI's code, the
waiting path's does not; the stepped path's log line says `found_by`, the waiting path's what it
restored or deleted. The fake refuses to update a Failed group as ECI does (IncorrectStatus:
https://www.alibabacloud.com/help/en/eci/developer-reference/api-eci-2018-08-08-updatecontainergroup,
a group can be updated only when Pending or Running).
"""

from __future__ import annotations

import json
import logging
import time

import pytest

from eci_redeploy.core.log import set_level
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.rollout import execute
from eci_redeploy.execution.stepper import advance
from eci_redeploy.planning import batchmark as bm
from eci_redeploy.planning.steps import Plan, Skip, Step
from eci_redeploy.rules.model import Rollout

from helpers import DIGEST_A, HOST, FakeTime, rule

OLD = f"{HOST}/team/web:1.0.0"
NEW = f"{HOST}/team/web@{DIGEST_A}"
TIMEOUT = 5


@pytest.fixture
def lines(capsys):
    """The `rollback` log lines written (JSON on stderr), at INFO whatever the environment says."""
    before = logging.getLogger("eci_redeploy").level
    set_level(logging.INFO)
    yield lambda: [
        line for line in map(json.loads, capsys.readouterr().err.splitlines()) if line.get("kind") == "rollback"
    ]
    set_level(before)


@pytest.fixture
def rules(make_rules):
    body = {**rule("web", pull={"public": [HOST]}), "rollout": {"poll_seconds": 1, "timeout_seconds": TIMEOUT}}
    return make_rules(body)


def seed(eci, status="Running", tags=(), **extra):
    eci.backend.seed(
        [
            {
                "ContainerGroupId": "eci-1",
                "ContainerGroupName": "web-1",
                "Status": status,
                "Tags": [{"Key": "app", "Value": "web"}, *({"Key": k, "Value": v} for k, v in tags)],
                "Containers": [{"Name": "app", "Image": OLD}],
                **extra,
            }
        ]
    )


def update_step(restored: dict[str, str]) -> Step:
    body = {"RegionId": "cn-hangzhou", "ContainerGroupId": "eci-1", "Container": [{"Name": "app", "Image": NEW}]}
    back = {"RegionId": "cn-hangzhou", "ContainerGroupId": "eci-1", "Container": [{"Name": "app", "Image": OLD}]}
    return Step("web", "UpdateContainerGroup", "eci-1", body, NEW, "eci-1", rollback=back, previous=restored)


def waiting(eci, step):
    settings = Rollout(timeout_seconds=TIMEOUT, poll_seconds=1)
    return execute(Plan(steps=[step]), eci.gateway, {"web": settings}, FakeTime().clock)


def rolled_back(outcome, back, line, reason, **said):
    """The outcome and the log line of a rollback ECI accepted (`back`: its call on the fake)."""
    assert (outcome.status, outcome.health, outcome.error, outcome.code) == (
        "rolled-back",
        reason,
        f"not healthy: {reason}",
        None,
    )
    assert outcome.rollback_request_id == back.request_id
    del line["ts"]
    applied = {"outcome": "applied", "request_id": back.request_id, "reason": reason, **said}
    assert line == {"kind": "rollback", "rule": "web", "target": "eci-1", **applied}


def refused(outcome, line, code):
    """A rollback ECI refused: the outcome stays failed and its error says both; the line names the code."""
    assert (outcome.status, outcome.rollback_request_id, outcome.code) == ("failed", None, code)
    assert outcome.error.startswith("not healthy: failed: the group is Failed; rollback failed: ")
    assert "IncorrectStatus" in outcome.error
    del line["ts"]
    assert line == {
        "kind": "rollback",
        "rule": "web",
        "target": "eci-1",
        "outcome": "failed",
        "code": "IncorrectStatus",
    }


def test_the_waiting_rollout_rolls_an_update_back(eci, lines):
    seed(eci)
    eci.backend.faults.broken_images = [NEW]  # RestartPolicy Always: pulled again and again, never Ready
    (outcome,) = waiting(eci, update_step({"app": OLD}))
    (back,) = [c for c in eci.backend.mutating_calls("UpdateContainerGroup") if c.params["Container.1.Image"] == OLD]
    (line,) = lines()
    rolled_back(outcome, back, line, f"timeout: still Pending after {TIMEOUT} s", restored={"app": OLD}, deleted=None)


def test_the_waiting_rollout_deletes_a_created_group_that_is_not_healthy(eci, lines):
    eci.backend.faults.broken_images = [NEW]
    body = {"RegionId": "cn-hangzhou", "ContainerGroupName": "web-9", "Container": [{"Name": "app", "Image": NEW}]}
    body.update(SecurityGroupId="sg-1", VSwitchId="vsw-1", ClientToken="er1-create")
    (outcome,) = waiting(eci, Step("web", "CreateContainerGroup", "web-9", body, NEW))
    assert outcome.status == "rolled-back" and outcome.group_id
    (delete,) = eci.backend.mutating_calls("DeleteContainerGroup")
    (line,) = lines()
    assert (line["outcome"], line["target"], line["request_id"]) == ("applied", "web-9", delete.request_id)
    assert (line["restored"], line["deleted"]) == (None, outcome.group_id)


def test_the_waiting_rollout_says_when_its_rollback_is_refused(eci, lines):
    seed(eci, RestartPolicy="Never")  # a pull that fails ends the group Failed: ECI updates it no more
    eci.backend.faults.broken_images = [NEW]
    (outcome,) = waiting(eci, update_step({"app": OLD}))
    (line,) = lines()
    refused(outcome, line, None)  # the waiting rollout's outcome does not carry ECI's code


def stepped(eci, rules, status):
    """One step of a stepped rollout that finds the batch it started 10 s ago (its timeout 5 s) not healthy."""
    event = PushEvent("team/web", "1.1.0", DIGEST_A, "distribution", "ev-1", registry_host=HOST)
    mark = bm.Mark(int(time.time() * 1000) - 10_000, bm.STARTED, bm.push_key("web", event), "web")
    seed(eci, status=status, tags=[(bm.BATCH, mark.value()), (bm.UNDO, f"app={OLD}")])
    groups = eci.gateway.describe("cn-hangzhou", ids=["eci-1"])
    plan = Plan(skipped=[Skip("web", "in flight", "eci-1")], events=[event])
    return advance(plan, groups, eci.gateway, rules, {}, FakeTime().clock).outcomes


def test_a_later_step_rolls_the_batch_back(eci, rules, lines):
    (outcome,) = stepped(eci, rules, "Pending")
    (back,) = eci.backend.mutating_calls("UpdateContainerGroup")
    assert back.params["Container.1.Image"] == OLD
    (line,) = lines()
    rolled_back(outcome, back, line, f"timeout: still Pending after {TIMEOUT} s", found_by="a later step")


def test_a_later_step_says_when_its_rollback_is_refused(eci, rules, lines):
    (outcome,) = stepped(eci, rules, "Failed")
    (line,) = lines()
    refused(outcome, line, "IncorrectStatus")  # the stepped rollout's does
