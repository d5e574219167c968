import json

import pytest

from eci_redeploy.core.idempotency import client_token
from eci_redeploy.events.model import PushEvent
from eci_redeploy.planning.planner import plan_event

from helpers import DIGEST_A, DIGEST_B, group, rule

EE = "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com"


def ee_push(tag="1.4.0", digest=DIGEST_A, repository="team/web", event_id="ev-1"):
    return PushEvent(
        repository,
        tag,
        digest,
        "acr-eventbridge",
        event_id,
        instance_id="cri-abc123",
        instance_name="acme",
        region="cn-hangzhou",
    )


def test_update_changes_only_containers_running_the_repository(make_rules):
    rules = make_rules(rule("web", tags={"semver": "^1.0.0"}))
    g = group("eci-1", f"{EE}/team/web:1.3.0", f"{EE}/team/other:9", init=(f"{EE}/team/web:1.3.0",))
    (step,) = plan_event(ee_push(), rules, [g], {}).steps
    assert step.action == "UpdateContainerGroup"
    body = step.body
    assert body["Container"] == [{"Name": "c1", "Image": f"{EE}/team/web@{DIGEST_A}"}]
    assert body["InitContainer"] == [{"Name": "init1", "Image": f"{EE}/team/web@{DIGEST_A}"}]


def test_named_containers_only(make_rules):
    rules = make_rules(rule("web", containers=["c2"]))
    g = group("eci-1", f"{EE}/team/web:1", f"{EE}/team/web:1")
    (step,) = plan_event(ee_push(), rules, [g], {}).steps
    assert step.body["Container"] == [{"Name": "c2", "Image": f"{EE}/team/web@{DIGEST_A}"}]


def test_named_container_running_another_repository_is_left_alone(make_rules):
    rules = make_rules(rule("web", containers=["c1"]))
    plan = plan_event(ee_push(), rules, [group("eci-1", f"{EE}/team/other:1")], {})
    assert plan.steps == []
    assert "no container runs team/web" in plan.skipped[0].reason


def test_group_already_on_the_digest_is_skipped(make_rules):
    rules = make_rules(rule("web"))
    plan = plan_event(ee_push(), rules, [group("eci-1", f"{EE}/team/web:1.4.0@{DIGEST_A}")], {})
    assert plan.steps == []
    assert plan.skipped[0].reason.startswith("already running")


def test_same_tag_without_digest_forces_a_pull(make_rules):
    rules = make_rules(rule("web", tags={"exact": "latest"}))
    plan = plan_event(ee_push("latest", None), rules, [group("eci-1", f"{EE}/team/web:latest")], {})
    (step,) = plan.steps
    assert step.body["Container"] == [{"Name": "c1", "Image": f"{EE}/team/web:latest", "ImagePullPolicy": "Always"}]


def test_moving_tag_tokens_differ_per_event_without_digest(make_rules):
    rules = make_rules(rule("web", tags={"exact": "latest"}))
    groups = [group("eci-1", f"{EE}/team/web:latest")]
    a = plan_event(ee_push("latest", None, event_id="e1"), rules, groups, {}).steps[0]
    b = plan_event(ee_push("latest", None, event_id="e2"), rules, groups, {}).steps[0]
    assert a.client_token != b.client_token


def test_token_is_deterministic_and_bounded(make_rules):
    rules = make_rules(rule("web"))
    groups = [group("eci-1", f"{EE}/team/web:1")]
    a = plan_event(ee_push(event_id="e1"), rules, groups, {}).steps[0].client_token
    b = plan_event(ee_push(event_id="e2"), rules, groups, {}).steps[0].client_token  # redelivery, other id
    c = plan_event(ee_push(digest=DIGEST_B), rules, groups, {}).steps[0].client_token
    assert a == b != c
    assert len(client_token("x" * 500, "y" * 500)) <= 64
    assert client_token("a").isascii()


