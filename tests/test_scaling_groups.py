"""ECI in Auto Scaling (ESS) groups (issue 26), on the wire: the official ECI and Auto Scaling SDKs
(alibabacloud-eci20180808, alibabacloud-ess20220222) against the fake, in-process and over HTTP.

The procedure expected is Alibaba's OOS template ACS-ESS-RollingUpdateByUpdateContainerGroup (its
published steps: SuspendProcesses, ModifyEciScalingConfiguration, then per batch EnterStandby,
UpdateContainerGroup, wait until healthy, ExitStandby; ResumeProcesses; on failure the configuration
and the instances go back). The ownership tag is ESS's system tag acs:autoscaling:scalingGroupId (the
ESS / ACK docs list it on every instance a scaling group creates).
"""

from __future__ import annotations

import pytest

from eci_redeploy import pipeline
from eci_redeploy.execution.executor import APPLY, DryRun
from eci_redeploy.rules.model import parse_rules
from ess_tools import HOST, REGION, T0, configuration_image, images, push, rule, scaling_group

NEW = f"{HOST}/team/web:1.1.0"
OLD = f"{HOST}/team/web:1.0.0"


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv("REG_PASSWORD", "s3cret")


def _rules(*items):
    return parse_rules({"version": 1, "rules": list(items)}, source="rules.yaml")


def _run(eci, rules, *events, executor=APPLY):
    import os

    return pipeline.run(list(events), rules, eci.gateway, dict(os.environ), executor=executor)


def _group(eci, gid):
    return eci.backend.ess.groups[gid]


def test_a_push_rolls_six_instances_in_batches_and_a_scale_out_afterwards_runs_the_new_image(eci):
    gid, cid = scaling_group(eci, instances=6)
    report = _run(eci, _rules(rule(gid)), push("1.1.0"))
    assert not report.failed
    assert set(images(eci, gid).values()) == {NEW}
    assert configuration_image(eci, cid) == NEW
    calls = [c for c in eci.backend.calls if c.status == 200 and c.mutating]
    order = [c.action for c in calls]
    # OOS order: suspend, configuration, then three batches of two, then resume
    assert order[:2] == ["SuspendProcesses", "ModifyEciScalingConfiguration"] and order[-1] == "ResumeProcesses"
    batches = [
        sorted(v for k, v in c.params.items() if k.startswith("InstanceIds."))
        for c in calls
        if c.action == "EnterStandby"
    ]
    assert [len(b) for b in batches] == [2, 2, 2] and sorted(i for b in batches for i in b) == sorted(images(eci, gid))
    first_exit = order.index("ExitStandby")
    updated_in_batch_1 = [
        c.params["ContainerGroupId"] for c in calls[:first_exit] if c.action == "UpdateContainerGroup"
    ]
    assert sorted(updated_in_batch_1) == batches[0]
    # processes back, the suspension and standby records gone, every instance InService
    assert _group(eci, gid)["SuspendedProcesses"] == []
    assert not [t for t in _group(eci, gid)["Tags"] if t["Key"].startswith("eci-redeploy.")]
    assert {i["LifecycleState"] for i in eci.backend.ess.instances[gid].values()} == {"InService"}
    # the pull parameters went with the configuration (ImageRegistryCredentials, ESS's name for them)
    modify = next(c for c in calls if c.action == "ModifyEciScalingConfiguration")
    assert modify.params["ImageRegistryCredentials.1.Server"] == HOST
    assert modify.params["ContainersUpdateType"] == "IncrementalUpdate"
    # the sidecar is not the pushed repository: left as it is, in the configuration too
    config = {c["Name"]: c["Image"] for c in eci.backend.ess.configs[cid]["Containers"]}
    assert config["sidecar"] == f"{HOST}/team/log:2"
    # scale-out after the deploy: the new instances run the new image
    added = eci.backend.ess.scale_out(gid, 2)
    assert len(added) == 2 and {images(eci, gid)[i] for i in added} == {NEW}


