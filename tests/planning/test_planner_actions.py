"""The planner dispatches actions on a group through one table (issue 27 item 3: an if/elif on the
action string before): each entry says how the action is planned and which guards apply to it."""

from __future__ import annotations

import typing

from eci_redeploy.clients.eci_model import parse_groups
from eci_redeploy.planning import actions
from eci_redeploy.planning.planner import plan_event
from eci_redeploy.rules.model import Target

from helpers import HOST, push, rule


def test_every_action_of_the_rules_model_is_in_the_table_or_planned_apart():
    allowed = set(typing.get_args(Target.model_fields["action"].annotation))
    assert set(actions.ACTIONS) | {"create"} == allowed


def never_restarting_group():
    return parse_groups(
        [
            {
                "ContainerGroupId": "eci-1",
                "ContainerGroupName": "web",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "RestartPolicy": "Never",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "c1", "Image": f"{HOST}/team/web:1.0.0"}],
            }
        ]
    )


def test_the_planner_calls_the_tables_entry_with_the_selected_group(make_rules, monkeypatch):
    rules = make_rules(rule("web", action="restart", pull={"public": [HOST]}))
    calls = []
    spy = actions.Action(calls.append, whole_group=True, in_place=False)  # in_place=False: no Never guard
    monkeypatch.setitem(actions.ACTIONS, "restart", spy)
    plan = plan_event(push("1.1.0"), rules, never_restarting_group(), {})
    assert [(c.rule.name, c.group.id, c.event.tag) for c in calls] == [("web", "eci-1", "1.1.0")]
    assert plan.skipped == []


def test_an_in_place_action_keeps_the_restart_policy_never_guard(make_rules):
    rules = make_rules(rule("web", action="restart", pull={"public": [HOST]}))
    plan = plan_event(push("1.1.0"), rules, never_restarting_group(), {})
    assert plan.steps == [] and "RestartPolicy is Never" in plan.skipped[0].reason
