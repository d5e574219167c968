"""The fake's Auto Scaling (fake/ess.py) driven by the official client, alibabacloud-ess20220222, through
a full cycle, in-process and over HTTP; and the refusals the API reference documents (EnterStandby of an
instance that is not InService, SuspendProcesses of a process already suspended, throttling)."""

from __future__ import annotations

import pytest
from alibabacloud_ess20220222 import models

from ess_tools import REGION, scaling_group


def _client(eci):
    from eci_redeploy.clients.ess import ess_for

    return ess_for(eci.gateway)._client(REGION)


def test_a_full_cycle_through_the_official_client(eci):
    gid, cid = scaling_group(eci, instances=2)
    client = _client(eci)
    group = client.describe_scaling_groups(
        models.DescribeScalingGroupsRequest(region_id=REGION, scaling_group_ids=[gid])
    ).body.scaling_groups[0]
    assert (group.group_type, group.active_scaling_configuration_id, group.total_capacity) == ("ECI", cid, 2)
    instances = client.describe_scaling_instances(
        models.DescribeScalingInstancesRequest(region_id=REGION, scaling_group_id=gid, page_size=50)
    ).body.scaling_instances
    ids = [i.instance_id for i in instances]
    assert {i.lifecycle_state for i in instances} == {"InService"} and len(ids) == 2
    # the instances are ECI container groups, tagged as ESS tags what it creates
    tags = {t["Key"]: t["Value"] for t in eci.backend.group(ids[0]).spec["Tag"]}
    assert tags["acs:autoscaling:scalingGroupId"] == gid and tags["acs:autoscaling:scalingConfigurationId"] == cid
    client.suspend_processes(
        models.SuspendProcessesRequest(
            region_id=REGION, scaling_group_id=gid, processes=["ScaleOut", "ScaleIn"], client_token="s-1"
        )
    )
    assert eci.backend.ess.scale_out(gid, 1) == []  # ScaleOut suspended
    client.enter_standby(models.EnterStandbyRequest(scaling_group_id=gid, instance_ids=ids[:1], client_token="e-1"))
    client.modify_eci_scaling_configuration(
        models.ModifyEciScalingConfigurationRequest(
            scaling_configuration_id=cid,
            containers_update_type="IncrementalUpdate",
            containers=[
                models.ModifyEciScalingConfigurationRequestContainers(name="app", image="reg.example.com/team/web:2")
            ],
        )
    )
    config = client.describe_eci_scaling_configurations(
        models.DescribeEciScalingConfigurationsRequest(region_id=REGION, scaling_group_id=gid)
    ).body.scaling_configurations[0]
    assert {c.name: c.image for c in config.containers} == {
        "app": "reg.example.com/team/web:2",
        "sidecar": "reg.example.com/team/log:2",
    }  # incremental: sidecar kept
    client.exit_standby(
        models.ExitStandbyRequest(region_id=REGION, scaling_group_id=gid, instance_ids=ids[:1], client_token="x-1")
    )
    client.resume_processes(
        models.ResumeProcessesRequest(
            region_id=REGION, scaling_group_id=gid, processes=["ScaleOut", "ScaleIn"], client_token="r-1"
        )
    )
    added = eci.backend.ess.scale_out(gid, 1)
    spec = eci.backend.group(added[0]).spec
    assert {c["Name"]: c["Image"] for c in spec["Container"]}["app"] == "reg.example.com/team/web:2"


def _code(call):
    from Tea.exceptions import TeaException

    with pytest.raises(TeaException) as info:
        call()
    return info.value.code


def test_enter_standby_refuses_an_instance_that_is_not_in_service(eci):
    gid, _ = scaling_group(eci, instances=1)
    client, iid = _client(eci), next(iter(eci.backend.ess.instances[gid]))
    client.enter_standby(models.EnterStandbyRequest(scaling_group_id=gid, instance_ids=[iid]))
    assert (
        _code(lambda: client.enter_standby(models.EnterStandbyRequest(scaling_group_id=gid, instance_ids=[iid])))
        == "IncorrectInstanceStatus"
    )
    client.exit_standby(models.ExitStandbyRequest(region_id=REGION, scaling_group_id=gid, instance_ids=[iid]))
    assert (
        _code(
            lambda: client.exit_standby(
                models.ExitStandbyRequest(region_id=REGION, scaling_group_id=gid, instance_ids=[iid])
            )
        )
        == "IncorrectInstanceStatus"
    )