def test_a_redelivered_push_changes_nothing_more(eci):
    """With a digest (a tag pushed again without one may hold new content, as for container groups)."""
    gid, _ = scaling_group(eci, instances=3)
    rules = _rules(rule(gid))
    digest = "sha256:" + "c" * 64
    _run(eci, rules, push("1.1.0", digest))
    before = len([c for c in eci.backend.calls if c.mutating])
    report = _run(eci, rules, push("1.1.0", digest))
    assert len([c for c in eci.backend.calls if c.mutating]) == before
    assert not report.plan.steps


def test_a_failing_health_check_rolls_the_configuration_and_the_instances_back_and_resumes(eci):
    gid, cid = scaling_group(eci, instances=6)
    eci.backend.faults.broken_images = [NEW]  # ECI cannot pull it: the groups never get Ready
    r = rule(gid, rollout={"timeout_seconds": 1})
    report = _run(eci, _rules(r), push("1.1.0"))
    assert report.failed
    assert configuration_image(eci, cid) == OLD  # rolled back: the next scale-out launches the old image
    eci.backend.settle()
    assert set(images(eci, gid).values()) == {OLD}
    updates = [c for c in eci.backend.calls if c.mutating and c.action == "UpdateContainerGroup"]
    assert [c.params["Container.1.Image"] for c in updates] == [NEW, NEW, OLD, OLD]  # batch 1, then its undo
    assert _group(eci, gid)["SuspendedProcesses"] == []
    assert {i["LifecycleState"] for i in eci.backend.ess.instances[gid].values()} == {"InService"}
    assert not [t for t in _group(eci, gid)["Tags"] if t["Key"].startswith("eci-redeploy.")]
    statuses = {o.step.action: o.status for o in report.outcomes}
    assert statuses["ModifyEciScalingConfiguration"] == "rolled-back"
    eci.backend.faults.broken_images = []
    added = eci.backend.ess.scale_out(gid, 1)
    assert images(eci, gid)[added[0]] == OLD


def test_a_later_failure_also_rolls_back_the_instances_of_earlier_healthy_batches(eci):
    gid, cid = scaling_group(eci, instances=4)
    broken: list[str] = []
    r = rule(gid, rollout={"timeout_seconds": 1})
    # batch 1 healthy; then the image breaks (a pull from a registry that went away) for batch 2
    import eci_redeploy.execution.scaling as scaling

    real = scaling.wait_healthy
    calls = {"n": 0}

    def flaky(gateway, region, ids, settings, clock, seen=None):
        calls["n"] += 1
        if calls["n"] == 2:
            broken.extend(ids)
            return {i: ("failed: the group is Failed", []) for i in ids}
        return real(gateway, region, ids, settings, clock, seen)

    scaling.wait_healthy = flaky
    try:
        report = _run(eci, _rules(r), push("1.1.0"))
    finally:
        scaling.wait_healthy = real
    assert report.failed and len(broken) == 2
    assert configuration_image(eci, cid) == OLD
    assert set(images(eci, gid).values()) == {OLD}  # batch 1's healthy instances went back too


def test_a_worker_killed_mid_rollout_leaves_no_process_suspended_for_the_next_run(eci, mocker):
    gid, cid = scaling_group(eci, instances=4)
    rules = _rules(rule(gid))
    import eci_redeploy.execution.scaling as scaling

    class Killed(BaseException):  # FC ending the instance: no Python code of ours runs after it
        pass

    mocker.patch.object(scaling._Run, "_resume", lambda self, suspend: None)  # what a kill skips
    mocker.patch.object(scaling, "wait_healthy", side_effect=Killed)
    with pytest.raises(Killed):
        _run(eci, rules, push("1.1.0"))
    mocker.stopall()
    left = _group(eci, gid)
    assert set(left["SuspendedProcesses"]) >= {"ScaleIn", "ScaleOut", "HealthCheck"}
    assert sorted(i["LifecycleState"] for i in eci.backend.ess.instances[gid].values()) == [
        "InService",
        "InService",
        "Standby",
        "Standby",
    ]
    assert eci.backend.ess.scale_out(gid, 1) == []  # suspended: nothing scales
    # the next run (a redelivery of the same push) puts the group back first, then finishes the rollout
    report = _run(eci, rules, push("1.1.0"))
    assert [s.action for s in report.plan.steps if s.phase == "recover"] == [
        "ExitStandby",
        "ResumeProcesses",
        "UntagResources",
    ]
    assert not report.failed
    assert _group(eci, gid)["SuspendedProcesses"] == []
    assert {i["LifecycleState"] for i in eci.backend.ess.instances[gid].values()} == {"InService"}
    assert set(images(eci, gid).values()) == {NEW} and configuration_image(eci, cid) == NEW
    assert not [t for t in _group(eci, gid)["Tags"] if t["Key"].startswith("eci-redeploy.")]


