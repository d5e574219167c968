"""Every ClientToken's inputs, pinned (issue 27: token inputs in one place, planning/tokens.py).

For one fixed input of each action word, the token planning/tokens.py builds must be the token the
inline code at the call site built before the inputs moved there: the expected value hashes the
inputs written out here literally with core/idempotency.py, independently of planning/tokens.py. A
token that changes its inputs fails here, and so would every group's idempotency across an upgrade:
a redelivered push would get a fresh token and ECI would apply it a second time.
"""

from __future__ import annotations

import pytest

from eci_redeploy.clients.ess_model import ScalingView
from eci_redeploy.core.idempotency import client_token, transition_token
from eci_redeploy.core.imageref import ImageRef
from eci_redeploy.planning import tokens

from helpers import DIGEST_A, DIGEST_B, group, push, rule

OLD = "reg.example.com/team/web:1.0.0"
NEW_PINNED = f"reg.example.com/team/web@{DIGEST_B}"
NEW_TAGGED = "reg.example.com/team/web:1.1.0"
T0_MS = "1795773600000"  # helpers.T0, 2026-11-27 10:00 UTC, in Unix milliseconds
# The record the group carries (planning/tracking.py's keys): applied=<digest>@<event ms>/<rule>.
RECORD = {"eci-redeploy.digest": DIGEST_A, "eci-redeploy.event-time": "1795770000000", "eci-redeploy.rule": "web"}
RECORDED = f"applied={DIGEST_A}@1795770000000/web"


@pytest.fixture
def web(make_rules):
    return make_rules(rule("web")).rules[0]


@pytest.fixture
def web_full(make_rules):
    return make_rules({**rule("web"), "update": {"containers": "full"}}).rules[0]


def _group():
    return group("eci-1", OLD, tags={"app": "web", **RECORD})


def _change(event):
    return tokens.image_change(_group(), [ImageRef.parse(OLD)], [ImageRef.parse(NEW_PINNED)], event)


def test_update_and_its_rollback(web, web_full):
    event = push("1.1.0", DIGEST_B)
    before, after = [OLD, RECORDED], [NEW_PINNED, f"pushed@{T0_MS}"]
    assert _change(event) == (before, after)
    assert tokens.update_token(web, _group(), _change(event)) == transition_token(
        "web", "update", "eci-1", before=before, after=after
    )
    # the rollback goes from what the update leaves back to what it found
    assert tokens.rollback_token(web, _group(), _change(event)) == transition_token(
        "web", "rollback", "eci-1", before=after, after=before
    )
    assert tokens.update_token(web_full, _group(), _change(event)) == transition_token(
        "web", "update-full", "eci-1", before=before, after=after
    )
    assert tokens.rollback_token(web_full, _group(), _change(event)) == transition_token(
        "web", "rollback-full", "eci-1", before=after, after=before
    )


def test_an_image_without_a_digest_is_named_with_the_event(web):
    event = push("1.1.0", None, minutes=None)
    change = tokens.image_change(_group(), [ImageRef.parse(OLD)], [ImageRef.parse(NEW_TAGGED)], event)
    assert change == ([OLD, RECORDED], [f"{NEW_TAGGED}#ev-1.1.0", "pushed@"])


def test_replace(web):
    event = push("1.1.0", DIGEST_B)
    before, after = [OLD, RECORDED], [NEW_PINNED, f"pushed@{T0_MS}"]
    assert tokens.replace_create_token(web, _group(), _change(event)) == transition_token(
        "web", "replace-create", "eci-1", before=before, after=after
    )
    assert tokens.replace_delete_token(web, _group(), _change(event)) == transition_token(
        "web", "replace-delete", "eci-1", before=before, after=after
    )


def test_create(web):
    event = push("1.1.0", None)
    images = [ImageRef.parse(NEW_PINNED), ImageRef.parse(NEW_TAGGED)]
    assert tokens.create_token(web, "web-1", images, event) == client_token(
        "web", "create", "web-1", NEW_PINNED, f"{NEW_TAGGED}#ev-1.1.0"
    )


def test_restart(web):
    with_digest, without = push("1.1.0", DIGEST_B), push("1.1.0", None, event_id="e-9")
    assert tokens.restart_token(web, _group(), with_digest) == transition_token(
        "web", "restart", "eci-1", before=[RECORDED], after=["team/web", DIGEST_B, f"pushed@{T0_MS}"]
    )
    assert tokens.restart_token(web, _group(), without) == transition_token(
        "web", "restart", "eci-1", before=[RECORDED], after=["team/web", "1.1.0#e-9", f"pushed@{T0_MS}"]
    )


def test_a_rollback_found_by_a_later_step(web):
    mark = "1795773600000;started;0123456789ab;web"
    assert tokens.stepped_rollback_token(web, "eci-1", mark, OLD) == transition_token(
        "web", "rollback", "eci-1", before=[mark], after=[OLD]
    )


def _view(suspended=()):
    return ScalingView.model_validate(
        {
            "region": "cn-hangzhou",
            "group": {"ScalingGroupId": "asg-1", "GroupType": "ECI", "SuspendedProcesses": list(suspended)},
            "instances": [
                {"InstanceId": "eci-a", "LifecycleState": "InService"},
                {"InstanceId": "eci-b", "LifecycleState": "Standby"},
            ],
        }
    )


def test_scaling_group_recovery(web):
    record = "ScaleIn,ScaleOut|web"
    assert tokens.recover_exit_token(web, _view(), ["eci-b"], record) == transition_token(
        "web", "recover-exit", "asg-1", before=["eci-b"], after=[record]
    )
    assert tokens.recover_resume_token(web, _view(), ["ScaleIn", "ScaleOut"], record) == transition_token(
        "web", "recover-resume", "asg-1", before=["ScaleIn", "ScaleOut"], after=[record]
    )


@pytest.mark.parametrize(
    ("event", "basis"),
    [(push("1.1.0", DIGEST_B), DIGEST_B), (push("1.1.0", None, event_id="e-7"), "1.1.0#e-7")],
)
def test_scaling_group_procedure(web, event, basis):
    view = _view(suspended=["AlarmNotification"])
    before = ["eci-a=InService", "eci-b=Standby", "AlarmNotification"]
    after = [basis, f"pushed@{T0_MS}"]
    for word, token in (("suspend", tokens.suspend_token), ("resume", tokens.resume_token)):
        assert token(web, view, event) == transition_token("web", word, "asg-1", before=before, after=after)
    ids = ["eci-a", "eci-b"]
    for word, token in (("enter-standby", tokens.enter_standby_token), ("exit-standby", tokens.exit_standby_token)):
        assert token(web, view, event, ids) == transition_token(
            "web", word, "asg-1", before=[*before, *ids], after=after
        )


def test_the_writers_own_requests():
    create = "er1-0123456789abcdef0123456789abcdef01234567"
    assert tokens.undo_create_token(create, "eci-9") == client_token("undo-create", create, "eci-9")
    assert tokens.undo_create_token(None, "eci-9") == client_token("undo-create", "", "eci-9")
    assert tokens.prewarm_token("cn-hangzhou", NEW_TAGGED) == client_token("prewarm", "cn-hangzhou", NEW_TAGGED)
    assert tokens.image_cache_name(NEW_TAGGED) == "er-" + client_token(NEW_TAGGED)[4:20]
    assert len(tokens.image_cache_name(NEW_TAGGED)) == 19
    assert tokens.cached_create_token(create, "imc-1") == client_token(create, "imc-1")
    assert tokens.cached_create_token(None, "imc-1") == client_token("None", "imc-1")
