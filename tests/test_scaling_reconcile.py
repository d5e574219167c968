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
from test_reconcile_registry import gateway_on, open_registry  # noqa: F401 - the fixture


def _world(open_registry):  # noqa: F811
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


def test_reconcile_moves_the_configuration_and_the_instances_to_what_the_registry_says(open_registry):  # noqa: F811
    handle, rules, gid, cid, wanted = _world(open_registry)
    result = reconcile(rules, handle.gateway, client_factory({}), {})
    assert not result.report.failed and not result.problems, result.to_json()
    assert configuration_image(handle, cid) == wanted
    assert set(images(handle, gid).values()) == {wanted}
    assert handle.backend.ess.groups[gid]["SuspendedProcesses"] == []
    before = len(handle.backend.mutating_calls())
    again = reconcile(rules, handle.gateway, client_factory({}), {})
    assert not again.report.failed and len(handle.backend.mutating_calls()) == before  # converged: no write


def test_reconcile_undoes_drift_of_the_configuration_and_of_one_instance(open_registry):  # noqa: F811
    handle, rules, gid, cid, wanted = _world(open_registry)
    reconcile(rules, handle.gateway, client_factory({}), {})
    registry = open_registry[0]
    old = f"{registry.host}/team/web:1.0.0"
    # someone puts the configuration back on 1.0.0 (the console, another pipeline), and one instance too
    client = ess_for(handle.gateway)._client(REGION)
    client.modify_eci_scaling_configuration(models.ModifyEciScalingConfigurationRequest(
        scaling_configuration_id=cid, containers_update_type="IncrementalUpdate",
        containers=[models.ModifyEciScalingConfigurationRequestContainers(name="app", image=old)]))
    drifted = sorted(images(handle, gid))[0]
    handle.gateway.call("UpdateContainerGroup", {"RegionId": REGION, "ContainerGroupId": drifted,
                                                 "Container": [{"Name": "app", "Image": old}]})
    handle.backend.settle()
    assert configuration_image(handle, cid) == old and images(handle, gid)[drifted] == old
    mark = len(handle.backend.mutating_calls())
    result = reconcile(rules, handle.gateway, client_factory({}), {})
    assert not result.report.failed, result.to_json()
    assert configuration_image(handle, cid) == wanted
    assert set(images(handle, gid).values()) == {wanted}
    updated = [c.params["ContainerGroupId"] for c in handle.backend.mutating_calls()[mark:]
               if c.action == "UpdateContainerGroup"]
    assert updated == [drifted]  # only the instance that drifted
    assert handle.backend.ess.groups[gid]["SuspendedProcesses"] == []