def test_the_timer_tick_resumes_processes_a_dead_worker_left_even_when_no_registry_answers(eci, mocker):
    import os

    from eci_redeploy.clients.registry_api import RegistryError
    from eci_redeploy.operations.reconcile import reconcile

    gid, _ = scaling_group(eci, instances=2)
    rules = _rules(rule(gid))
    import eci_redeploy.execution.scaling as scaling

    class Killed(BaseException):
        pass

    mocker.patch.object(scaling._Run, "_resume", lambda self, suspend: None)
    mocker.patch.object(scaling, "wait_healthy", side_effect=Killed)
    with pytest.raises(Killed):
        _run(eci, rules, push("1.1.0"))
    mocker.stopall()
    assert _group(eci, gid)["SuspendedProcesses"]

    def unreachable(rule, host):
        raise RegistryError("registry unreachable")

    result = reconcile(rules, eci.gateway, unreachable, dict(os.environ))
    assert [o.step.action for o in result.report.outcomes] == ["ExitStandby", "ResumeProcesses", "UntagResources"]
    assert _group(eci, gid)["SuspendedProcesses"] == []
    assert {i["LifecycleState"] for i in eci.backend.ess.instances[gid].values()} == {"InService"}


def test_processes_someone_else_suspended_are_not_touched_and_the_push_is_deferred(eci):
    gid, cid = scaling_group(eci, instances=2)
    client = __import__("eci_redeploy.clients.ess", fromlist=["ess_for"]).ess_for(eci.gateway)
    client.call("SuspendProcesses", {"RegionId": REGION, "ScalingGroupId": gid, "Processes": ["ScaleIn"]})
    report = _run(eci, _rules(rule(gid)), push("1.1.0"))
    assert report.deferred and "suspended by someone else" in report.plan.skipped[-1].reason
    assert configuration_image(eci, cid) == OLD
    assert _group(eci, gid)["SuspendedProcesses"] == ["ScaleIn"]


def test_a_container_group_rule_skips_groups_a_scaling_group_or_kubernetes_owns(eci):
    gid, _ = scaling_group(eci, instances=2)
    eci.backend.seed(
        [
            {
                "ContainerGroupId": "eci-pod",
                "ContainerGroupName": "pod",
                "RegionId": REGION,
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}, {"Key": "ack.aliyun.com", "Value": "c0ffee42"}],
                "Containers": [{"Name": "app", "Image": OLD}],
            },
            {
                "ContainerGroupId": "eci-free",
                "ContainerGroupName": "free",
                "RegionId": REGION,
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": OLD}],
            },
        ]
    )
    plain = {
        "name": "web",
        "source": {"repository": "team/web", "tags": {"semver": ">=1.0.0"}},
        "target": {"region": REGION, "action": "update", "container_groups": {"tags": {"app": "web"}}},
        "pull": {"public": [HOST]},
    }
    report = _run(eci, _rules(plain), push("1.1.0"))
    reasons = {s.target: s.reason for s in report.plan.skipped if s.target}
    for iid in images(eci, gid):
        assert reasons[iid].startswith(f"belongs to scaling group {gid}: target the scaling group instead")
    assert "c0ffee42" in reasons["eci-pod"] and "Kubernetes" in reasons["eci-pod"]
    updated = {c.params["ContainerGroupId"] for c in eci.backend.calls if c.mutating}
    assert updated == {"eci-free"}
    # the explicit opt-in for scaling-group instances (not for Kubernetes pods)
    opted = {**plain, "target": {**plain["target"], "allow_owned": ["scaling-group"]}}
    _run(eci, _rules(opted), push("1.2.0", minutes=1))
    assert set(images(eci, gid).values()) == {f"{HOST}/team/web:1.2.0"}
    assert eci.backend.group("eci-pod").spec["Container"][0]["Image"] == OLD


