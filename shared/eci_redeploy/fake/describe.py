"""DescribeContainerGroups' shapes: every field of the API's container group, container, state and
event, with the SDK model's type (`alibabacloud_eci20180808.models.DescribeContainerGroupsResponseBody*`).

Values come from what the group was created or updated with (the create request's nested form:
`Container.N.Port.N.Port` arrives here as `spec["Container"][n]["Port"][m]["Port"]`, a string), or
are plausible constants where the fake has nothing to model (billing, ENI, IPv6).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from .group import Group


def _int(value: Any, default: int = 0) -> int:
    # Request values were type-checked (params.check_numbers): the default stands in for an absent one.
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _state(state: str, started: str, finished: str = "", reason: str = "", exit_code: int = 0) -> dict[str, Any]:
    return {
        "State": state,
        "DetailStatus": reason or state.lower(),
        "Reason": reason,
        "Message": "",
        "ExitCode": exit_code,
        "Signal": 0,
        "StartTime": started,
        "FinishTime": finished,
    }


def _probe(raw: Any) -> dict[str, Any]:
    probe = _map(raw)
    http, tcp = _map(probe.get("HttpGet")), _map(probe.get("TcpSocket"))
    return {
        "Execs": _strings(_map(probe.get("Exec")).get("Command")),
        "InitialDelaySeconds": _int(probe.get("InitialDelaySeconds")),
        "PeriodSeconds": _int(probe.get("PeriodSeconds"), 10),
        "TimeoutSeconds": _int(probe.get("TimeoutSeconds"), 1),
        "SuccessThreshold": _int(probe.get("SuccessThreshold"), 1),
        "FailureThreshold": _int(probe.get("FailureThreshold"), 3),
        "HttpGet": {
            "Path": str(http.get("Path", "")),
            "Port": _int(http.get("Port")),
            "Scheme": str(http.get("Scheme", "")),
        },
        "TcpSocket": {"Host": str(tcp.get("Host", "")), "Port": _int(tcp.get("Port"))},
    }


def _states(group: Group, *, init: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(CurrentState, PreviousState) of a container of the group."""
    running = group.status == "Running"
    if init:  # init containers ran to completion before the group started
        current = _state("Terminated", group.started, group.started, "Completed") if running else _state("Waiting", "")
    elif running:
        current = _state("Running", group.started)
    else:
        current = _state("Waiting", "", reason="ContainerCreating" if group.status != "Failed" else "ErrImagePull")
    previous = (
        _state("Terminated", group.previous_started, group.previous_finished, "Completed")
        if group.previous_started
        else _state("", "")
    )
    return current, previous


def _mounts(c: Mapping[str, Any], *, init: bool) -> list[dict[str, Any]]:
    return [
        {
            "Name": str(m.get("Name", "")),
            "MountPath": str(m.get("MountPath", "")),
            "ReadOnly": _bool(m.get("ReadOnly")),
            "MountPropagation": str(m.get("MountPropagation", "None")),
            **({} if init else {"SubPath": str(m.get("SubPath", ""))}),
        }
        for m in _dicts(c.get("VolumeMount"))
    ]


def _container(group: Group, c: Mapping[str, Any], *, init: bool) -> dict[str, Any]:
    current, previous = _states(group, init=init)
    security = _map(c.get("SecurityContext"))
    out: dict[str, Any] = {
        "Name": str(c.get("Name", "")),
        "Image": str(c.get("Image", "")),
        "ImagePullPolicy": str(c.get("ImagePullPolicy", "IfNotPresent")),
        "Cpu": _float(c.get("Cpu")),
        "Memory": _float(c.get("Memory")),
        "Gpu": _int(c.get("Gpu")),
        "WorkingDir": str(c.get("WorkingDir", "")),
        "Args": _strings(c.get("Arg")),
        "EnvironmentVars": [
            {
                "Key": str(e.get("Key", "")),
                "Value": str(e.get("Value", "")),
                "ValueFrom": {"FieldRef": {"FieldPath": str(_map(e.get("FieldRef")).get("FieldPath", ""))}},
            }
            for e in _dicts(c.get("EnvironmentVar"))
        ],
        "Ports": [
            {"Port": _int(p.get("Port")), "Protocol": str(p.get("Protocol", "TCP"))} for p in _dicts(c.get("Port"))
        ],
        "VolumeMounts": _mounts(c, init=init),
        "SecurityContext": {
            "Capability": {"Adds": _strings(_map(security.get("Capability")).get("Add"))},
            "ReadOnlyRootFilesystem": _bool(security.get("ReadOnlyRootFilesystem")),
            "RunAsUser": _int(security.get("RunAsUser")),
        },
        "Ready": group.status == "Running",
        "RestartCount": group.restart_count,
        "CurrentState": current,
        "PreviousState": previous,
    }
    # The model names the command list differently for the two kinds of container.
    out["Command" if init else "Commands"] = _strings(c.get("Command"))
    if not init:
        out.update(
            {
                "LivenessProbe": _probe(c.get("LivenessProbe")),
                "ReadinessProbe": _probe(c.get("ReadinessProbe")),
                "Stdin": _bool(c.get("Stdin")),
                "StdinOnce": _bool(c.get("StdinOnce")),
                "Tty": _bool(c.get("Tty")),
            }
        )
    return out


