"""ClientTokens name transitions (core/idempotency.py): what ECI's idempotency needs from them.

ECI (like every Alibaba Cloud API with ClientToken) answers `IdempotentParameterMismatch` when a token
it has seen comes back with another request body, and returns the first result when it comes back with
the same body. So: one token per distinct request, the same token for a retry of the same request.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from eci_redeploy.clients.eci_model import parse_groups
from eci_redeploy.core.idempotency import client_token, task_id, transition_token
from eci_redeploy.planning.planner import plan_event

import helpers
from helpers import rule

HOST = "reg.example.com"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def push(n, minutes, event_id=None):
    return helpers.push("stable", f"sha256:{n:064x}", minutes=minutes, event_id=event_id or f"ev-{minutes}")


def group_running(n, recorded_minutes=None):
    tags = [{"Key": "app", "Value": "web"}]
    if recorded_minutes is not None:
        ms = int((T0 + timedelta(minutes=recorded_minutes)).timestamp() * 1000)
        tags += [
            {"Key": "eci-redeploy.digest", "Value": f"sha256:{n:064x}"},
            {"Key": "eci-redeploy.event-time", "Value": str(ms)},
            {"Key": "eci-redeploy.rule", "Value": "web"},
        ]
    return parse_groups(
        [
            {
                "ContainerGroupId": "eci-1",
                "ContainerGroupName": "web",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": tags,
                "Containers": [{"Name": "app", "Image": f"{HOST}/team/web@sha256:{n:064x}"}],
            }
        ]
    )[0]


def step(make_rules, event, group):
    rules = make_rules(rule("web", pull={"public": [HOST]}))
    (only,) = plan_event(event, rules, [group], {}).steps
    return only


def test_a_to_b_to_a_to_b_gives_four_different_tokens(make_rules):
    a_to_b = step(make_rules, push(2, 2), group_running(1, 1))
    b_to_a = step(make_rules, push(1, 3), group_running(2, 2))
    a_to_b_again = step(make_rules, push(2, 4), group_running(1, 3))
    tokens = {a_to_b.client_token, b_to_a.client_token, a_to_b_again.client_token}
    assert len(tokens) == 3
    rollbacks = {s.rollback["ClientToken"] for s in (a_to_b, b_to_a, a_to_b_again)}
    assert len(rollbacks) == 3 and not rollbacks & tokens


def test_a_retry_or_redelivery_of_the_same_transition_keeps_its_token(make_rules):
    first = step(make_rules, push(2, 2, event_id="delivery-1"), group_running(1, 1))
    again = step(make_rules, push(2, 2, event_id="delivery-2"), group_running(1, 1))
    assert first.client_token == again.client_token and first.body == again.body


def test_the_same_image_from_another_push_is_another_request_so_another_token(make_rules):
    # The tracking tags record the push time: a later push of the same image sends another body.
    first = step(make_rules, push(2, 2), group_running(1, 1))
    later = step(make_rules, push(2, 5), group_running(1, 1))
    assert first.body["Tag"] != later.body["Tag"] and first.client_token != later.client_token


def test_tokens_fit_ecI_and_parts_do_not_run_together():
    assert len(client_token("x" * 500, "y" * 500)) <= 64 and client_token("a").isascii()
    assert transition_token("r", "update", "g", before=["a", "b"], after=[]) != transition_token(
        "r", "update", "g", before=["a"], after=["b"]
    )


def test_task_ids_are_salted_only_when_asked():
    events = [push(1, 1)]
    assert task_id(events) == task_id(list(events))
    assert task_id(events, salt="tick-1") != task_id(events, salt="tick-2") != task_id(events)