@pytest.mark.parametrize("status", ["Updating", "Restarting", "Failed", "Succeeded", "Terminating"])
def test_groups_that_cannot_be_updated_are_skipped(make_rules, status):
    rules = make_rules(rule("web"))
    plan = plan_event(ee_push(), rules, [group("eci-1", f"{EE}/team/web:1", status=status)], {})
    assert plan.steps == [] and status in plan.skipped[0].reason


def test_selectors(make_rules):
    groups = [
        group("eci-1", f"{EE}/team/web:1", name="a", tags={"app": "web", "env": "prod"}),
        group("eci-2", f"{EE}/team/web:1", name="b", tags={"app": "web", "env": "dev"}),
        group("eci-3", f"{EE}/team/web:1", name="a", tags={"app": "api"}),
    ]
    by = {
        "tags": {"tags": {"app": "web", "env": "prod"}},
        "name": {"name": "a"},
        "ids": {"ids": ["eci-2", "eci-3"]},
    }
    targets = {
        k: [s.target for s in plan_event(ee_push(), make_rules(rule("web", selector=v)), groups, {}).steps]
        for k, v in by.items()
    }
    assert targets == {"tags": ["eci-1"], "name": ["eci-1", "eci-3"], "ids": ["eci-2", "eci-3"]}


def test_groups_in_other_regions_are_not_selected(make_rules):
    g = group("eci-1", f"{EE}/team/web:1").model_copy(update={"region": "cn-beijing"})
    plan = plan_event(ee_push(), make_rules(rule("web")), [g], {})
    assert plan.steps == [] and "no container group matches" in plan.skipped[0].reason


def test_rule_for_another_instance_is_skipped(make_rules):
    rules = make_rules(
        {**rule("web"), "source": {"repository": "team/web", "registry": "cri-zzz", "tags": {"glob": "*"}}}
    )
    plan = plan_event(ee_push(), rules, [group("eci-1", f"{EE}/team/web:1")], {})
    assert plan.steps == [] and "rule watches cri-zzz" in plan.skipped[0].reason


def test_container_on_another_registry_is_not_touched(make_rules):
    rules = make_rules(rule("web"))
    plan = plan_event(ee_push(), rules, [group("eci-1", "other-registry.cn-hangzhou.cr.aliyuncs.com/team/web:1")], {})
    assert plan.steps == []


def test_unwatched_repository(make_rules):
    plan = plan_event(ee_push(repository="team/api"), make_rules(rule("web")), [], {})
    assert plan.steps == [] and plan.skipped[0].rule is None and "no rule watches team/api" in plan.skipped[0].reason


def test_tag_policy_skip_reason(make_rules):
    plan = plan_event(ee_push("2.0.0"), make_rules(rule("web", tags={"semver": "^1.0.0"})), [], {})
    assert plan.skipped[0].rule == "web" and "outside" in plan.skipped[0].reason


def test_restart(make_rules):
    rules = make_rules(rule("web", action="restart", tags={"exact": "latest"}))
    (step,) = plan_event(ee_push("latest", None), rules, [group("eci-1", f"{EE}/team/web:latest")], {}).steps
    assert step.action == "RestartContainerGroup"
    assert set(step.params()) == {"RegionId", "ContainerGroupId", "ClientToken"}


def _restart_rules(make_rules):
    return make_rules(rule("web", action="restart", tags={"exact": "latest"}))


def _at(minute):
    from datetime import datetime, timezone

    return datetime(2026, 11, 27, 10, minute, tzinfo=timezone.utc)


def _restart_push(digest=DIGEST_A, minute=1, event_id="ev-1"):
    return PushEvent(
        "team/web",
        "latest",
        digest,
        "acr-eventbridge",
        event_id,
        time=_at(minute),
        instance_id="cri-abc123",
        instance_name="acme",
        region="cn-hangzhou",
    )


def _recorded(step):
    """The group's tags once the worker recorded this restart (TagResources merges)."""
    return {"app": "web", **step.record}


