"""The fake changes nothing on a refused request (issue 30 item 1).

ECI checks a request before it acts on it: an UpdateContainerGroup answered 400 InvalidParameter.Tag
leaves the group on the image it ran (UpdateContainerGroup, "Operation description": only a group in
Pending or Running is updated, and then goes to Updating; an error answer is no update). Property:
for every error a mutating action of the fake can answer, whatever valid changes the same request also
carries, DescribeContainerGroups (every group, every field) and the image caches are the same before
and after. Through the official SDK (in-process and over HTTP: the `eci` fixture).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eci_redeploy.core.errors import EciApiError
from eci_redeploy.fake.exceptions import ApiError

REGION = "cn-hangzhou"
_ids = itertools.count(1)

# One refusal each, as the API documents it (the comments beside each rule in fake/): a request may
# carry several, and valid changes besides.
TAG_DEFECTS = {
    "key past 64": {"Key": "k" * 65, "Value": "v"},  # CreateContainerGroupRequestTag: keys up to 64
    "value past 128": {"Key": "k", "Value": "v" * 129},
    "system key": {"Key": "acs:tag:createdby", "Value": "someone"},  # keys cannot start with acs:
    "aliyun key": {"Key": "aliyun-owned", "Value": "x"},
    "url": {"Key": "site", "Value": "https://example.com"},
    "empty key": {"Key": "", "Value": "x"},
}
UPDATE_DEFECTS = (
    "tag",
    "too many tags",
    "unknown container",
    "nameless container",
    "not found",
    "wrong region",
    "bad cpu",
    "long token",
    "token reused",
    "status",
    "throttled",
    "unavailable",
)


def _seed(backend, status="Running"):
    gid = f"eci-atomic{next(_ids):06d}"
    backend.seed(
        [
            {
                "ContainerGroupId": gid,
                "ContainerGroupName": gid,
                "RegionId": REGION,
                "Status": status,
                "Containers": [
                    {"Name": "app", "Image": "reg.example.com/team/app:1"},
                    {"Name": "side", "Image": "reg.example.com/team/side:1"},
                ],
                "Tags": [{"Key": "team", "Value": "web"}, {"Key": "acs:tag:createdby", "Value": "ram:1"}],
            }
        ]
    )
    return gid


def _world(backend):
    """Everything a client could observe: every group as described, every image cache."""
    groups = backend.handle("DescribeContainerGroups", {"RegionId": REGION, "Limit": "20"})
    pages = [groups["ContainerGroups"]]
    while groups.get("NextToken"):
        groups = backend.handle(
            "DescribeContainerGroups", {"RegionId": REGION, "Limit": "20", "NextToken": groups["NextToken"]}
        )
        pages.append(groups["ContainerGroups"])
    caches = backend.handle("DescribeImageCaches", {"RegionId": REGION})["ImageCaches"]
    return [g for page in pages for g in page], caches


def _update(gid, defect, tag_defect, also):
    body = {
        "RegionId": REGION,
        "ContainerGroupId": gid,
        "UpdateType": "IncrementalUpdate",
        "ClientToken": f"atomic-{gid}-{defect}",
        "Container": [{"Name": "app", "Image": "reg.example.com/team/app:2"}],
        "Tag": [{"Key": "team", "Value": "web"}, {"Key": "eci-redeploy.digest", "Value": "sha256:" + "a" * 64}],
    }
    if also:
        body["Cpu"] = 2.0
        body["Container"].append({"Name": "side", "Image": "reg.example.com/team/side:2"})
    if defect == "tag":
        body["Tag"].append(TAG_DEFECTS[tag_defect])
    elif defect == "too many tags":
        body["Tag"] = [{"Key": f"k{i}", "Value": "v"} for i in range(21)]
    elif defect == "unknown container":
        body["Container"].append({"Name": "ghost", "Image": "reg.example.com/team/ghost:1"})
    elif defect == "nameless container":
        body["Container"].append({"Image": "reg.example.com/team/ghost:1"})
    elif defect == "not found":
        body["ContainerGroupId"] = "eci-does-not-exist"
    elif defect == "wrong region":
        body["RegionId"] = "cn-beijing"
    elif defect == "bad cpu":
        body["Cpu"] = "two"
    elif defect == "long token":
        body["ClientToken"] = "t" * 65  # ClientToken: at most 64 ASCII characters
    return body


def _call(eci, action, body, fault=None):
    faults = eci.backend.faults
    if fault == "throttled":
        faults.throttle_count = 100  # more than the gateway's attempts: the refusal is what answers
    elif fault == "unavailable":
        faults.server_error_count = 100
    try:
        with pytest.raises(EciApiError):
            eci.gateway.call(action, body)
    finally:
        faults.throttle_count = faults.server_error_count = 0


# Every refusal is a parameter (each one runs); hypothesis varies what else the request carries.
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TAG = st.sampled_from(sorted(TAG_DEFECTS))


@pytest.mark.parametrize("defect", UPDATE_DEFECTS)
@SETTINGS
@given(tag_defect=TAG, also=st.booleans())
def test_a_refused_update_changes_nothing(eci, defect, tag_defect, also):
    gid = _seed(eci.backend, status="Failed" if defect == "status" else "Running")
    body = _update(gid, defect, tag_defect, also)
    if defect == "token reused":  # the same ClientToken with other parameters: IdempotentParameterMismatch
        first = dict(body, Container=[{"Name": "app", "Image": "reg.example.com/team/app:1"}], Tag=[])
        eci.gateway.call("UpdateContainerGroup", first)
        eci.backend.settle()
    before = _world(eci.backend)
    _call(eci, "UpdateContainerGroup", body, fault=defect if defect in ("throttled", "unavailable") else None)
    assert _world(eci.backend) == before, defect


@pytest.mark.parametrize("tag_defect", sorted(TAG_DEFECTS))
def test_every_tag_refusal_leaves_the_update_unapplied(eci, tag_defect):
    gid = _seed(eci.backend)
    before = _world(eci.backend)
    _call(eci, "UpdateContainerGroup", _update(gid, "tag", tag_defect, also=True))
    assert _world(eci.backend) == before


CREATE_DEFECTS = (
    "tag",
    "bad name",
    "no name",
    "no region",
    "no container",
    "imageless container",
    "bad cpu",
    "throttled",
    "token reused",
)


@pytest.mark.parametrize("defect", CREATE_DEFECTS)
@SETTINGS
@given(tag_defect=TAG)
def test_a_refused_create_changes_nothing(eci, defect, tag_defect):
    _seed(eci.backend)
    body = {
        "RegionId": REGION,
        "ContainerGroupName": f"new-{next(_ids)}",
        "Container": [{"Name": "app", "Image": "reg.example.com/team/app:2"}],
        "Tag": [{"Key": "team", "Value": "web"}],
    }
    if defect == "tag":
        body["Tag"].append(TAG_DEFECTS[tag_defect])
    elif defect == "bad name":
        body["ContainerGroupName"] = "-Bad_Name"
    elif defect == "no container":
        del body["Container"]
    elif defect == "imageless container":
        body["Container"].append({"Name": "side"})
    elif defect == "bad cpu":
        body["Cpu"] = "two"
    elif defect == "no name":
        del body["ContainerGroupName"]
    elif defect == "no region":
        body["RegionId"] = ""
    elif defect == "token reused":
        body["ClientToken"] = f"atomic-create-{body['ContainerGroupName']}"
        eci.gateway.call("CreateContainerGroup", dict(body, Tag=[]))
        eci.backend.settle()
    before = _world(eci.backend)
    _call(eci, "CreateContainerGroup", body, fault=defect if defect == "throttled" else None)
    assert _world(eci.backend) == before, defect


OTHER = (
    "restart failed group",
    "restart missing",
    "restart token reused",
    "delete missing",
    "tag past 20",
    "tag bad key",
    "tag missing group",
    "tag nothing",
    "tag wrong type",
    "untag missing group",
    "cache without network",
    "cache without image",
    "unknown action",
)


@pytest.mark.parametrize("defect", OTHER)
@SETTINGS
@given(tag_defect=TAG)
def test_other_refused_mutations_change_nothing(eci, defect, tag_defect):
    running, failed = _seed(eci.backend), _seed(eci.backend, status="Failed")
    # TagResources takes keys up to 128 characters (its API reference), not 64
    bad_tag = {"Key": "k" * 129, "Value": "v"} if tag_defect == "key past 64" else TAG_DEFECTS[tag_defect]
    tag_body = {"RegionId": REGION, "ResourceType": "ContainerGroup", "ResourceId": [running, failed]}
    calls = {
        "restart failed group": ("RestartContainerGroup", {"RegionId": REGION, "ContainerGroupId": failed}),
        "restart missing": ("RestartContainerGroup", {"RegionId": REGION, "ContainerGroupId": "eci-missing"}),
        "delete missing": ("DeleteContainerGroup", {"RegionId": REGION, "ContainerGroupId": "eci-missing"}),
        # the groups' own tag + 20: past ECI's 20 on every group (their system tag is not counted), so
        # nothing is tagged on any
        "tag past 20": ("TagResources", {**tag_body, "Tag": [{"Key": f"n{i}", "Value": "v"} for i in range(20)]}),
        "tag bad key": ("TagResources", {**tag_body, "Tag": [{"Key": "ok", "Value": "v"}, bad_tag]}),
        "tag missing group": (
            "TagResources",
            {**tag_body, "ResourceId": [running, "eci-missing"], "Tag": [{"Key": "ok", "Value": "v"}]},
        ),
        "untag missing group": (
            "UntagResources",
            {**tag_body, "ResourceId": [running, "eci-missing"], "TagKey": ["team"]},
        ),
        "tag nothing": ("TagResources", tag_body),
        "tag wrong type": (
            "TagResources",
            {**tag_body, "ResourceType": "imagecache", "Tag": [{"Key": "ok", "Value": "v"}]},
        ),
        # the same ClientToken as an earlier restart, another group: IdempotentParameterMismatch
        "restart token reused": (
            "RestartContainerGroup",
            {"RegionId": REGION, "ContainerGroupId": failed, "ClientToken": f"atomic-restart-{running}"},
        ),
        "cache without network": (
            "CreateImageCache",
            {"RegionId": REGION, "ImageCacheName": "c", "Image": ["reg.example.com/team/app:2"]},
        ),
        "cache without image": (
            "CreateImageCache",
            {"RegionId": REGION, "ImageCacheName": "c", "SecurityGroupId": "sg-1", "VSwitchId": "vsw-1"},
        ),
    }
    if defect == "restart token reused":
        eci.gateway.call(
            "RestartContainerGroup",
            {"RegionId": REGION, "ContainerGroupId": running, "ClientToken": f"atomic-restart-{running}"},
        )
        eci.backend.settle()
    before = _world(eci.backend)
    if defect == "unknown action":  # InvalidAction.NotFound: no SDK method names it, so the fake's entry point
        with pytest.raises(ApiError):
            eci.backend.handle("ResizeContainerGroup", {"RegionId": REGION, "ContainerGroupId": running})
        assert _world(eci.backend) == before
        return
    action, body = calls[defect]
    _call(eci, action, body)
    assert _world(eci.backend) == before, defect


# ---- the fake's Auto Scaling (fake/ess.py) is held to the same rule: a refused request changes nothing ----


def _ess_world(eci, gids):
    """Everything the official ESS client can observe of these scaling groups: the groups (tags
    included), their ECI scaling configurations, their instances."""
    from alibabacloud_ess20220222 import models as ess

    from eci_redeploy.clients.ess import ess_for

    client = ess_for(eci.gateway)._client(REGION)
    groups = client.describe_scaling_groups(
        ess.DescribeScalingGroupsRequest(region_id=REGION, scaling_group_ids=gids)
    ).body.to_map()["ScalingGroups"]
    configs = [
        client.describe_eci_scaling_configurations(
            ess.DescribeEciScalingConfigurationsRequest(region_id=REGION, scaling_group_id=gid)
        ).body.to_map()["ScalingConfigurations"]
        for gid in gids
    ]
    instances = [
        client.describe_scaling_instances(
            ess.DescribeScalingInstancesRequest(region_id=REGION, scaling_group_id=gid, page_size=50)
        ).body.to_map()["ScalingInstances"]
        for gid in gids
    ]
    return groups, configs, instances


ESS_DEFECTS = (
    "modify: a later container unknown",
    "modify: an unknown init container",
    "tag: the second group full",
    "standby: a later instance not InService",
)


@pytest.mark.parametrize("defect", ESS_DEFECTS)
def test_a_refused_ess_mutation_changes_nothing(eci, defect):
    """ModifyEciScalingConfiguration with ContainersUpdateType IncrementalUpdate "matches containers by
    Name" (API reference, ModifyEciScalingConfiguration): a name it does not have is refused, and the
    containers named before it in the same request are not changed. TagResources over two scaling
    groups, one of which the tags would take past 20 ("You can attach up to 20 tags to a scaling
    group", TagResources): neither is tagged. EnterStandby of two instances, one not InService: neither
    enters (EnterStandby, IncorrectInstanceStatus)."""
    from eci_redeploy.clients.ess import ess_for
    from ess_tools import scaling_group

    ess = ess_for(eci.gateway)
    gid, cid = scaling_group(eci, instances=2)
    other, _ = scaling_group(eci, instances=1)
    tag = {"RegionId": REGION, "ResourceType": "scalinggroup", "ResourceIds": [gid, other]}
    if defect == "tag: the second group full":
        full = [{"Key": f"k{i}", "Value": "v"} for i in range(20)]
        ess.call("TagResources", {**tag, "ResourceIds": [other], "Tags": full})
    first, second = sorted(eci.backend.ess.instances[gid])
    if defect.startswith("standby"):
        ess.call("EnterStandby", {"ScalingGroupId": gid, "InstanceIds": [second]}, region=REGION)
    before = _ess_world(eci, [gid, other])
    app = {"Name": "app", "Image": "reg.example.com/team/web:9"}
    calls = {
        "modify: a later container unknown": (
            "ModifyEciScalingConfiguration",
            {
                "ScalingConfigurationId": cid,
                "ContainersUpdateType": "IncrementalUpdate",
                "Containers": [app, {"Name": "ghost", "Image": "reg.example.com/team/ghost:1"}],
            },
        ),
        "modify: an unknown init container": (
            "ModifyEciScalingConfiguration",
            {
                "ScalingConfigurationId": cid,
                "ContainersUpdateType": "IncrementalUpdate",
                "Containers": [app],
                "InitContainers": [{"Name": "ghost", "Image": "reg.example.com/team/ghost:1"}],
            },
        ),
        "tag: the second group full": ("TagResources", {**tag, "Tags": [{"Key": "extra", "Value": "v"}]}),
        # EnterStandbyRequest has no RegionId (alibabacloud-ess20220222): the client's region is the call's
        "standby: a later instance not InService": (
            "EnterStandby",
            {"ScalingGroupId": gid, "InstanceIds": [first, second]},
        ),
    }
    action, body = calls[defect]
    with pytest.raises(EciApiError) as err:
        ess.call(action, body, region=REGION)
    assert err.value.code != "ParameterNotSent", err.value  # refused by the fake, not before sending
    assert _ess_world(eci, [gid, other]) == before, defect
