"""A described container back in the request form: what UpdateContainerGroup (and CreateContainerGroup)
take for it, from what DescribeContainerGroups says it has.

The names follow the SDK's request models (`UpdateContainerGroupRequestContainer` /
`...InitContainer` in alibabacloud-eci20180808, whose `to_map` keys are the wire names): `Args` becomes
`Arg`, `Commands` `Command`, `EnvironmentVars` `EnvironmentVar` (`ValueFrom.FieldRef` becomes `FieldRef`),
`Ports` `Port`, `VolumeMounts` `VolumeMount`, a probe's `Execs` `Exec.Command`, a capability's `Adds`
`Add`. Left out, because the request models have no such field: a probe's `TcpSocket.Host`; an init
container's probes (neither side has them). Status fields (`Ready`, `RestartCount`, the states) are
never sent.

A described value that reads as unset (an empty string or list, a zero count, `false`) is left out
rather than sent: the describe cannot tell "set to 0" from "not set", and sending `RunAsUser=0` to a
container whose image runs as another user would change it. Lifecycle hooks (`Lifecycle*Handler*`) are
in the request models but not in the describe, so a container's hooks can never be read back and
are never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .eci_model import EnvironmentVar, ObservedContainer, Probe

# Keys of the request form a full container spec may hold (tests/clients/test_eci_spec.py checks each against the
# SDK's UpdateContainerGroupRequestContainer and ...InitContainer).
CONTAINER_KEYS = (
    "Name", "Image", "ImagePullPolicy", "Command", "Arg", "WorkingDir", "Cpu", "Memory", "Gpu",
    "EnvironmentVar", "Port", "VolumeMount", "LivenessProbe", "ReadinessProbe", "SecurityContext",
    "Stdin", "StdinOnce", "Tty",
)  # fmt: skip
_PROBE_NUMBERS = ("InitialDelaySeconds", "PeriodSeconds", "TimeoutSeconds", "SuccessThreshold", "FailureThreshold")
_MOUNT_KEYS = ("Name", "MountPath", "ReadOnly", "MountPropagation", "SubPath")


def _set(out: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, "", [], {}, 0, 0.0, False):
        out[key] = value


def field_path(env: EnvironmentVar) -> str:
    """The `ValueFrom.FieldRef.FieldPath` of a described environment variable ("" when it has a value)."""
    return env.get("ValueFrom", {}).get("FieldRef", {}).get("FieldPath") or ""


def probe_spec(probe: Probe | None) -> dict[str, Any] | None:
    """A probe in the request form, or None when the describe shows no check to run (the describe
    answers a probe object with zeros and defaults for a container that has none)."""
    if not probe:
        return None
    out: dict[str, Any] = {}
    if probe.get("Execs"):
        out["Exec"] = {"Command": list(probe["Execs"])}
    http = probe.get("HttpGet") or {}
    if http.get("Port") or http.get("Path"):
        get: dict[str, Any] = {}
        for key in ("Path", "Port", "Scheme"):
            _set(get, key, http.get(key))
        out["HttpGet"] = get
    tcp = probe.get("TcpSocket") or {}
    if tcp.get("Port"):
        out["TcpSocket"] = {"Port": tcp["Port"]}  # no Host: the request models have none
    if not out:
        return None
    for key in _PROBE_NUMBERS:
        _set(out, key, probe.get(key))
    return out


def _environment(c: ObservedContainer, value: Callable[[str], Any]) -> list[dict[str, Any]]:
    out = []
    for env in c.environment_vars or []:
        path = field_path(env)
        if path:
            entry: dict[str, Any] = {"Key": env.get("Key", ""), "FieldRef": {"FieldPath": path}}
            if env.get("Value"):
                entry["Value"] = value(env["Value"])
        else:  # an empty value is a value (`A=`): kept
            entry = {"Key": env.get("Key", ""), "Value": value(env.get("Value") or "")}
        out.append(entry)
    return out


def _mounts(c: ObservedContainer) -> list[dict[str, Any]]:
    out = []
    for mount in c.volume_mounts or []:
        entry: dict[str, Any] = {}
        for key in _MOUNT_KEYS:
            _set(entry, key, mount.get(key))
        out.append(entry)
    return out


def _security(c: ObservedContainer) -> dict[str, Any]:
    sc = c.security_context or {}
    out: dict[str, Any] = {}
    adds = (sc.get("Capability") or {}).get("Adds")
    if adds:
        out["Capability"] = {"Add": list(adds)}
    _set(out, "ReadOnlyRootFilesystem", sc.get("ReadOnlyRootFilesystem"))
    _set(out, "RunAsUser", sc.get("RunAsUser"))
    return out


def container_spec(c: ObservedContainer, *, init: bool, env_value: Callable[[str], Any] = str) -> dict[str, Any]:
    """The container's full spec in the request form (API names, nested). `env_value` wraps each
    environment variable's value (the planner passes `Secret`: values may be credentials)."""
    out: dict[str, Any] = {"Name": c.name, "Image": c.image}
    _set(out, "ImagePullPolicy", c.image_pull_policy)
    _set(out, "Command", c.startup_command)
    _set(out, "Arg", list(c.args or []))
    _set(out, "WorkingDir", c.working_dir)
    _set(out, "Cpu", c.cpu)
    _set(out, "Memory", c.memory)
    _set(out, "Gpu", c.gpu)
    _set(out, "EnvironmentVar", _environment(c, env_value))
    ports = [{"Port": p["Port"], **({"Protocol": p["Protocol"]} if p.get("Protocol") else {})}
             for p in c.ports or [] if p.get("Port")]  # fmt: skip
    _set(out, "Port", ports)
    _set(out, "VolumeMount", _mounts(c))
    if not init:
        _set(out, "LivenessProbe", probe_spec(c.liveness_probe))
        _set(out, "ReadinessProbe", probe_spec(c.readiness_probe))
    _set(out, "SecurityContext", _security(c))
    for key, flag in (("Stdin", c.stdin), ("StdinOnce", c.stdin_once), ("Tty", c.tty)):
        _set(out, key, flag)
    return out
