"""Container groups as DescribeContainerGroups returns them (API field names), the planner's view of ECI."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.errors import InputError


class _Open(BaseModel):
    # Describe responses carry many more fields than planning needs: keep them, never reject them.
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, defer_build=True)


# A container as DescribeContainerGroups returns it: every field of the SDK's
# `DescribeContainerGroupsResponseBodyContainerGroupsContainers` / `...InitContainers` (alibabacloud-eci20180808;
# tests/test_eci_spec.py holds the aliases equal to the models' wire names), each optional so that a
# state file written by hand may give only Name and Image, and a dump gives back only what was read.


class ObservedFieldRef(_Open):
    field_path: str | None = Field(None, alias="FieldPath")


class ObservedValueFrom(_Open):
    field_ref: ObservedFieldRef | None = Field(None, alias="FieldRef")


class ObservedEnvironmentVar(_Open):
    key: str = Field("", alias="Key")
    value: str | None = Field(None, alias="Value")
    value_from: ObservedValueFrom | None = Field(None, alias="ValueFrom")

    @property
    def field_path(self) -> str:
        ref = self.value_from.field_ref if self.value_from else None
        return (ref.field_path if ref else None) or ""


class ObservedHttpGet(_Open):
    path: str | None = Field(None, alias="Path")
    port: int | None = Field(None, alias="Port")
    scheme: str | None = Field(None, alias="Scheme")


class ObservedTcpSocket(_Open):
    host: str | None = Field(None, alias="Host")
    port: int | None = Field(None, alias="Port")


class ObservedProbe(_Open):
    execs: list[str] | None = Field(None, alias="Execs")
    http_get: ObservedHttpGet | None = Field(None, alias="HttpGet")
    tcp_socket: ObservedTcpSocket | None = Field(None, alias="TcpSocket")
    initial_delay_seconds: int | None = Field(None, alias="InitialDelaySeconds")
    period_seconds: int | None = Field(None, alias="PeriodSeconds")
    timeout_seconds: int | None = Field(None, alias="TimeoutSeconds")
    success_threshold: int | None = Field(None, alias="SuccessThreshold")
    failure_threshold: int | None = Field(None, alias="FailureThreshold")


class ObservedPort(_Open):
    port: int | None = Field(None, alias="Port")
    protocol: str | None = Field(None, alias="Protocol")


class ObservedCapability(_Open):
    adds: list[str] | None = Field(None, alias="Adds")


class ObservedSecurityContext(_Open):
    capability: ObservedCapability | None = Field(None, alias="Capability")
    read_only_root_filesystem: bool | None = Field(None, alias="ReadOnlyRootFilesystem")
    run_as_user: int | None = Field(None, alias="RunAsUser")


class ObservedVolumeMount(_Open):
    name: str | None = Field(None, alias="Name")
    mount_path: str | None = Field(None, alias="MountPath")
    read_only: bool | None = Field(None, alias="ReadOnly")
    mount_propagation: str | None = Field(None, alias="MountPropagation")
    sub_path: str | None = Field(None, alias="SubPath")


class ObservedState(_Open):
    state: str | None = Field(None, alias="State")
    detail_status: str | None = Field(None, alias="DetailStatus")
    reason: str | None = Field(None, alias="Reason")
    message: str | None = Field(None, alias="Message")
    exit_code: int | None = Field(None, alias="ExitCode")
    signal: int | None = Field(None, alias="Signal")
    start_time: str | None = Field(None, alias="StartTime")
    finish_time: str | None = Field(None, alias="FinishTime")


class ObservedContainer(_Open):
    name: str = Field(alias="Name")
    image: str = Field(alias="Image")
    image_pull_policy: str | None = Field(None, alias="ImagePullPolicy")
    # The model names the startup command `Commands` on a container and `Command` on an init container.
    commands: list[str] | None = Field(None, alias="Commands")
    command: list[str] | None = Field(None, alias="Command")
    args: list[str] | None = Field(None, alias="Args")
    working_dir: str | None = Field(None, alias="WorkingDir")
    cpu: float | None = Field(None, alias="Cpu")
    memory: float | None = Field(None, alias="Memory")
    gpu: int | None = Field(None, alias="Gpu")
    environment_vars: list[ObservedEnvironmentVar] | None = Field(None, alias="EnvironmentVars")
    ports: list[ObservedPort] | None = Field(None, alias="Ports")
    volume_mounts: list[ObservedVolumeMount] | None = Field(None, alias="VolumeMounts")
    liveness_probe: ObservedProbe | None = Field(None, alias="LivenessProbe")
    readiness_probe: ObservedProbe | None = Field(None, alias="ReadinessProbe")
    security_context: ObservedSecurityContext | None = Field(None, alias="SecurityContext")
    stdin: bool | None = Field(None, alias="Stdin")
    stdin_once: bool | None = Field(None, alias="StdinOnce")
    tty: bool | None = Field(None, alias="Tty")
    # What the container is doing, not what it was given: never sent back to ECI.
    ready: bool | None = Field(None, alias="Ready")
    restart_count: int | None = Field(None, alias="RestartCount")
    current_state: ObservedState | None = Field(None, alias="CurrentState")
    previous_state: ObservedState | None = Field(None, alias="PreviousState")

    @property
    def startup_command(self) -> list[str]:
        return list(self.commands or self.command or [])


class ObservedTag(_Open):
    key: str = Field(alias="Key")
    value: str = Field("", alias="Value")


class ContainerGroup(_Open):
    id: str = Field(alias="ContainerGroupId")
    name: str = Field("", alias="ContainerGroupName")
    status: str = Field("Running", alias="Status")
    region: str | None = Field(None, alias="RegionId")
    # Always / Never / OnFailure; None when a state file does not say (CreateContainerGroup defaults to Always).
    restart_policy: str | None = Field(None, alias="RestartPolicy")
    tags: list[ObservedTag] = Field(default_factory=list, alias="Tags")
    containers: list[ObservedContainer] = Field(default_factory=list, alias="Containers")
    init_containers: list[ObservedContainer] = Field(default_factory=list, alias="InitContainers")

    @cached_property
    def tag_map(self) -> dict[str, str]:
        return {t.key: t.value for t in self.tags}


def parse_groups(raw: Any, *, source: str = "state") -> list[ContainerGroup]:
    if isinstance(raw, dict) and "ContainerGroups" in raw:
        raw = raw["ContainerGroups"]
    if not isinstance(raw, list):
        raise InputError('expected a DescribeContainerGroups body: {"ContainerGroups": [...]}', source=source)
    groups = []
    for i, item in enumerate(raw):
        try:
            groups.append(ContainerGroup.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise InputError(err["msg"], source=source, field=f"ContainerGroups[{i}].{loc}") from None
    return groups


def load_state(path: str | Path) -> list[ContainerGroup]:
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", source=str(p)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}", source=str(p)) from None
    return parse_groups(raw, source=str(p))


def dump_groups(groups: Iterable[ContainerGroup]) -> dict[str, Any]:
    return {"ContainerGroups": [g.model_dump(by_alias=True, exclude_none=True) for g in groups]}


class GroupIndex:
    """Container groups indexed by id, name and tag, so that selecting from a large state does not
    scan it once per rule and event."""

    def __init__(self, groups: Iterable[ContainerGroup]) -> None:
        self.groups = list(groups)
        self.by_id: dict[str, ContainerGroup] = {}
        self.by_name: dict[str, list[ContainerGroup]] = {}
        self.by_tag: dict[tuple[str, str], list[ContainerGroup]] = {}
        for group in self.groups:
            self.by_id[group.id] = group
            self.by_name.setdefault(group.name, []).append(group)
            for tag in group.tags:
                self.by_tag.setdefault((tag.key, tag.value), []).append(group)

    def __iter__(self) -> Iterator[ContainerGroup]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    def named(self, name: str) -> list[ContainerGroup]:
        return self.by_name.get(name, [])

    def with_tags(self, tags: Mapping[str, str]) -> list[ContainerGroup]:
        buckets = [self.by_tag.get((k, v), []) for k, v in tags.items()]
        if not buckets:
            return list(self.groups)
        smallest = min(buckets, key=len)
        return [g for g in smallest if all(g.tag_map.get(k) == v for k, v in tags.items())]
