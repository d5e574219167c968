"""What `plan` and the dry run print is what goes on the wire (issue 22 item 1).

Every planned parameter set (each step, its rollback, a restart's TagResources record, the
CreateImageCache a pre-warm builds from a step) equals what the official SDK request object
serialises (alibabacloud-eci20180808 `<Action>Request().from_map(body).to_map()`, flattened as its
client does with alibabacloud_openapi_util `query`), and what the fake received through that SDK.
A field the SDK's request model has no place for (UpdateContainerGroupRequestAcrRegistryInfo has
Domain, InstanceId, InstanceName and RegionId, no ArnService / ArnUser) is dropped by `from_map`:
the plan must not show it.
"""

from __future__ import annotations

import pytest
from alibabacloud_eci20180808 import models
from alibabacloud_openapi_util.client import Client as OpenApiUtil

from eci_redeploy.clients.eci import EciGateway
from eci_redeploy.clients.eci_wire import flatten
from eci_redeploy.core.secrets import revealed
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.prewarm import warm
from eci_redeploy.execution.rollout import Clock
from eci_redeploy.planning import tracking
from eci_redeploy.planning.planner import plan_event
from eci_redeploy.rules.model import Prewarm

from helpers import DIGEST_A, group

HOST = "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com"  # ACR EE default VPC domain
CROSS = {
    "instance_id": "cri-acme",
    "instance_name": "acme",
    "arn_service": "acs:ram::111:role/eci-pulls",  # role in the ECI account
    "arn_user": "acs:ram::222:role/acr-share",  # role in the ACR account
}
PULL = {"acr": CROSS, "credentials": [{"server": "reg.example.com", "username": "ci", "password_env": "PW"}]}
TEMPLATE = {
    "ContainerGroupName": "web",
    "SecurityGroupId": "sg-1",
    "VSwitchId": "vsw-1",
    "RestartPolicy": "Always",
    "Container": [
        {"Name": "app", "Image": f"{HOST}/team/web:1", "Port": [{"Port": 80, "Protocol": "TCP"}]},
        {"Name": "side", "Image": "reg.example.com/team/side:1"},
    ],
    "Tag": [{"Key": "app", "Value": "web"}],
}
# (not acs:autoscaling:scalingGroupId: a group a scaling group owns is left to it, planner.owned)
SYSTEM = {"acs:tag:createdby": "ram:123", "acs:rm:rgId": "rg-acfm2x"}
LONG_RULE = "a-rule-whose-name-is-as-long-as-the-rules-file-allows-sixty-3"  # 63 characters


def _request(action, body):
    return getattr(models, f"{action}Request")().from_map(revealed(body))


def sdk_query(action, body):
    """What the SDK's client method builds from the request object: its set fields, flattened."""
    return OpenApiUtil.query(_request(action, body).to_map())


def _rule(name, action="update", **extra):
    out = {
        "name": name,
        "source": {"repository": "team/web", "tags": {"glob": "*"}},
        "target": {"region": "cn-hangzhou", "action": action, **extra},
        "pull": PULL,
    }
    if action != "create":
        out["target"]["container_groups"] = {"tags": {"app": "web"}}
    return out


def _groups():
    old_keys = {  # written by an earlier version: over-long keys, still read, never sent again
        "eci-redeploy.rule": LONG_RULE,
        "eci-redeploy.digest": "sha256:" + "b" * 64,
        "eci-redeploy.held." + LONG_RULE: "sha256:" + "c" * 64,
        "eci-redeploy.signed." + "d" * 64: "1700000000000;team/web",
    }
    tags = {"app": "web", **SYSTEM, **old_keys}
    return [group("eci-1", f"{HOST}/team/web:1", "reg.example.com/team/side:1", tags=tags)]


@pytest.fixture
def steps(make_rules):
    rules = make_rules(
        _rule("upd"),
        _rule("rst", action="restart"),
        _rule("new", action="create", template="t.yaml"),
        _rule("rep", action="replace", template="t.yaml"),
        _rule(LONG_RULE),
        templates={"t.yaml": TEMPLATE},
    )
    event = PushEvent("team/web", "2", DIGEST_A, "acr-webhook", "e", registry_host=HOST)
    out = plan_event(event, rules, _groups(), {"PW": "pw"}).steps
    assert {s.action for s in out} == {
        "CreateContainerGroup",
        "UpdateContainerGroup",
        "RestartContainerGroup",
        "DeleteContainerGroup",
    }
    return out


def _bodies(steps):
    for step in steps:
        yield step.action, step.body, step
        if step.rollback:
            yield "UpdateContainerGroup", step.rollback, step
        if step.record:
            yield (
                "TagResources",
                {
                    "RegionId": step.region,
                    "ResourceType": "ContainerGroup",
                    "ResourceId": [step.target],
                    "Tag": [{"Key": k, "Value": v} for k, v in step.record.items()],
                },
                step,
            )


def test_every_planned_parameter_is_what_the_sdk_sends(steps):
    for action, body, step in _bodies(steps):
        assert revealed(flatten(body)) == sdk_query(action, body), (action, step.rule)


def test_a_cross_account_rule_updates_without_the_acr_settings_it_cannot_send(steps):
    update = next(s for s in steps if s.action == "UpdateContainerGroup" and s.rule == "upd")
    assert "AcrRegistryInfo" not in update.body and "AcrRegistryInfo" not in (update.rollback or {})
    assert any("cross-account AcrRegistryInfo of cri-acme" in n and "action: replace" in n for n in update.notes)
    create = next(s for s in steps if s.action == "CreateContainerGroup" and s.rule == "new")
    (acr,) = create.body["AcrRegistryInfo"]  # CreateContainerGroupRequestAcrRegistryInfo has both ARNs
    assert (acr["ArnService"], acr["ArnUser"]) == (CROSS["arn_service"], CROSS["arn_user"])