@pytest.mark.parametrize("first,second", [("1.2.0", "1.1.0"), ("1.1.0", "1.2.0")])
def test_two_pushes_in_either_order_end_on_the_newer(eci, first, second):
    gid, cid = scaling_group(eci, instances=4)
    rules = _rules(rule(gid))
    _run(eci, rules, push(first, minutes=1))
    _run(eci, rules, push(second, minutes=2))
    newer = f"{HOST}/team/web:1.2.0"
    assert configuration_image(eci, cid) == newer and set(images(eci, gid).values()) == {newer}
    moves = [
        c.params["Containers.1.Image"]
        for c in eci.backend.calls
        if c.mutating and c.action == "ModifyEciScalingConfiguration"
    ]
    assert moves == sorted(set(moves))  # never backwards


def test_two_pushes_through_the_single_writer_end_on_the_newer(eci):
    import os

    gid, cid = scaling_group(eci, instances=2)
    rules = _rules(rule(gid))
    pipeline.run_serialised([push("1.2.0", minutes=2), push("1.1.0", minutes=1)], rules, eci.gateway, dict(os.environ))
    assert configuration_image(eci, cid) == f"{HOST}/team/web:1.2.0"
    assert all("1.1.0" not in c.params.get("Containers.1.Image", "") for c in eci.backend.calls if c.mutating)


def test_back_to_an_image_the_scaling_group_ran_before(eci):
    """A -> B -> A on a moving tag (ordered by push time): ends on A, no token reused with another body."""
    gid, cid = scaling_group(eci, instances=2, image=f"{HOST}/team/web@sha256:{'0' * 64}")
    r = rule(gid, source={"tags": {"glob": "*"}})
    rules = _rules(r)
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    for digest, minutes in ((a, 1), (b, 2), (a, 3)):
        report = _run(eci, rules, push("stable", digest, minutes=minutes, event_id=f"ev-{minutes}"))
        assert not report.failed, report.to_json()
    assert configuration_image(eci, cid) == f"{HOST}/team/web@{a}"
    assert set(images(eci, gid).values()) == {f"{HOST}/team/web@{a}"}
    assert not [c for c in eci.backend.calls if c.code == "IdempotentParameterMismatch"]
    enters = [c for c in eci.backend.calls if c.action == "EnterStandby" and c.status == 200]
    assert len({c.params["ClientToken"] for c in enters}) == len(enters) == 3


def test_a_frozen_scaling_group_is_left_as_it_is(eci):
    from eci_redeploy.clients.ess import ess_for

    gid, cid = scaling_group(eci, instances=2)
    ess_for(eci.gateway).call(
        "TagResources",
        {
            "RegionId": REGION,
            "ResourceType": "scalinggroup",
            "ResourceIds": [gid],
            "Tags": [{"Key": "eci-redeploy.freeze", "Value": "true"}],
        },
    )
    report = _run(eci, _rules(rule(gid)), push("1.1.0"))
    assert "frozen" in report.plan.skipped[-1].reason and not report.plan.steps
    assert configuration_image(eci, cid) == OLD


def test_dry_run_and_plan_show_the_procedure_and_change_nothing(eci):
    gid, cid = scaling_group(eci, instances=2)
    report = _run(eci, _rules(rule(gid)), push("1.1.0"), executor=DryRun())
    actions = [a["action"] for a in report.to_json()["actions"]]
    assert actions == [
        "TagResources",
        "SuspendProcesses",
        "ModifyEciScalingConfiguration",
        "TagResources",
        "EnterStandby",
        "UpdateContainerGroup",
        "UpdateContainerGroup",
        "ExitStandby",
        "UntagResources",
        "ResumeProcesses",
        "UntagResources",
    ]
    assert "s3cret" not in str(report.to_json())
    assert configuration_image(eci, cid) == OLD and not [c for c in eci.backend.calls if c.mutating]


