"""Auto Scaling's shapes as the 2022-02-22 API returns them (field names of the SDK's response models:
DescribeScalingGroupsResponseBodyScalingGroups, DescribeEciScalingConfigurationsResponseBody
ScalingConfigurations, DescribeScalingInstancesResponseBodyScalingInstances), and the planner's view of
one scaling group. Pure data: no SDK import."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The tag ESS puts on every instance it creates (a system tag: ECS and ECI instances alike; ACK's node
# pool docs list it among the tags a scaling group occupies): the instance belongs to that group.
SCALING_GROUP_TAG = "acs:autoscaling:scalingGroupId"
SCALING_CONFIGURATION_TAG = "acs:autoscaling:scalingConfigurationId"
# ESS lifecycle states (DescribeScalingInstances LifecycleState).
IN_SERVICE = "InService"
STANDBY = "Standby"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, defer_build=True)


class EssTag(_Open):
    key: str = Field(alias="Key")
    value: str = Field("", alias="Value")


class GroupTag(_Open):
    # DescribeScalingGroups names a group's tag fields TagKey / TagValue.
    key: str = Field(alias="TagKey")
    value: str = Field("", alias="TagValue")


class ScalingGroup(_Open):
    id: str = Field(alias="ScalingGroupId")
    name: str = Field("", alias="ScalingGroupName")
    region: str | None = Field(None, alias="RegionId")
    group_type: str = Field("ECS", alias="GroupType")
    lifecycle_state: str = Field("Active", alias="LifecycleState")
    active_configuration: str | None = Field(None, alias="ActiveScalingConfigurationId")
    suspended: list[str] = Field(default_factory=list, alias="SuspendedProcesses")
    tags: list[GroupTag] = Field(default_factory=list, alias="Tags")

    @cached_property
    def tag_map(self) -> dict[str, str]:
        return {t.key: t.value for t in self.tags}


class ConfigContainer(_Open):
    name: str = Field(alias="Name")
    image: str = Field("", alias="Image")


class EciConfiguration(_Open):
    id: str = Field(alias="ScalingConfigurationId")
    name: str = Field("", alias="ScalingConfigurationName")
    containers: list[ConfigContainer] = Field(default_factory=list, alias="Containers")
    init_containers: list[ConfigContainer] = Field(default_factory=list, alias="InitContainers")
    tags: list[EssTag] = Field(default_factory=list, alias="Tags")

    @cached_property
    def tag_map(self) -> dict[str, str]:
        return {t.key: t.value for t in self.tags}


class ScalingInstance(_Open):
    id: str = Field(alias="InstanceId")
    lifecycle_state: str = Field("InService", alias="LifecycleState")
    health_status: str = Field("Healthy", alias="HealthStatus")
    configuration: str | None = Field(None, alias="ScalingConfigurationId")
    creation_type: str = Field("AutoCreated", alias="CreationType")


class ScalingView(BaseModel):
    """One scaling group as the planner sees it: the group, its active ECI configuration, its instances
    and (by instance id) the ECI container groups that are those instances."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    region: str
    group: ScalingGroup
    configuration: EciConfiguration | None = None
    instances: list[ScalingInstance] = Field(default_factory=list)
    container_groups: dict[str, Any] = Field(default_factory=dict)  # instance id -> ContainerGroup

    is_scaling_view: bool = True  # told apart from container groups in a list of observed things (GroupIndex)

    @property
    def id(self) -> str:
        return self.group.id

    @property
    def tag_map(self) -> dict[str, str]:
        return self.group.tag_map

    # Read like a container group where observed groups are read for their images (the reconcile's
    # registry_host): the active configuration's containers.
    @property
    def name(self) -> str:
        return self.group.name

    @property
    def containers(self) -> list[ConfigContainer]:
        return list(self.configuration.containers) if self.configuration else []

    @property
    def init_containers(self) -> list[ConfigContainer]:
        return list(self.configuration.init_containers) if self.configuration else []

    def to_json(self) -> dict[str, Any]:
        return {
            "ScalingGroupId": self.group.id,
            "ScalingGroupName": self.group.name,
            "ActiveScalingConfigurationId": self.group.active_configuration,
            "SuspendedProcesses": list(self.group.suspended),
            "Images": {c.name: c.image for c in (self.configuration.containers if self.configuration else [])},
            "Instances": {i.id: i.lifecycle_state for i in self.instances},
        }
