"""Container groups as DescribeContainerGroups returns them (API field names), the planner's view of ECI."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, with_config
from typing_extensions import TypedDict

from ..core.errors import InputError


class _Open(BaseModel):
    # Describe responses carry many more fields than planning needs: keep them, never reject them.
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True, defer_build=True)


# A container as DescribeContainerGroups returns it: every field of the SDK's
# `DescribeContainerGroupsResponseBodyContainerGroupsContainers` / `...InitContainers` (alibabacloud-eci20180808;
# tests/clients/test_eci_spec.py holds the names equal to the models' wire names), each optional so that a state
# file written by hand may give only Name and Image, and a dump gives back only what was read. The nested
# parts are typed dicts under the API's own names: validated like models, but plain dicts once read (a
# described fleet is thousands of them: model instances cost ~3x as much to build and to collect).
_OPEN_DICT = with_config(ConfigDict(extra="allow"))


@_OPEN_DICT
class FieldRef(TypedDict, total=False):
    FieldPath: str


@_OPEN_DICT
class ValueFrom(TypedDict, total=False):
    FieldRef: FieldRef


@_OPEN_DICT
class EnvironmentVar(TypedDict, total=False):
    Key: str
    Value: str
    ValueFrom: ValueFrom


@_OPEN_DICT
class HttpGet(TypedDict, total=False):
    Path: str
    Port: int
    Scheme: str


@_OPEN_DICT
class TcpSocket(TypedDict, total=False):
    Host: str
    Port: int


@_OPEN_DICT
class Probe(TypedDict, total=False):
    Execs: list[str]
    HttpGet: HttpGet
    TcpSocket: TcpSocket
    InitialDelaySeconds: int
    PeriodSeconds: int
    TimeoutSeconds: int
    SuccessThreshold: int
    FailureThreshold: int


@_OPEN_DICT
class Port(TypedDict, total=False):
    Port: int
    Protocol: str


@_OPEN_DICT
class Capability(TypedDict, total=False):
    Adds: list[str]


@_OPEN_DICT
class SecurityContext(TypedDict, total=False):
    Capability: Capability
    ReadOnlyRootFilesystem: bool
    RunAsUser: int


@_OPEN_DICT
class VolumeMount(TypedDict, total=False):
    Name: str
    MountPath: str
    ReadOnly: bool
    MountPropagation: str
    SubPath: str


@_OPEN_DICT
class ContainerState(TypedDict, total=False):
    State: str
    DetailStatus: str
    Reason: str
    Message: str
    ExitCode: int
    Signal: int
    StartTime: str
    FinishTime: str


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
    environment_vars: list[EnvironmentVar] | None = Field(None, alias="EnvironmentVars")
    ports: list[Port] | None = Field(None, alias="Ports")
    volume_mounts: list[VolumeMount] | None = Field(None, alias="VolumeMounts")
    liveness_probe: Probe | None = Field(None, alias="LivenessProbe")
    readiness_probe: Probe | None = Field(None, alias="ReadinessProbe")
    security_context: SecurityContext | None = Field(None, alias="SecurityContext")
    stdin: bool | None = Field(None, alias="Stdin")
    stdin_once: bool | None = Field(None, alias="StdinOnce")
    tty: bool | None = Field(None, alias="Tty")
    # What the container is doing, not what it was given: never sent back to ECI.
    ready: bool | None = Field(None, alias="Ready")
    restart_count: int | None = Field(None, alias="RestartCount")
    current_state: ContainerState | None = Field(None, alias="CurrentState")
    previous_state: ContainerState | None = Field(None, alias="PreviousState")

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

    def __init__(self, groups: Iterable[Any]) -> None:
        # Observed scaling groups (clients/ess_model.ScalingView) travel with the container groups; they
        # are kept apart here so that no container-group selector can match one.
        everything = list(groups)
        self.scaling: dict[str, Any] = {g.id: g for g in everything if getattr(g, "is_scaling_view", False)}
        self.groups = [g for g in everything if not getattr(g, "is_scaling_view", False)]
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