def test_a_restart_carries_the_tracking_tags_the_worker_records(make_rules):
    (step,) = plan_event(
        _restart_push(), _restart_rules(make_rules), [group("eci-1", f"{EE}/team/web:latest")], {}
    ).steps
    assert step.record == {
        "eci-redeploy.digest": DIGEST_A,
        "eci-redeploy.event-time": str(int(_at(1).timestamp() * 1000)),
        "eci-redeploy.rule": "web",
        "eci-redeploy.tag": "latest",
    }
    assert "Tag" not in step.body  # RestartContainerGroup has no tags of its own
    assert step.to_json()["records"] == step.record


@pytest.mark.parametrize("status", ["Running", "Restarting"])
def test_a_group_restarted_for_the_push_is_recognised(make_rules, status):
    """Even while it is still Restarting: done, not deferred."""
    rules = _restart_rules(make_rules)
    (step,) = plan_event(_restart_push(), rules, [group("eci-1", f"{EE}/team/web:latest")], {}).steps
    done = group("eci-1", f"{EE}/team/web:latest", status=status, tags=_recorded(step))
    for push in (_restart_push(), _restart_push(minute=5, event_id="ev-again")):  # redelivery, same content
        plan = plan_event(push, rules, [done], {})
        assert plan.steps == [] and not plan.deferred
        assert plan.skipped[0].reason == f"already restarted for this push ({DIGEST_A})"


def test_a_restart_is_not_recognised_for_another_push(make_rules):
    rules = _restart_rules(make_rules)
    (first,) = plan_event(_restart_push(), rules, [group("eci-1", f"{EE}/team/web:latest")], {}).steps
    done = group("eci-1", f"{EE}/team/web:latest", tags=_recorded(first))
    (step,) = plan_event(_restart_push(DIGEST_B, minute=2, event_id="ev-2"), rules, [done], {}).steps
    assert step.action == "RestartContainerGroup" and step.record["eci-redeploy.previous"] == DIGEST_A
    older = plan_event(_restart_push(DIGEST_B, minute=0, event_id="ev-0"), rules, [done], {})
    assert older.steps == [] and "nothing is downgraded" in older.skipped[0].reason


def test_a_push_without_a_digest_is_recognised_by_its_tag_and_time(make_rules):
    rules = _restart_rules(make_rules)
    (first,) = plan_event(_restart_push(None), rules, [group("eci-1", f"{EE}/team/web:latest")], {}).steps
    done = group("eci-1", f"{EE}/team/web:latest", tags=_recorded(first))
    assert first.record["eci-redeploy.digest"] == ":latest"
    assert plan_event(_restart_push(None), rules, [done], {}).skipped[0].reason.startswith("already restarted")
    (again,) = plan_event(_restart_push(None, minute=2, event_id="ev-2"), rules, [done], {}).steps
    assert again.action == "RestartContainerGroup"


def test_a_reconcile_after_a_restart_restarts_nothing(make_rules):
    """The timer's wanted image (no push time) is the digest the group was restarted onto."""
    rules = _restart_rules(make_rules)
    (first,) = plan_event(_restart_push(), rules, [group("eci-1", f"{EE}/team/web:latest")], {}).steps
    done = group("eci-1", f"{EE}/team/web:latest", tags=_recorded(first))
    wanted = PushEvent("team/web", "latest", DIGEST_A, "reconcile", f"reconcile:web:{DIGEST_A}", registry_host=EE)
    plan = plan_event(wanted, rules, [done], {})
    assert plan.steps == [] and plan.skipped[0].reason.startswith("already restarted")
    newer = PushEvent("team/web", "latest", DIGEST_B, "reconcile", f"reconcile:web:{DIGEST_B}", registry_host=EE)
    (step,) = plan_event(newer, rules, [done], {}).steps
    # No push time: the earlier push's time is written empty (TagResources cannot drop a key), read as unset.
    assert step.record["eci-redeploy.event-time"] == "" and step.record["eci-redeploy.digest"] == DIGEST_B