def test_every_planned_ess_request_is_what_the_sdk_sends(eci):
    """The plan shows exactly what goes on the wire (issue 22 item 1): each ESS step's flat parameters are
    the ones the fake received from the SDK (EnterStandby's request model has no RegionId: none planned)."""
    from eci_redeploy.core.secrets import revealed

    gid, _ = scaling_group(eci, instances=2)
    report = _run(eci, _rules(rule(gid)), push("1.1.0"))
    received = {c.request_id: c.params for c in eci.backend.calls}
    checked = 0
    for outcome in report.outcomes:
        if outcome.step.scaling_group and outcome.request_id:
            sent = {k: str(v) for k, v in revealed(outcome.step.params()).items()}
            assert received[outcome.request_id] == sent, outcome.step.action
            checked += 1
    assert checked == len(report.outcomes) == 11


def test_instances_that_never_restart_are_not_updated_in_place_unless_the_rule_says_so(eci):
    """Issue 22 item 5 for a scaling group's instances: "Updating an ECI instance with a RestartPolicy of
    Never may cause containers to fail" (UpdateContainerGroup, https://www.alibabacloud.com/help/en/eci/
    developer-reference/api-eci-2018-08-08-updatecontainergroup). The configuration still moves (what
    the group creates from now on runs the new image); the instances are skipped, saying why, until the
    rule opts in with update: {restart_policy_never: in-place}."""
    gid, cid = scaling_group(eci, instances=2, restart_policy="Never")
    assert {eci.backend.group(i).spec["RestartPolicy"] for i in images(eci, gid)} == {"Never"}
    report = _run(eci, _rules(rule(gid)), push("1.1.0"))
    assert not [c for c in eci.backend.calls if c.action == "UpdateContainerGroup"]
    assert set(images(eci, gid).values()) == {OLD} and configuration_image(eci, cid) == NEW
    reasons = [s.reason for s in report.plan.skipped if s.target in images(eci, gid)]
    assert len(reasons) == 2 and all(
        "RestartPolicy is Never" in r and "restart_policy_never: in-place" in r for r in reasons
    ), reasons
    assert _group(eci, gid)["SuspendedProcesses"] == []
    opted = rule(gid, update={"restart_policy_never": "in-place"})
    report = _run(eci, _rules(opted), push("1.2.0", minutes=1))
    assert not report.failed and set(images(eci, gid).values()) == {f"{HOST}/team/web:1.2.0"}


def test_gates_on_a_scaling_group_rule_are_refused_with_the_way_out():
    from eci_redeploy.core.errors import RulesError

    with pytest.raises(RulesError, match="gates are not supported for a scaling-group target"):
        _rules(rule("asg-x1", gates={"soak": "15m"}))
    _rules(rule("asg-x1", gates={}))  # the way out named in the error


def test_a_scaling_group_rule_refuses_container_groups_and_other_actions():
    from eci_redeploy.core.errors import RulesError

    with pytest.raises(RulesError, match="instead of container_groups"):
        _rules(rule("asg-x1", target={"container_groups": {"tags": {"a": "b"}}}))
    with pytest.raises(RulesError, match="action: update"):
        _rules(rule("asg-x1", target={"action": "restart"}))
    assert _rules(rule("asg-x1", target={"scaling_group": {"name": "web"}})).rules[0].target.scaling_group.name == "web"


class _Registry:
    """The registry as `rollback` asks it (resolve a tag to its digest); the digest is made up here."""

    host = HOST

    def resolve(self, repository, tag, platform):
        from types import SimpleNamespace

        return SimpleNamespace(tag=tag, digest="sha256:" + {"1.0.0": "e", "1.1.0": "f"}[tag] * 64, index_digest=None)

    def list_tags(self, repository):
        return ["1.0.0", "1.1.0"]


