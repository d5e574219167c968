"""The fake's Auto Scaling (ESS, API 2022-02-22) beside its ECI (moto's `models.py` for a second
service): scaling groups of the ECI type, their ECI scaling configurations, instances created from the
active configuration on scale-out (as container groups of the ECI fake, tagged as ESS tags them),
standby, suspended processes, the suspension record's tags. State and answers only: the wire layer
(`responses.WireLayer`) routes a request here by its Version, so the same HTTP server and the same
in-process hook serve both services, and the official `alibabacloud-ess20220222` client drives it.

Each refusal cites the API reference page it follows (help.aliyun.com / alibabacloud.com, "Auto
Scaling > API reference (2022-02-22)"). Where a page does not name the code, the code is the one ESS's
error-code list gives for that condition; docs/fake.md lists those as assumptions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Protocol

from ..clients.eci_wire import unflatten
from .exceptions import ApiError
from .exceptions import required as _required
from .group import Group, now

ESS_VERSION = "2022-02-22"
# SuspendProcesses / ResumeProcesses: "Processes.N: ScaleIn, ScaleOut, HealthCheck, AlarmNotification,
# ScheduledAction" (API reference, SuspendProcesses).
PROCESSES = ("ScaleIn", "ScaleOut", "HealthCheck", "AlarmNotification", "ScheduledAction")
MAX_TAGS = 20  # TagResources: "You can attach up to 20 tags to a scaling group."
MAX_STANDBY_IDS = 20  # EnterStandby / ExitStandby: InstanceIds, up to 20 (API reference)


class EciBackend(Protocol):
    groups: dict[str, Group]

    def _idempotent(
        self, action: str, params: dict[str, str], create: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]: ...

    def _start(self, group: Group, status: str, seconds: float, reason: str) -> None: ...
    def _new_id(self, prefix: str) -> str: ...

    startup_seconds: float


def not_found(group_id: str) -> ApiError:
    # DescribeScalingGroups / SuspendProcesses / EnterStandby ...: InvalidScalingGroupId.NotFound, 404.
    return ApiError(404, "InvalidScalingGroupId.NotFound", f"The specified scaling group {group_id} does not exist.")


def instance_status(instance: str, state: str, wanted: str) -> ApiError:
    # EnterStandby: only an InService instance enters Standby; ExitStandby: only a Standby one leaves it
    # (API reference, EnterStandby / ExitStandby; ESS error code IncorrectInstanceStatus).
    return ApiError(
        400,
        "IncorrectInstanceStatus",
        f"The current status of instance {instance} ({state}) does not support this action: it must be {wanted}.",
    )


def process_state(process: str, suspended: bool) -> ApiError:
    # SuspendProcesses of a process already suspended, ResumeProcesses of one that is not (assumption: ESS's
    # IncorrectScalingGroupStatus; docs/fake.md).
    what = "already suspended" if suspended else "not suspended"
    return ApiError(400, "IncorrectScalingGroupStatus", f"The process {process} of the scaling group is {what}.")


class FakeEss:
    """ESS state, on top of the ECI fake whose container groups are the instances."""

    def __init__(self, eci: EciBackend) -> None:
        self.eci = eci
        self.groups: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.instances: dict[str, dict[str, dict[str, Any]]] = {}  # group id -> instance id -> state
        self._ids = itertools.count(1)

    def handler(self, action: str) -> Callable[[dict[str, str]], dict[str, Any]] | None:
        return getattr(self, f"_{action}", None)

    # ---- what a test (or ESS itself) does ----

    def scale_out(self, group_id: str, count: int = 1) -> list[str]:
        """A scale-out activity: `count` instances from the ACTIVE configuration. None while ScaleOut is
        suspended (that is what SuspendProcesses is for)."""
        group = self._group(group_id)
        if "ScaleOut" in group["SuspendedProcesses"]:
            return []
        return [self._launch(group) for _ in range(count)]

    def scale_in(self, group_id: str, instance_id: str) -> None:
        group = self._group(group_id)
        if "ScaleIn" in group["SuspendedProcesses"]:
            return
        self.instances[group_id].pop(instance_id, None)
        self.eci.groups.pop(instance_id, None)

    def _launch(self, group: dict[str, Any]) -> str:
        config = self.configs[group["ActiveScalingConfigurationId"]]
        spec: dict[str, Any] = {
            "ContainerGroupName": config.get("ContainerGroupName") or group["ScalingGroupName"],
            "Container": [{k: v for k, v in c.items()} for c in config.get("Containers") or []],
            "InitContainer": [{k: v for k, v in c.items()} for c in config.get("InitContainers") or []],
            # ESS tags what it creates with the group and configuration ids (system tags), after the
            # configuration's own tags (TagResources, usage notes on propagation).
            "Tag": [
                *[dict(t) for t in config.get("Tags") or []],
                {"Key": "acs:autoscaling:scalingGroupId", "Value": group["ScalingGroupId"]},
                {"Key": "acs:autoscaling:scalingConfigurationId", "Value": config["ScalingConfigurationId"]},
            ],
        }
        for key in ("AcrRegistryInfos", "ImageRegistryCredentials", "RestartPolicy"):
            if config.get(key):
                spec[key] = config[key]
        gid = self.eci._new_id("eci")
        instance = Group(gid, spec["ContainerGroupName"], group["RegionId"], spec, created=now())
        self.eci.groups[gid] = instance
        self.eci._start(instance, "Pending", self.eci.startup_seconds, "Created")
        self.instances[group["ScalingGroupId"]][gid] = {
            "InstanceId": gid,
            "ScalingGroupId": group["ScalingGroupId"],
            "ScalingConfigurationId": config["ScalingConfigurationId"],
            "LifecycleState": "InService",
            "HealthStatus": "Healthy",
            "CreationType": "AutoCreated",
            "CreationTime": now(),
        }
        return gid

    # ---- the API ----

    def _CreateScalingGroup(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten(params)
        region = _required(body, "RegionId")
        gid = f"asg-fake{next(self._ids):016x}"
        self.groups[gid] = {
            "ScalingGroupId": gid,
            "ScalingGroupName": _required(body, "ScalingGroupName"),
            "RegionId": region,
            "GroupType": body.get("GroupType") or "ECS",
            "LifecycleState": "Active",
            "MinSize": int(body.get("MinSize") or 0),
            "MaxSize": int(body.get("MaxSize") or 0),
            "ActiveScalingConfigurationId": None,
            "SuspendedProcesses": [],
            "Tags": [{"Key": t.get("Key"), "Value": t.get("Value", "")} for t in body.get("Tags") or []],
        }
        self.instances[gid] = {}
        return {"ScalingGroupId": gid}

    def _CreateEciScalingConfiguration(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten(params)
        group = self._group(_required(body, "ScalingGroupId"))
        if group["GroupType"] != "ECI":
            # CreateEciScalingConfiguration: only for scaling groups whose GroupType is ECI.
            raise ApiError(400, "IncorrectScalingGroupType", "The scaling group is not of the ECI type.")
        containers = body.get("Containers")
        if not isinstance(containers, list) or not containers:
            raise ApiError(400, "MissingParameter.Containers", "Containers is required")
        cid = f"asc-fake{next(self._ids):016x}"
        self.configs[cid] = {**body, "ScalingConfigurationId": cid, "LifecycleState": "Active"}
        if group["ActiveScalingConfigurationId"] is None:  # the first one is active (CreateEciScalingConfiguration)
            group["ActiveScalingConfigurationId"] = cid
        return {"ScalingConfigurationId": cid}

    def _ModifyEciScalingConfiguration(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten(params)
        config = self.configs.get(_required(body, "ScalingConfigurationId"))
        if config is None:
            raise ApiError(
                404, "InvalidScalingConfigurationId.NotFound", "The specified scaling configuration does not exist."
            )
        # ContainersUpdateType: RenewUpdate (default) overwrites Containers; IncrementalUpdate matches them
        # by Name and changes only what the request names (API reference, ModifyEciScalingConfiguration).
        incremental = body.get("ContainersUpdateType") == "IncrementalUpdate"
        sections = [s for s in ("Containers", "InitContainers") if s in body]
        if incremental:  # the whole request is checked before anything changes (a refusal changes nothing)
            for section in sections:
                names = {c["Name"] for c in config.get(section) or []}
                for change in body[section]:
                    if change.get("Name") not in names:
                        raise ApiError(
                            400, "InvalidParameter.Containers", f"container {change.get('Name')} does not exist"
                        )
        for section in sections:
            if not incremental:
                config[section] = [dict(c) for c in body[section]]
                continue
            existing = {c["Name"]: dict(c) for c in config.get(section) or []}
            for change in body[section]:
                existing[change["Name"]].update(change)
            config[section] = list(existing.values())
        for key in ("Tags", "AcrRegistryInfos", "ImageRegistryCredentials", "ContainerGroupName"):
            if key in body:
                config[key] = body[key]
        return {}

    def _DescribeScalingGroups(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten(params)
        region = _required(body, "RegionId")
        ids = body.get("ScalingGroupIds")
        # Tags.N.Key / Tags.N.Value (DescribeScalingGroupsRequestTags): the groups that carry every tag given
        # (assumption: the filters are joined with AND, as the ECI tag filter of DescribeContainerGroups is;
        # docs/fake.md).
        wanted = {t.get("Key"): t.get("Value", "") for t in body.get("Tags") or []}
        found = [
            g
            for g in sorted(self.groups.values(), key=lambda g: g["ScalingGroupId"])
            if g["RegionId"] == region
            and (not ids or g["ScalingGroupId"] in ids)
            and (not body.get("ScalingGroupName") or g["ScalingGroupName"] == body["ScalingGroupName"])
            and all({"Key": k, "Value": v} in g["Tags"] for k, v in wanted.items())
        ]
        # PageSize: "Maximum value: 50. Default value: 10"; PageNumber from 1 (API reference, DescribeScalingGroups).
        size, page = int(body.get("PageSize") or 10), int(body.get("PageNumber") or 1)
        if not 1 <= size <= 50:
            raise ApiError(400, "InvalidParameter.PageSize", "PageSize must be 1..50")
        total = len(found)
        found = found[(page - 1) * size : page * size]
        out = []
        for g in found:
            members = self.instances[g["ScalingGroupId"]].values()
            out.append(
                {
                    **g,
                    # DescribeScalingGroupsResponseBodyScalingGroupsTags: TagKey / TagValue (not Key / Value)
                    "Tags": [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in g["Tags"]],
                    "TotalCapacity": len(members),
                    "StandbyCapacity": sum(1 for i in members if i["LifecycleState"] == "Standby"),
                }
            )
        return {"ScalingGroups": out, "TotalCount": total, "PageNumber": page, "PageSize": size}

    def _DescribeEciScalingConfigurations(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten(params)
        _required(body, "RegionId")
        ids, gid = body.get("ScalingConfigurationIds"), body.get("ScalingGroupId")
        found = [
            {k: v for k, v in c.items() if k != "ImageRegistryCredentials"}
            | {
                "ImageRegistryCredentials": [
                    {k: v for k, v in r.items() if k != "Password"} for r in c.get("ImageRegistryCredentials") or []
                ]
            }
            for c in self.configs.values()
            if (not ids or c["ScalingConfigurationId"] in ids) and (not gid or c["ScalingGroupId"] == gid)
        ]
        return {"ScalingConfigurations": found, "TotalCount": len(found), "PageNumber": 1, "PageSize": 50}

    def _DescribeScalingInstances(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten(params)
        _required(body, "RegionId")
        group = self._group(_required(body, "ScalingGroupId"))
        size = int(body.get("PageSize") or 10)
        if not 1 <= size <= 50:  # PageSize: "Maximum value: 50" (API reference, DescribeScalingInstances)
            raise ApiError(400, "InvalidParameter.PageSize", "PageSize must be 1..50")
        page = int(body.get("PageNumber") or 1)
        members = sorted(self.instances[group["ScalingGroupId"]].values(), key=lambda i: i["InstanceId"])
        chunk = members[(page - 1) * size : page * size]
        return {"ScalingInstances": chunk, "TotalCount": len(members), "PageNumber": page, "PageSize": size}

    # SuspendProcesses, ResumeProcesses, EnterStandby, ExitStandby take a ClientToken ("ensures the
    # idempotence of the request", API reference): the same token and parameters answer the first answer.
    def _SuspendProcesses(self, params: dict[str, str]) -> dict[str, Any]:
        return self.eci._idempotent("ess:SuspendProcesses", params, lambda: self._processes(params, suspend=True))

    def _ResumeProcesses(self, params: dict[str, str]) -> dict[str, Any]:
        return self.eci._idempotent("ess:ResumeProcesses", params, lambda: self._processes(params, suspend=False))

    def _processes(self, params: dict[str, str], *, suspend: bool) -> dict[str, Any]:
        body = unflatten(params)
        _required(body, "RegionId")
        group = self._group(_required(body, "ScalingGroupId"))
        wanted = body.get("Processes")
        if not isinstance(wanted, list) or not wanted:
            raise ApiError(400, "MissingParameter.Processes", "Processes is required")
        for process in wanted:
            if process not in PROCESSES:
                raise ApiError(400, "InvalidParameter.Processes", f"The process {process} is not valid.")
            if (process in group["SuspendedProcesses"]) == suspend:
                raise process_state(process, suspend)
        if suspend:
            group["SuspendedProcesses"] = [*group["SuspendedProcesses"], *wanted]
        else:
            group["SuspendedProcesses"] = [p for p in group["SuspendedProcesses"] if p not in wanted]
        return {}

    def _EnterStandby(self, params: dict[str, str]) -> dict[str, Any]:
        return self.eci._idempotent("ess:EnterStandby", params, lambda: self._standby(params, entering=True))

    def _ExitStandby(self, params: dict[str, str]) -> dict[str, Any]:
        return self.eci._idempotent("ess:ExitStandby", params, lambda: self._standby(params, entering=False))

    def _standby(self, params: dict[str, str], *, entering: bool) -> dict[str, Any]:
        body = unflatten(params)
        group = self._group(_required(body, "ScalingGroupId"))
        ids = body.get("InstanceIds")
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "MissingParameter.InstanceIds", "InstanceIds is required")
        if len(ids) > MAX_STANDBY_IDS:
            raise ApiError(400, "InvalidParameter.InstanceIds", f"at most {MAX_STANDBY_IDS} instances a call")
        members = self.instances[group["ScalingGroupId"]]
        have, want = ("InService", "Standby") if entering else ("Standby", "InService")
        for iid in ids:
            if iid not in members:
                raise ApiError(404, "InvalidInstanceId.NotFound", f"The instance {iid} is not in the scaling group.")
            if members[iid]["LifecycleState"] != have:
                raise instance_status(iid, members[iid]["LifecycleState"], have)
        for iid in ids:
            members[iid]["LifecycleState"] = want
        return {"ScalingActivityId": f"asa-fake{next(self._ids):016x}"}

    def _TagResources(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten(params)
        tagged = []  # every group's new tags first: a refusal for one group tags none (nothing half-applied)
        for group in self._tagged(body):
            tags = {t["Key"]: t.get("Value", "") for t in group["Tags"]}
            for tag in body.get("Tags") or []:
                # TagResources: Tags.N.Key and Tags.N.Value up to 128 characters (API reference)
                if not tag.get("Key") or len(tag["Key"]) > 128 or len(str(tag.get("Value") or "")) > 128:
                    raise ApiError(400, "InvalidParameter.Tags", "tag keys are 1-128 characters, values at most 128")
                tags[tag["Key"]] = tag.get("Value", "")
            if len(tags) > MAX_TAGS:
                raise ApiError(400, "QuotaExceed.Tags", f"a scaling group has at most {MAX_TAGS} tags")
            tagged.append((group, [{"Key": k, "Value": v} for k, v in tags.items()]))
        for group, tags_after in tagged:
            group["Tags"] = tags_after
        return {}

    def _UntagResources(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten(params)
        keys = set(body.get("TagKeys") or [])
        for group in self._tagged(body):
            group["Tags"] = [t for t in group["Tags"] if t["Key"] not in keys]
        return {}

    def _tagged(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        _required(body, "RegionId")
        # ResourceType: scalinggroup (TagResources / UntagResources, API reference).
        if str(body.get("ResourceType") or "").lower() != "scalinggroup":
            raise ApiError(400, "InvalidParameter.ResourceType", "ResourceType must be scalinggroup")
        return [self._group(gid) for gid in body.get("ResourceIds") or []]

    def _group(self, group_id: str) -> dict[str, Any]:
        group = self.groups.get(group_id)
        if group is None:
            raise not_found(group_id)
        return group