def test_restart_tokens_name_the_transition(make_rules):
    """A -> B -> A: the second restart onto A is a new transition (a replayed token would be a no-op
    that the worker then records as done); the same transition keeps its token."""
    rules = _restart_rules(make_rules)
    fresh = group("eci-1", f"{EE}/team/web:latest")
    (a1,) = plan_event(_restart_push(), rules, [fresh], {}).steps
    assert plan_event(_restart_push(), rules, [fresh], {}).steps[0].client_token == a1.client_token
    on_a = group("eci-1", f"{EE}/team/web:latest", tags=_recorded(a1))
    (b,) = plan_event(_restart_push(DIGEST_B, minute=2, event_id="ev-2"), rules, [on_a], {}).steps
    on_b = group("eci-1", f"{EE}/team/web:latest", tags={"app": "web", **b.record})
    (a2,) = plan_event(_restart_push(DIGEST_A, minute=3, event_id="ev-3"), rules, [on_b], {}).steps
    assert len({a1.client_token, b.client_token, a2.client_token}) == 3


def test_a_group_with_no_room_for_the_record_is_not_restarted(make_rules):
    """Unrecorded, it could not be recognised: every later time slice or redelivery would restart it."""
    full = {"app": "web", **{f"k{i}": "v" for i in range(17)}}  # 18 tags: no room for 3 more
    g = group("eci-1", f"{EE}/team/web:latest", tags=full)
    plan = plan_event(_restart_push(), _restart_rules(make_rules), [g], {})
    assert plan.steps == [] and "no room for the tracking tags" in plan.skipped[0].reason


TEMPLATE = {
    "ContainerGroupName": "web",
    "SecurityGroupId": "sg-1",
    "VSwitchId": "vsw-1",
    "Container": [{"Name": "app", "Image": f"{EE}/team/web:1.0.0"}, {"Name": "log", "Image": "busybox:1"}],
    "Tag": [{"Key": "app", "Value": "web"}, {"Key": "tier", "Value": "front"}],
}


def test_create_from_template(make_rules):
    rules = make_rules(rule("web", action="create", template="t.yaml"), templates={"t.yaml": TEMPLATE})
    (step,) = plan_event(ee_push(), rules, [], {}).steps
    assert step.action == "CreateContainerGroup" and step.target == "web"
    assert step.body["Container"] == [
        {"Name": "app", "Image": f"{EE}/team/web@{DIGEST_A}"},
        {"Name": "log", "Image": "busybox:1"},
    ]
    assert step.body["AcrRegistryInfo"][0]["InstanceId"] == "cri-abc123"
    assert step.body["AutoMatchImageCache"] is True


def test_create_skipped_when_the_named_group_already_runs_it(make_rules):
    rules = make_rules(rule("web", action="create", template="t.yaml"), templates={"t.yaml": TEMPLATE})
    existing = group("eci-9", f"{EE}/team/web@{DIGEST_A}", "busybox:1", name="web")
    plan = plan_event(ee_push(), rules, [existing], {})
    assert plan.steps == [] and "already runs" in plan.skipped[0].reason


def test_template_container_without_image_gets_the_instance_vpc_host(make_rules):
    template = {**TEMPLATE, "Container": [{"Name": "app"}]}
    rules = make_rules(
        rule("web", action="create", template="t.yaml", containers=["app"]), templates={"t.yaml": template}
    )
    (step,) = plan_event(ee_push(), rules, [], {}).steps
    assert step.body["Container"][0]["Image"] == f"{EE}/team/web@{DIGEST_A}"


