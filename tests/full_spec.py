"""A container group with every container field the API lets a caller set and the describe shows
(the SDK's CreateContainerGroupRequestContainer / ...InitContainer, alibabacloud-eci20180808), shared by
the tests of the observed model, the full resend and the rollback."""

from __future__ import annotations

import copy
from typing import Any

HOST = "reg.example.com"
PROBE = {
    "InitialDelaySeconds": 5,
    "PeriodSeconds": 7,
    "TimeoutSeconds": 2,
    "SuccessThreshold": 1,
    "FailureThreshold": 4,
}

APP: dict[str, Any] = {
    "Name": "app",
    "Image": f"{HOST}/team/web:1.0.0",
    "ImagePullPolicy": "IfNotPresent",
    "Command": ["/bin/web"],
    "Arg": ["--listen", ":8080"],
    "WorkingDir": "/srv",
    "Cpu": 1.0,
    "Memory": 2.0,
    "Gpu": 1,
    "EnvironmentVar": [
        {"Key": "MODE", "Value": "prod"},
        {"Key": "DB_PASSWORD", "Value": "s3cret-value"},
        {"Key": "POD_IP", "FieldRef": {"FieldPath": "status.podIP"}},
    ],
    "Port": [{"Port": 8080, "Protocol": "TCP"}, {"Port": 9090, "Protocol": "UDP"}],
    "VolumeMount": [
        {"Name": "conf", "MountPath": "/etc/web", "ReadOnly": True, "MountPropagation": "None", "SubPath": "web"},
        {"Name": "cache", "MountPath": "/cache", "MountPropagation": "HostToContainer"},
    ],
    "LivenessProbe": {"TcpSocket": {"Port": 8080}, **PROBE},
    "ReadinessProbe": {"HttpGet": {"Path": "/healthz", "Port": 8080, "Scheme": "HTTP"}, **PROBE},
    "SecurityContext": {"Capability": {"Add": ["NET_ADMIN"]}, "ReadOnlyRootFilesystem": True, "RunAsUser": 1000},
    "Stdin": True,
    "StdinOnce": True,
    "Tty": True,
}
SIDECAR: dict[str, Any] = {
    "Name": "sidecar",
    "Image": f"{HOST}/team/proxy:2.0.0",
    "ImagePullPolicy": "Always",
    "Command": ["/proxy"],
    "ReadinessProbe": {"Exec": {"Command": ["cat", "/tmp/ready"]}, **PROBE},
}
INIT: dict[str, Any] = {
    "Name": "migrate",
    "Image": f"{HOST}/team/migrate:1.0.0",
    "ImagePullPolicy": "IfNotPresent",
    "Command": ["/migrate"],
    "Arg": ["up"],
    "WorkingDir": "/db",
    "Cpu": 0.5,
    "Memory": 1.0,
    "EnvironmentVar": [{"Key": "STEP", "Value": "all"}],
    "Port": [{"Port": 7000, "Protocol": "TCP"}],
    "VolumeMount": [{"Name": "conf", "MountPath": "/conf", "ReadOnly": True, "MountPropagation": "None"}],
    "SecurityContext": {"Capability": {"Add": ["SYS_TIME"]}, "RunAsUser": 999},
}


def create_body(name: str = "rich", *, restart_policy: str = "Always", app: str = "web") -> dict[str, Any]:
    return {
        "RegionId": "cn-hangzhou",
        "ContainerGroupName": name,
        "SecurityGroupId": "sg-1",
        "VSwitchId": "vsw-1",
        "RestartPolicy": restart_policy,
        "Container": [copy.deepcopy(APP), copy.deepcopy(SIDECAR)],
        "InitContainer": [copy.deepcopy(INIT)],
        "Volume": [{"Name": "conf", "Type": "EmptyDirVolume"}, {"Name": "cache", "Type": "EmptyDirVolume"}],
        "Tag": [{"Key": "app", "Value": app}],
    }
