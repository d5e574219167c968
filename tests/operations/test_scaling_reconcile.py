"""The reconcile of a scaling-group rule (issue 26: "reconcile of drift (the configuration's image and each
instance's)"): the rule's registry is Debian's docker-registry (its digests are the ones it computes for the
layouts tests/registry_tools.py writes), the scaling group is created through the official Auto Scaling
SDK against the fake (tests/ess_tools.py), the drift is made with the same official calls a person would
use (ModifyEciScalingConfiguration, UpdateContainerGroup)."""

from __future__ import annotations

from alibabacloud_ess20220222 import models

from eci_redeploy.clients.ess import ess_for
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.operations.reconcile import client_factory, reconcile
from eci_redeploy.rules.model import parse_rules
from ess_tools import REGION, configuration_image, images, rule, scaling_group
from reconcile_stage import gateway_on


def _world(open_registry):
    registry, digests, _ = open_registry
    backend = FakeEci()
    handle = type("Handle", (), {})()
    handle.backend, handle.gateway = backend, gateway_on(backend)
    gid, cid = scaling_group(handle, instances=3, image=f"{registry.host}/team/web:1.0.0")
    body = rule(gid, source={"registry": registry.host, "tags": {"semver": "^1.0.0"}})
    body["pull"] = {"plain_http": [registry.host]}
    rules = parse_rules({"version": 1, "rules": [body]}, source="rules.yaml")
    # 1.2.0 is a two-platform index: ECI runs the amd64 manifest (test_reconcile_registry's expectation)
    wanted = f"{registry.host}/team/web@{digests['1.2.0/amd64']}"
    return handle, rules, gid, cid, wanted


def test_reconcile_moves_the_configuration_and_the_instances_to_what_the_registry_says(open_registry):
    handle, rules, gid, cid, wanted = _world(open_registry)
    result = reconcile(rules, handle.gateway, client_factory({}), {})
    assert not result.report.failed and not result.problems, result.to_json()
    assert configuration_image(handle, cid) == wanted
    assert set(images(handle, gid).values()) == {wanted}
    assert handle.backend.ess.groups[gid]["SuspendedProcesses"] == []
    before = len(handle.backend.mutating_calls())
    again = reconcile(rules, handle.gateway, client_factory({}), {})
    assert not again.report.failed and len(handle.backend.mutating_calls()) == before  # converged: no write


def test_reconcile_undoes_drift_of_the_configuration_and_of_one_instance(open_registry):
    handle, rules, gid, cid, wanted = _world(open_registry)
    reconcile(rules, handle.gateway, client_factory({}), {})
    registry = open_registry[0]
    old = f"{registry.host}/team/web:1.0.0"
    # someone puts the configuration back on 1.0.0 (the console, another pipeline), and one instance too
    client = ess_for(handle.gateway)._client(REGION)
    client.modify_eci_scaling_configuration(
        models.ModifyEciScalingConfigurationRequest(
            scaling_configuration_id=cid,
            containers_update_type="IncrementalUpdate",
            containers=[models.ModifyEciScalingConfigurationRequestContainers(name="app", image=old)],
        )
    )
    drifted = sorted(images(handle, gid))[0]
    handle.gateway.call(
        "UpdateContainerGroup",
        {"RegionId": REGION, "ContainerGroupId": drifted, "Container": [{"Name": "app", "Image": old}]},
    )
    handle.backend.settle()
    assert configuration_image(handle, cid) == old and images(handle, gid)[drifted] == old
    mark = len(handle.backend.mutating_calls())
    result = reconcile(rules, handle.gateway, client_factory({}), {})
    assert not result.report.failed, result.to_json()
    assert configuration_image(handle, cid) == wanted
    assert set(images(handle, gid).values()) == {wanted}
    updated = [
        c.params["ContainerGroupId"]
        for c in handle.backend.mutating_calls()[mark:]
        if c.action == "UpdateContainerGroup"
    ]
    assert updated == [drifted]  # only the instance that drifted
    assert handle.backend.ess.groups[gid]["SuspendedProcesses"] == []


