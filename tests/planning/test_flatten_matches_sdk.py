"""The plan's flat parameters are exactly what alibabacloud-eci20180808 puts on the wire."""

import pytest
from alibabacloud_eci20180808 import models
from alibabacloud_openapi_util.client import Client as OpenApiUtil

from eci_redeploy.core.secrets import revealed
from eci_redeploy.events.model import PushEvent
from eci_redeploy.planning.planner import plan_event

from helpers import DIGEST_A, group, rule

REQUESTS = {
    "CreateContainerGroup": models.CreateContainerGroupRequest,
    "UpdateContainerGroup": models.UpdateContainerGroupRequest,
    "RestartContainerGroup": models.RestartContainerGroupRequest,
    "DeleteContainerGroup": models.DeleteContainerGroupRequest,
}


def sdk_query(action, body):
    """What the SDK's client method builds: every set field of the request model, flattened."""
    request = REQUESTS[action]().from_map(revealed(body))
    return OpenApiUtil.query(request.to_map())


TEMPLATE = {
    "ContainerGroupName": "web",
    "SecurityGroupId": "sg-1",
    "VSwitchId": "vsw-1,vsw-2",
    "Cpu": 2.0,
    "Memory": 4,
    "RestartPolicy": "Always",
    "Container": [
        {
            "Name": "app",
            "Image": "reg.example.com/team/web:1",
            "Cpu": 1,
            "Memory": 2,
            "ImagePullPolicy": "IfNotPresent",
            "Command": ["/bin/app", "--serve"],
            "Port": [{"Port": 8080, "Protocol": "TCP"}],
            "EnvironmentVar": [{"Key": "A", "Value": "1"}],
            "ReadinessProbe": {"HttpGet": {"Path": "/healthz", "Port": 8080}, "PeriodSeconds": 5},
        }
    ],
    "InitContainer": [{"Name": "migrate", "Image": "reg.example.com/team/web:1", "Command": ["migrate"]}],
    "Tag": [{"Key": "app", "Value": "web"}],
}

PULL = {
    "credentials": [{"server": "reg.example.com", "username": "ci", "password_env": "PW"}],
    "plain_http": ["reg.example.com"],
    "internet": "eip",
}


@pytest.fixture
def steps(make_rules):
    rules = make_rules(
        rule("upd", pull=PULL),
        rule("rst", action="restart", pull=PULL),
        rule("new", action="create", template="t.yaml", pull=PULL),
        rule("rep", action="replace", template="t.yaml", pull=PULL, selector={"name": "old"}),
        templates={"t.yaml": TEMPLATE},
    )
    event = PushEvent("team/web", "2", DIGEST_A, "generic", "e", registry_host="reg.example.com")
    groups = [group("eci-1", "reg.example.com/team/web:1", name="old", init=("reg.example.com/team/web:1",))]
    out = plan_event(event, rules, groups, {"PW": "pw"}).steps
    assert {s.action for s in out} == set(REQUESTS)
    return out


def test_every_step_flattens_as_the_sdk_does(steps):
    for step in steps:
        assert revealed(step.params()) == sdk_query(step.action, step.body), step.action


def test_update_never_carries_create_only_parameters(steps):
    update = next(s for s in steps if s.action == "UpdateContainerGroup")
    for key in ("PlainHttpRegistry", "InsecureRegistry", "AutoCreateEip", "AutoMatchImageCache", "ImageSnapshotId"):
        assert key not in update.params()
    assert any("cannot be changed by UpdateContainerGroup" in n for n in update.notes)
    create = next(s for s in steps if s.action == "CreateContainerGroup")
    assert create.params()["PlainHttpRegistry"] == "reg.example.com"
    assert create.params()["AutoCreateEip"] == "True"