def test_rollback_with_freeze_moves_configuration_and_instances_back_and_freezes_the_scaling_group(eci):
    """`eci-redeploy rollback RULE --to TAG --freeze` (docs/cli.md) on a scaling-group rule: the freeze is
    set where the scaling-group planning reads it (the scaling group's tags, ESS TagResources), a push
    after it is left alone, `unfreeze` lifts it, and a rollback passes a frozen group as for container
    groups. Before: ECI TagResources was sent with the scaling group's id (InvalidResourceId.NotFound)."""
    from eci_redeploy.operations import rollback as back

    gid, cid = scaling_group(eci, instances=2)
    rules = _rules(rule(gid))
    r = rules.rules[0]
    _run(eci, rules, push("1.1.0"))
    assert configuration_image(eci, cid) == NEW
    observed = back.rule_groups(eci.gateway, r, rules)
    assert back.previous_tag(r, rules, observed, _Registry()) == "1.0.0"
    event = back.rollback_event(r, rules, _Registry(), "1.0.0")
    report = back.run_rollback(event, rules, eci.gateway, {"REG_PASSWORD": "s3cret"})
    assert not report.failed
    back_to = f"{HOST}/team/web@sha256:{'e' * 64}"
    assert configuration_image(eci, cid) == back_to and set(images(eci, gid).values()) == {back_to}
    assert back.set_freeze(eci.gateway, r, observed, "rollback to 1.0.0") == [gid]
    assert {"Key": "eci-redeploy.freeze", "Value": "rollback to 1.0.0"} in _group(eci, gid)["Tags"]
    later = _run(eci, rules, push("1.2.0", minutes=5))
    assert "frozen" in later.plan.skipped[-1].reason and configuration_image(eci, cid) == back_to
    # a rollback is the operator's: a frozen scaling group lets it through, as a frozen container group does
    again = back.run_rollback(
        back.rollback_event(r, rules, _Registry(), "1.1.0"), rules, eci.gateway, {"REG_PASSWORD": "s3cret"}
    )
    assert not again.failed and not [s for s in again.plan.skipped if "frozen" in s.reason]
    assert configuration_image(eci, cid) == f"{HOST}/team/web@sha256:{'f' * 64}"
    assert back.set_freeze(eci.gateway, r, back.rule_groups(eci.gateway, r, rules), None) == [gid]
    assert not [t for t in _group(eci, gid)["Tags"] if t["Key"] == "eci-redeploy.freeze"]
    _run(eci, rules, push("1.2.0", minutes=6))
    assert configuration_image(eci, cid) == f"{HOST}/team/web:1.2.0"


def test_one_notification_per_push_names_the_image_and_a_failed_rollout_is_not_also_deployed(eci):
    """docs/notifications.md: one message per (rule, event) that changed something. Before, the procedure's
    steps (suspend, standby, their records) had no event, so each push sent a second message, "deployed"
    with no image, also for a rollout that was rolled back."""
    from eci_redeploy.report.notify import messages_for

    gid, _ = scaling_group(eci, instances=2)
    report = _run(eci, _rules(rule(gid)), push("1.1.0"))
    [message] = messages_for(report)
    assert (message.outcome, message.image) == ("deployed", NEW)
    assert [(g["target"], g["action"]) for g in message.groups] == [
        (gid, "ModifyEciScalingConfiguration"),
        *((i, "UpdateContainerGroup") for i in sorted(images(eci, gid))),
    ]
    eci.backend.faults.broken_images = [f"{HOST}/team/web:1.2.0"]
    failed = _run(eci, _rules(rule(gid, rollout={"timeout_seconds": 1})), push("1.2.0", minutes=1))
    [message] = messages_for(failed)
    assert message.outcome == "rolled-back" and message.image == f"{HOST}/team/web:1.2.0"
    # the audit trail names the push on every step of the procedure
    assert {o.step.event_id for o in failed.outcomes} == {"ev-1.2.0-1"}