def test_as_deployed_the_timer_hands_the_recovery_to_the_worker_when_the_registry_does_not_answer(
    tmp_path, monkeypatch, mocker
):
    """issue 26: "a worker killed mid-rollout leaves no process suspended forever (the next run or tick
    resumes them)", with the single writer (ECI_REDEPLOY_WORKER_FUNCTION): the timer decides on a dry run
    and changes nothing; before, with no registry answer it had no event to hand over and the group stayed
    suspended. The dead worker's state is made with ESS's own calls (TagResources, SuspendProcesses,
    EnterStandby), as docs/scaling-groups.md says the worker leaves it."""
    import importlib.util
    import json

    from eci_redeploy.execution.dispatch import InlineDispatcher
    from eci_redeploy.functions import runtime as common
    from eci_redeploy.functions.push_worker import handle_work
    from fcfixtures import fc_context

    from helpers import ROOT

    backend = FakeEci()
    handle = type("Handle", (), {})()
    handle.backend, handle.gateway = backend, gateway_on(backend)
    gid, _ = scaling_group(handle, instances=2)
    first = sorted(backend.ess.instances[gid])[0]
    ess = ess_for(handle.gateway)
    record = "ScaleIn,ScaleOut,HealthCheck|web-asg"
    ess.call(
        "TagResources",
        {
            "RegionId": REGION,
            "ResourceType": "scalinggroup",
            "ResourceIds": [gid],
            "Tags": [
                {"Key": "eci-redeploy.suspended", "Value": record},
                {"Key": "eci-redeploy.standby.1", "Value": first},
            ],
        },
    )
    ess.call(
        "SuspendProcesses",
        {"RegionId": REGION, "ScalingGroupId": gid, "Processes": ["ScaleIn", "ScaleOut", "HealthCheck"]},
    )
    ess.call("EnterStandby", {"ScalingGroupId": gid, "InstanceIds": [first]}, region=REGION)
    body = rule(gid, source={"registry": "127.0.0.1:9"})  # nothing listens there: the registry does not answer
    body["pull"] = {"plain_http": ["127.0.0.1:9"]}
    (tmp_path / "rules.yaml").write_text(json.dumps({"version": 1, "rules": [body]}))
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(tmp_path / "rules.yaml"))
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    mocker.patch.object(common, "gateway_factory", return_value=handle.gateway)
    orders = []

    def worker(order):
        orders.append(order)
        return handle_work(order.model_dump_json().encode(), fc_context("worker"), default_rules=tmp_path / "x")

    mocker.patch.object(common, "dispatcher_factory", return_value=InlineDispatcher(worker, background=False))
    spec = importlib.util.spec_from_file_location("fc_timer", ROOT / "functions" / "timer" / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = len(backend.calls)
    event = json.dumps({"triggerTime": "2026-12-01T00:05:00Z", "triggerName": "reconcile", "payload": "reconcile"})
    result = module.handler(event.encode(), fc_context("timer"))
    assert result["handed_off"]["accepted"] is True, result
    assert [[(e.source, e.only_rule) for e in o.events] for o in orders] == [[("scaling-recovery", "web-asg")]]
    group = backend.ess.groups[gid]
    assert group["SuspendedProcesses"] == []
    assert {i["LifecycleState"] for i in backend.ess.instances[gid].values()} == {"InService"}
    assert not [t for t in group["Tags"] if t["Key"].startswith("eci-redeploy.")]
    reads = (
        "DescribeScalingGroups",
        "DescribeEciScalingConfigurations",
        "DescribeScalingInstances",
        "DescribeContainerGroups",
    )
    writes = [c.action for c in backend.calls[before:] if c.status == 200 and c.action not in reads]
    assert writes == ["ExitStandby", "ResumeProcesses", "UntagResources"]  # the worker's, and nothing else


def test_the_worker_applies_a_scaling_group_push_with_its_steps_on(tmp_path, monkeypatch, mocker):
    """As deployed, the worker runs health-gated rollouts in steps (ECI_REDEPLOY_WORKER_STEPS, default on,
    docs/settings.md). Before, a scaling-group rule counted as steppable, so its ESS steps went to the ECI
    gateway (KeyError: 'TagResources' in the worker): a push to a scaling group never got past the worker."""
    import json

    from eci_redeploy.execution.handoff import WorkOrder
    from eci_redeploy.functions import runtime as common
    from eci_redeploy.functions.push_worker import handle_work
    from ess_tools import NEW_IMAGE, push
    from fcfixtures import fc_context

    backend = FakeEci()
    handle = type("Handle", (), {})()
    handle.backend, handle.gateway = backend, gateway_on(backend)
    gid, cid = scaling_group(handle, instances=3)
    (tmp_path / "rules.yaml").write_text(json.dumps({"version": 1, "rules": [rule(gid)]}))
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(tmp_path / "rules.yaml"))
    monkeypatch.setenv("REG_PASSWORD", "s3cret")
    monkeypatch.delenv("ECI_REDEPLOY_WORKER_STEPS", raising=False)
    mocker.patch.object(common, "gateway_factory", return_value=handle.gateway)
    order = WorkOrder.for_events([push("1.1.0")])
    result = handle_work(order.model_dump_json().encode(), fc_context("worker"), default_rules=tmp_path / "x")
    assert result["ok"] is True, result
    assert configuration_image(handle, cid) == NEW_IMAGE and set(images(handle, gid).values()) == {NEW_IMAGE}
    assert backend.ess.groups[gid]["SuspendedProcesses"] == []
