"""Least privilege (issue 22 item 4): one role per function in s.yaml, each with exactly what its code path
calls. The table is functions/permissions.py (the gateways enforce it); this holds s.yaml, the policies in
deploy/ram/ and the clients' own action tables to it. ECI's RAM reference (help.aliyun.com, "ECI: RAM
authorization", api-eci-2018-08-08-ram) gives container groups the resource
acs:eci:{regionId}:{accountId}:containergroup/{id} and image caches imagecache/{id}."""

from __future__ import annotations

import json
import re

import pytest

from eci_redeploy.execution.executor import Preview

from helpers import ROOT

FUNCTIONS = ("push", "webhook", "worker", "timer")


def _policy(name):
    return json.loads((ROOT / "deploy" / "ram" / f"{name}.json").read_text())


def _actions(policy):
    statements = policy["Statement"]
    return {a for st in statements for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}


def test_each_function_has_its_own_role_in_s_yaml():
    import yaml

    raw = yaml.safe_load((ROOT / "s.yaml").read_text())
    roles = {name: res["props"]["role"] for name, res in raw["resources"].items()}
    assert roles == {n: f"${{env('ECI_REDEPLOY_{n.upper()}_ROLE_ARN')}}" for n in FUNCTIONS}
    assert "ECI_REDEPLOY_ROLE_ARN'" not in (ROOT / "s.yaml").read_text()  # no shared role left


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_role_allows_exactly_what_its_function_calls(name):
    from eci_redeploy.functions.permissions import ROLES

    policy = _policy(name)
    assert all(st["Effect"] == "Allow" for st in policy["Statement"])
    assert _actions(policy) == ROLES[name]


def test_the_table_names_only_actions_the_clients_send_and_the_worker_has_them_all():
    from eci_redeploy.clients.eci import _REQUESTS
    from eci_redeploy.clients.ess import ESS_ACTIONS
    from eci_redeploy.functions.permissions import ROLES
    from eci_redeploy.gates.acr import RAM_ACTIONS

    called = {f"eci:{a}" for a in _REQUESTS} | {f"ess:{a}" for a in ESS_ACTIONS} | set(RAM_ACTIONS)
    called |= {"fc:InvokeFunction", "cr:GetAuthorizationToken", "mns:SendMessage"}
    for name, actions in ROLES.items():
        assert actions <= called, f"{name}: {sorted(actions - called)} is never called"
    assert ROLES["worker"] == called  # the single writer calls everything


def test_only_the_worker_can_change_anything():
    from eci_redeploy.functions.permissions import ROLES

    reads = re.compile(r"^(eci|ess|cr):(Describe|Get)|^fc:InvokeFunction$|^mns:SendMessage$")
    for name in ("push", "webhook", "timer"):
        assert all(reads.match(a) for a in ROLES[name]), name
    assert not any(a.startswith("ess:") for a in ROLES["push"])


def test_eci_writes_are_scoped_to_container_groups_and_image_caches():
    for st in _policy("worker")["Statement"]:
        writes = [a for a in st["Action"] if a.startswith("eci:") and a != "eci:DescribeContainerGroups"]
        if writes:
            assert st["Resource"] in ("acs:eci:*:*:containergroup/*", "acs:eci:*:*:imagecache/*"), writes
    invoke = [st for st in _policy("webhook")["Statement"] if "fc:InvokeFunction" in st["Action"]]
    assert invoke[0]["Resource"] == "acs:fc:*:*:functions/eci-redeploy-worker"


# The ESS writes whose "Authorization information" table (API reference, 2022-02-22) names the resource type
# ScalingGroup, acs:ess:{#regionId}:{#accountId}:scalinggroup/{#ScalingGroupId}: help.aliyun.com/zh/auto-scaling/
# developer-reference/api-ess-2022-02-22-{suspendprocesses, resumeprocesses, enterstandby, exitstandby} and
# help.aliyun.com/document_detail/459378.htm (ModifyEciScalingConfiguration). TagResources / UntagResources:
# no page found that names a resource type, so they stay on "*" (docs/scaling-groups.md).
ESS_SCALING_GROUP_WRITES = {
    "ess:SuspendProcesses",
    "ess:ResumeProcesses",
    "ess:EnterStandby",
    "ess:ExitStandby",
    "ess:ModifyEciScalingConfiguration",
}


def test_ess_writes_are_scoped_to_scaling_groups_where_ess_authorises_by_resource():
    statements = _policy("worker")["Statement"]
    for st in statements:
        actions = set(st["Action"]) & ESS_SCALING_GROUP_WRITES
        if actions:
            assert st["Resource"] == "acs:ess:*:*:scalinggroup/*", sorted(actions)
    scoped = {a for st in statements if st["Resource"] == "acs:ess:*:*:scalinggroup/*" for a in st["Action"]}
    assert scoped == ESS_SCALING_GROUP_WRITES


def test_the_async_failure_destination_can_be_written_by_the_functions_that_have_one():
    import yaml

    raw = yaml.safe_load((ROOT / "s.yaml").read_text())
    resources = raw["resources"].items()
    with_destination = {n for n, r in resources if "destinationConfig" in r["props"].get("asyncInvokeConfig", {})}
    assert with_destination == {"push", "worker"}
    for name in with_destination:
        assert "mns:SendMessage" in _actions(_policy(name))


def test_a_function_gateway_refuses_an_action_outside_its_role_before_sending_it(eci):
    from eci_redeploy.core.errors import ConfigError
    from eci_redeploy.functions.permissions import ROLES

    eci.gateway.allowed = ROLES["webhook"]
    assert eci.gateway.describe("cn-hangzhou") == []  # its preview reads
    with pytest.raises(ConfigError, match="eci:UpdateContainerGroup is not in this function's role"):
        eci.gateway.call("UpdateContainerGroup", {"RegionId": "cn-hangzhou", "ContainerGroupId": "eci-1"})
    assert [c.action for c in eci.backend.calls] == ["DescribeContainerGroups"]


def test_the_webhook_role_previews_a_scaling_group_rule_and_the_worker_role_applies_it(eci, monkeypatch):
    import os

    from eci_redeploy import pipeline
    from eci_redeploy.functions.permissions import ROLES
    from eci_redeploy.rules.model import parse_rules
    from ess_tools import push, rule, scaling_group

    monkeypatch.setenv("REG_PASSWORD", "pw")
    gid, _ = scaling_group(eci, instances=2)
    rules = parse_rules({"version": 1, "rules": [rule(gid)]}, source="rules.yaml")
    eci.gateway.allowed = ROLES["webhook"]
    preview = pipeline.run([push("1.1.0")], rules, eci.gateway, dict(os.environ), executor=Preview())
    assert preview.plan.steps
    eci.gateway.allowed = ROLES["worker"]
    eci.gateway._ess_gateway = None
    report = pipeline.run([push("1.1.0")], rules, eci.gateway, dict(os.environ))
    assert not report.failed and len(report.outcomes) == 11


def test_the_function_gateway_takes_its_role_from_the_function_name():
    from types import SimpleNamespace

    from eci_redeploy.functions import runtime
    from eci_redeploy.functions.permissions import ROLES

    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "k", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}
    ctx = SimpleNamespace(function=SimpleNamespace(name="eci-redeploy-timer"), credentials=None)
    assert runtime.gateway_factory(env, ctx).allowed == ROLES["timer"]