def _volume(v: Mapping[str, Any]) -> dict[str, Any]:
    nfs, disk = _map(v.get("NFSVolume")), _map(v.get("DiskVolume"))
    empty, flex = _map(v.get("EmptyDirVolume")), _map(v.get("FlexVolume"))
    return {
        "Name": str(v.get("Name", "")),
        "Type": str(v.get("Type", "")),
        "NFSVolumeServer": str(nfs.get("Server", "")),
        "NFSVolumePath": str(nfs.get("Path", "")),
        "NFSVolumeReadOnly": _bool(nfs.get("ReadOnly")),
        "DiskVolumeDiskId": str(disk.get("DiskId", "")),
        "DiskVolumeFsType": str(disk.get("FsType", "")),
        "EmptyDirVolumeMedium": str(empty.get("Medium", "")),
        "EmptyDirVolumeSizeLimit": str(empty.get("SizeLimit", "")),
        "FlexVolumeDriver": str(flex.get("Driver", "")),
        "FlexVolumeFsType": str(flex.get("FsType", "")),
        "FlexVolumeOptions": str(flex.get("Options", "")),
        "ConfigFileVolumeConfigFileToPaths": [
            {"Path": str(p.get("Path", "")), "Content": str(p.get("Content", ""))}
            for p in _dicts(_map(v.get("ConfigFileVolume")).get("ConfigFileToPath"))
        ],
    }


def _pairs(items: Any) -> list[dict[str, str]]:
    return [{"Name": str(i.get("Name", "")), "Value": str(i.get("Value", ""))} for i in _dicts(items)]


def _dns(dns: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "NameServers": _strings(dns.get("NameServer")),
        "Searches": _strings(dns.get("Search")),
        "Options": _pairs(dns.get("Option")),
    }


def describe_group(group: Group) -> dict[str, Any]:
    spec = group.spec
    crc = zlib.crc32(group.id.encode())
    subnet = crc % 250
    cpu, memory = _float(spec.get("Cpu"), 2.0), _float(spec.get("Memory"), 4.0)
    return {
        "ContainerGroupId": group.id,
        "ContainerGroupName": group.name,
        "RegionId": group.region,
        "ZoneId": group.zone,
        "Status": group.status,
        "Cpu": cpu,
        "Memory": memory,
        "InstanceType": str(spec.get("InstanceType") or f"ecs.c6.{'large' if cpu <= 2 else 'xlarge'}"),
        "ComputeCategory": str(spec.get("ComputeCategory", "economy")),
        "SecurityGroupId": str(spec.get("SecurityGroupId", "")),
        "VSwitchId": str(spec.get("VSwitchId", "")),
        "VpcId": f"vpc-fake{crc:08x}",
        "ResourceGroupId": str(spec.get("ResourceGroupId", "rg-acfmfake0000000")),
        "RestartPolicy": str(spec.get("RestartPolicy", "Always")),
        "RamRoleName": str(spec.get("RamRoleName", "")),
        "CreationTime": group.created,
        "SucceededTime": "",
        "FailedTime": group.failed,
        "ExpiredTime": "",
        "IntranetIp": f"192.168.{subnet}.{zlib.crc32(group.name.encode()) % 250 + 2}",
        "InternetIp": "",
        "Ipv6Address": "",
        "EniInstanceId": f"eni-fake{crc:012x}",
        "TenantEniInstanceId": "",
        "TenantEniIp": "",
        "TenantSecurityGroupId": "",
        "TenantVSwitchId": "",
        "EphemeralStorage": _int(spec.get("EphemeralStorage")),
        "Discount": 10,  # no discount (10 = 100%), as pay-as-you-go groups report
        "SpotStrategy": str(spec.get("SpotStrategy", "NoSpot")),
        "SpotPriceLimit": _float(spec.get("SpotPriceLimit")),
        "Tags": [{"Key": str(t.get("Key", "")), "Value": str(t.get("Value", ""))} for t in _dicts(spec.get("Tag"))],
        "Containers": [_container(group, c, init=False) for c in _dicts(spec.get("Container"))],
        "InitContainers": [_container(group, c, init=True) for c in _dicts(spec.get("InitContainer"))],
        "Volumes": [_volume(v) for v in _dicts(spec.get("Volume"))],
        "HostAliases": [
            {"Ip": str(h.get("Ip", "")), "Hostnames": _strings(h.get("Hostname"))}
            for h in _dicts(spec.get("HostAliase"))
        ],
        "DnsConfig": _dns(_map(spec.get("DnsConfig"))),
        "EciSecurityContext": {"Sysctls": _pairs(_map(spec.get("SecurityContext")).get("Sysctl"))},
        "Events": list(group.events),
    }