def test_suspend_refuses_a_process_already_suspended_but_the_same_client_token_is_the_same_answer(eci):
    gid, _ = scaling_group(eci, instances=1)
    client = _client(eci)

    def suspend(token=None):
        return client.suspend_processes(
            models.SuspendProcessesRequest(
                region_id=REGION, scaling_group_id=gid, processes=["ScaleIn"], client_token=token
            )
        )

    first = suspend("t-1").body.request_id
    assert suspend("t-1").body.request_id != first  # answered again, applied once: no error
    assert _code(lambda: suspend()) == "IncorrectScalingGroupStatus"
    assert (
        _code(
            lambda: client.resume_processes(
                models.ResumeProcessesRequest(region_id=REGION, scaling_group_id=gid, processes=["ScaleOut"])
            )
        )
        == "IncorrectScalingGroupStatus"
    )
    assert (
        _code(
            lambda: client.suspend_processes(
                models.SuspendProcessesRequest(region_id=REGION, scaling_group_id=gid, processes=["Nap"])
            )
        )
        == "InvalidParameter.Processes"
    )


def test_an_unknown_scaling_group_and_throttling(eci):
    client = _client(eci)
    assert (
        _code(
            lambda: client.suspend_processes(
                models.SuspendProcessesRequest(region_id=REGION, scaling_group_id="asg-nope", processes=["ScaleIn"])
            )
        )
        == "InvalidScalingGroupId.NotFound"
    )
    eci.backend.faults.throttle_count = 1
    assert (
        _code(lambda: client.describe_scaling_groups(models.DescribeScalingGroupsRequest(region_id=REGION)))
        == "Throttling.User"
    )


def test_the_gateway_retries_ess_throttling_with_the_same_client_token(eci):
    from eci_redeploy.clients.ess import ess_for

    gid, _ = scaling_group(eci, instances=1)
    eci.backend.faults.throttle_count = 2
    body = {"RegionId": REGION, "ScalingGroupId": gid, "Processes": ["ScaleIn"], "ClientToken": "tok-1"}
    result = ess_for(eci.gateway).call("SuspendProcesses", body)
    assert result.attempts == 3 and eci.backend.ess.groups[gid]["SuspendedProcesses"] == ["ScaleIn"]
    tries = [c for c in eci.backend.calls if c.action == "SuspendProcesses"]
    assert [c.code for c in tries] == ["Throttling.User", "Throttling.User", None]
    assert {c.params["ClientToken"] for c in tries} == {"tok-1"}


def test_describe_scaling_groups_pages_and_filters_by_tags(eci):
    """DescribeScalingGroups: PageSize "Maximum value: 50. Default value: 10", PageNumber from 1, Tags.N.Key /
    Value filter (API reference, DescribeScalingGroups; DescribeScalingGroupsRequestTags in the SDK)."""
    ids = [scaling_group(eci, instances=0, name=f"g{n}", tags={"team": "a" if n < 3 else "b"})[0] for n in range(4)]
    client = _client(eci)
    first = client.describe_scaling_groups(
        models.DescribeScalingGroupsRequest(region_id=REGION, page_size=2, page_number=1)
    ).body
    second = client.describe_scaling_groups(
        models.DescribeScalingGroupsRequest(region_id=REGION, page_size=2, page_number=2)
    ).body
    assert first.total_count == 4 and [g.scaling_group_id for g in first.scaling_groups + second.scaling_groups] == ids
    tagged = client.describe_scaling_groups(
        models.DescribeScalingGroupsRequest(
            region_id=REGION, page_size=50, tags=[models.DescribeScalingGroupsRequestTags(key="team", value="a")]
        )
    ).body
    assert [g.scaling_group_id for g in tagged.scaling_groups] == ids[:3]
    assert (
        _code(
            lambda: client.describe_scaling_groups(models.DescribeScalingGroupsRequest(region_id=REGION, page_size=51))
        )
        == "InvalidParameter.PageSize"
    )


def test_a_parameter_the_ess_sdk_would_drop_is_refused_not_sent(eci):
    """Issue 22 item 1 for Auto Scaling: what the plan shows is what goes on the wire. EnterStandby's
    request model (alibabacloud-ess20220222 EnterStandbyRequest) has no RegionId, and a misspelt field
    has no place either: the SDK's from_map would drop them silently, so the gateway refuses the
    request, naming them, and nothing reaches the fake (as the ECI gateway does)."""
    from eci_redeploy.clients.ess import ess_for
    from eci_redeploy.core.errors import EciApiError

    gid, _ = scaling_group(eci, instances=1)
    iid = next(iter(eci.backend.ess.instances[gid]))
    before = len(eci.backend.calls)
    with pytest.raises(EciApiError) as err:
        ess_for(eci.gateway).call("EnterStandby", {"RegionId": REGION, "ScalingGroupId": gid, "InstanceIds": [iid]})
    assert err.value.code == "ParameterNotSent" and "RegionId" in str(err.value)
    with pytest.raises(EciApiError, match=r"ProcesSes\.1"):
        ess_for(eci.gateway).call(
            "SuspendProcesses", {"RegionId": REGION, "ScalingGroupId": gid, "ProcesSes": ["ScaleIn"]}
        )
    assert len(eci.backend.calls) == before
    assert eci.backend.ess.instances[gid][iid]["LifecycleState"] == "InService"