def test_no_request_carries_a_system_tag_or_a_key_past_64(steps):
    """CreateContainerGroupRequestTag: keys up to 64 characters, not starting with acs: or aliyun;
    values up to 128."""
    for action, body, step in _bodies(steps):
        for tag in body.get("Tag") or []:
            assert not tag["Key"].startswith(("acs:", "aliyun")), (action, step.rule, tag)
            assert len(tag["Key"]) <= 64 and len(tag["Value"]) <= 128, (action, step.rule, tag)


def test_old_long_keys_are_carried_under_their_new_keys(steps):
    update = next(s for s in steps if s.action == "UpdateContainerGroup" and s.rule == "upd")
    sent = {t["Key"]: t["Value"] for t in update.body["Tag"]}
    # the long rule's record moved to its entry; its hold and the early signature kept, under 64-character keys
    assert tracking.rule_key(tracking.ENTRY, LONG_RULE) in sent
    assert sent[tracking.rule_key(tracking.HELD_OF, LONG_RULE)] == "sha256:" + "c" * 64
    assert sent[tracking.SIGNED + "d" * 44] == "1700000000000;team/web"
    assert tracking.applied(sent, LONG_RULE).digest == "sha256:" + "b" * 64


class _Spy:
    """What the product hands the SDK, call by call (the body `plan` and the dry run print)."""

    def __init__(self, monkeypatch):
        self.sent: list[tuple[str, dict]] = []
        original = EciGateway._send

        def send(gateway, action, region, body):
            self.sent.append((action, dict(body)))
            return original(gateway, action, region, body)

        monkeypatch.setattr(EciGateway, "_send", send)


def test_the_fake_receives_every_planned_parameter(eci, steps, monkeypatch):
    """On the wire, through the SDK: each request as the fake received it is the one planned, and
    what the SDK's request object serialises; the pre-warm's CreateImageCache included."""
    eci.backend.seed(
        [
            {
                "ContainerGroupId": "eci-1",
                "ContainerGroupName": "eci-1",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [
                    {"Name": "c1", "Image": f"{HOST}/team/web:1"},
                    {"Name": "c2", "Image": "reg.example.com/team/side:1"},
                ],
            }
        ]
    )
    spy = _Spy(monkeypatch)
    for action, body, _ in _bodies(steps):
        if action != "DeleteContainerGroup":  # the group is needed by the calls after it
            eci.gateway.call(action, body)
            eci.backend.settle()
    eci.gateway.call("DeleteContainerGroup", next(s.body for s in steps if s.action == "DeleteContainerGroup"))
    create = next(s for s in steps if s.action == "CreateContainerGroup")
    warm(create, eci.gateway, Prewarm(timeout_seconds=1, poll_seconds=1), Clock(sleep=lambda s: None, now=lambda: 0.0))
    received = [(c.action, c.params) for c in eci.backend.calls]
    assert received == [(a, revealed(flatten(b))) for a, b in spy.sent]
    assert {a for a, _ in received} >= {
        "CreateContainerGroup",
        "UpdateContainerGroup",
        "RestartContainerGroup",
        "DeleteContainerGroup",
        "TagResources",
        "CreateImageCache",
    }
    for action, body in spy.sent:
        if not action.startswith("Describe"):
            assert revealed(flatten(body)) == sdk_query(action, body), action


def test_a_parameter_the_sdk_would_drop_is_refused_not_sent(eci):
    """A body with a field the SDK's request model lacks (a template's misspelt or newer field, or
    UpdateContainerGroup's AcrRegistryInfo.N.ArnService) is refused by the gateway, naming it: the
    SDK's from_map would drop it silently while `plan` printed it."""
    from eci_redeploy.core.errors import EciApiError

    body = {
        "RegionId": "cn-hangzhou",
        "ContainerGroupName": "web",
        "Container": [{"Name": "app", "Image": "nginx"}],
        "RestartPolcy": "Never",
    }
    with pytest.raises(EciApiError) as err:
        eci.gateway.call("CreateContainerGroup", body)
    assert err.value.code == "ParameterNotSent" and "RestartPolcy" in str(err.value)
    update = {
        "RegionId": "cn-hangzhou",
        "ContainerGroupId": "eci-x",
        "AcrRegistryInfo": [{"InstanceId": "cri-1", "ArnService": "acs:ram::1:role/r"}],
    }
    with pytest.raises(EciApiError, match=r"AcrRegistryInfo\.1\.ArnService"):
        eci.gateway.call("UpdateContainerGroup", update)
    assert eci.backend.calls == []  # nothing reached the fake


def test_the_image_cache_for_an_update_pulls_as_a_create_would(eci, steps, monkeypatch):
    """CreateImageCache takes the cross-account AcrRegistryInfo (CreateImageCacheRequestAcrRegistryInfo
    has ArnService / ArnUser) that the update it pre-warms for cannot carry: the cache gets them."""
    spy = _Spy(monkeypatch)
    update = next(s for s in steps if s.action == "UpdateContainerGroup" and s.rule == "upd")
    settings = Prewarm(timeout_seconds=1, poll_seconds=1, security_group_id="sg-1", vswitch_id="vsw-1")
    warm(update, eci.gateway, settings, Clock(sleep=lambda s: None, now=lambda: 0.0))
    (body,) = [b for a, b in spy.sent if a == "CreateImageCache"]
    (acr,) = body["AcrRegistryInfo"]
    assert (acr["ArnService"], acr["ArnUser"]) == (CROSS["arn_service"], CROSS["arn_user"])
    assert revealed(flatten(body)) == sdk_query("CreateImageCache", body)