def test_the_example_acr_rule_sends_acr_registry_infos_with_the_configuration(eci):
    """examples/scaling-group-rules.yaml's api-asg (ACR Enterprise Edition, no password), applied on the wire:
    ModifyEciScalingConfiguration carries AcrRegistryInfos.N.{Domains, InstanceId, InstanceName, RegionId}
    (ModifyEciScalingConfigurationRequestAcrRegistryInfos in alibabacloud-ess20220222: Domains, not ECI's
    Domain), the image by digest, and the instances get ECI's AcrRegistryInfo as for any container group."""
    import yaml

    from eci_redeploy.events.model import PushEvent

    from helpers import ROOT

    doc = yaml.safe_load((ROOT / "examples" / "scaling-group-rules.yaml").read_text())
    body = next(r for r in doc["rules"] if r["name"] == "api-asg")
    domain = "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
    gid, cid = scaling_group(eci, instances=2, image=f"{domain}/team/api:2.0.0")
    body["target"] = {**body["target"], "scaling_group": gid}
    body["rollout"] = {**body["rollout"], "poll_seconds": 0.01}
    digest = "sha256:" + "d" * 64
    event = PushEvent(
        "team/api",
        "2.1.0",
        digest,
        "acr-eventbridge",
        "ev-acr",
        time=T0,
        instance_id="cri-abc123",
        instance_name="acme",
        region=REGION,
        signed=True,
    )
    report = _run(eci, _rules(body), event)
    assert not report.failed, report.to_json()
    [modify] = [c for c in eci.backend.calls if c.mutating and c.action == "ModifyEciScalingConfiguration"]
    assert modify.params["AcrRegistryInfos.1.InstanceId"] == "cri-abc123"
    assert modify.params["AcrRegistryInfos.1.InstanceName"] == "acme"
    assert modify.params["AcrRegistryInfos.1.RegionId"] == REGION
    assert modify.params["AcrRegistryInfos.1.Domains.1"] == domain
    assert "ImageRegistryCredentials.1.Password" not in modify.params
    assert configuration_image(eci, cid) == f"{domain}/team/api@{digest}"
    assert set(images(eci, gid).values()) == {f"{domain}/team/api@{digest}"}


def test_a_rule_by_tags_rolls_every_scaling_group_that_carries_them_and_no_other(eci):
    """issue 26: "target: {scaling_group: ...} (or by name/tags)". DescribeScalingGroups filters by Tags.N
    (DescribeScalingGroupsRequestTags in alibabacloud-ess20220222); each matching group gets its own procedure."""
    web1, c1 = scaling_group(eci, instances=2, name="web-a", tags={"app": "web", "env": "prod"})
    web2, c2 = scaling_group(eci, instances=1, name="web-b", tags={"app": "web", "env": "prod"})
    other, c3 = scaling_group(eci, instances=1, name="web-test", tags={"app": "web", "env": "test"})
    body = rule("asg-x1", target={"scaling_group": {"tags": {"app": "web", "env": "prod"}}})
    report = _run(eci, _rules(body), push("1.1.0"))
    assert not report.failed
    assert configuration_image(eci, c1) == configuration_image(eci, c2) == NEW
    assert set(images(eci, web1).values()) == set(images(eci, web2).values()) == {NEW}
    assert configuration_image(eci, c3) == OLD and set(images(eci, other).values()) == {OLD}
    suspended = [c.params["ScalingGroupId"] for c in eci.backend.calls if c.action == "SuspendProcesses"]
    assert sorted(suspended) == sorted([web1, web2])
    assert all(_group(eci, g)["SuspendedProcesses"] == [] for g in (web1, web2, other))


def test_a_scaling_group_reference_takes_exactly_one_of_id_name_tags():
    from eci_redeploy.core.errors import RulesError

    with pytest.raises(RulesError, match="exactly one of id, name, tags"):
        _rules(rule("asg-x1", target={"scaling_group": {"name": "web", "tags": {"app": "web"}}}))
    with pytest.raises(RulesError, match="keys are 1-128 characters"):
        _rules(rule("asg-x1", target={"scaling_group": {"tags": {"k" * 129: "v"}}}))