def test_replace_creates_a_successor_then_deletes(make_rules):
    rules = make_rules(
        rule("web", action="replace", template="t.yaml", selector={"name": "web-1"}), templates={"t.yaml": TEMPLATE}
    )
    old = group("eci-1", f"{EE}/team/web:1.0.0", name="web-1", tags={"app": "web", "owner": "ops"})
    create, delete = plan_event(ee_push(), rules, [old], {}).steps
    assert create.action == "CreateContainerGroup" and create.body["ContainerGroupName"] == "web-1"
    assert create.body["Tag"] == [
        {"Key": "app", "Value": "web"},
        {"Key": "owner", "Value": "ops"},
        {"Key": "tier", "Value": "front"},
        {"Key": "eci-redeploy.digest", "Value": DIGEST_A},
        {"Key": "eci-redeploy.rule", "Value": "web"},
        {"Key": "eci-redeploy.previous", "Value": ":1.0.0"},
        {"Key": "eci-redeploy.tag", "Value": "1.4.0"},  # the pushed tag: the version the successor runs
    ]
    assert delete.action == "DeleteContainerGroup" and delete.target == "eci-1"
    assert delete.requires == create.client_token


def test_plan_json_masks_secrets(make_rules, monkeypatch):
    pull = {"credentials": [{"server": "reg.example.com", "username": "u", "password_env": "PW"}]}
    rules = make_rules(rule("web", pull=pull))
    event = PushEvent("team/web", "1", DIGEST_A, "generic", "e", registry_host="reg.example.com")
    plan = plan_event(event, rules, [group("eci-1", "reg.example.com/team/web:0")], {"PW": "hunter2-secret"})
    text = json.dumps(plan.to_json())
    assert "hunter2-secret" not in text
    assert plan.to_json()["actions"][0]["params"]["ImageRegistryCredential.1.Password"] == "******"
    assert "hunter2-secret" not in repr(plan) and "hunter2-secret" not in str(plan.steps[0].params())


def test_tag_deploy_redelivered_is_not_applied_twice_but_new_content_under_the_tag_is(make_rules):
    """pull.digest: false deploys by tag; a redelivery of the same push (same digest) must change nothing
    (issue 12: "none for a duplicate"), while the tag pushed again with other content still re-pulls.
    Found by an independent run: three identical invokes made three UpdateContainerGroup calls."""
    rules = make_rules(rule("web", tags={"semver": ">=1.0.0 <2.0.0"}, pull={"digest": False}))
    (first,) = plan_event(ee_push("1.4.6", DIGEST_A), rules, [group("eci-1", f"{EE}/team/web:1.4.5")], {}).steps
    assert first.body["Container"] == [{"Name": "c1", "Image": f"{EE}/team/web:1.4.6"}]
    recorded = {t["Key"]: t["Value"] for t in first.body["Tag"]}
    assert recorded["eci-redeploy.digest"] == DIGEST_A  # the content the tag held, though deployed by tag
    after = group("eci-1", f"{EE}/team/web:1.4.6", tags=recorded)
    again = plan_event(ee_push("1.4.6", DIGEST_A, event_id="ev-redelivered"), rules, [after], {})
    assert again.steps == [] and again.skipped[0].reason.startswith("already running")
    (repush,) = plan_event(ee_push("1.4.6", DIGEST_B, event_id="ev-2"), rules, [after], {}).steps
    assert repush.body["Container"] == [{"Name": "c1", "Image": f"{EE}/team/web:1.4.6", "ImagePullPolicy": "Always"}]


def test_a_push_without_digest_or_time_is_told_apart_by_its_event_id(make_rules):
    """A CI call (`generic`: `{"image": "...:latest", "id": "build-42"}`) names neither a digest nor a time.
    Its redelivery (same id) is recognised; the next build's call (another id) restarts again instead of
    being skipped for good as 'already restarted for this push'."""
    rules = _restart_rules(make_rules)

    def ci(event_id):
        return PushEvent("team/web", "latest", None, "generic", event_id, registry_host=EE)

    (first,) = plan_event(ci("build-42"), rules, [group("eci-1", f"{EE}/team/web:latest")], {}).steps
    done = group("eci-1", f"{EE}/team/web:latest", tags=_recorded(first))
    assert plan_event(ci("build-42"), rules, [done], {}).skipped[0].reason.startswith("already restarted")
    (again,) = plan_event(ci("build-43"), rules, [done], {}).steps
    assert again.action == "RestartContainerGroup" and again.client_token != first.client_token
