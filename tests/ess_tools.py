"""Scaling groups for the tests: created through the official Auto Scaling SDK (alibabacloud-ess20220222)
against the fake, as a user creates them (CreateScalingGroup with GroupType ECI, then
CreateEciScalingConfiguration), then scaled out by the fake as ESS would."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from eci_redeploy.clients.ess import ess_for
from eci_redeploy.events.model import PushEvent

REGION = "cn-hangzhou"
HOST = "reg.example.com"
T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
NEW_IMAGE = f"{HOST}/team/web:1.1.0"  # what push("1.1.0") deploys on a group scaling_group() made


def scaling_group(
    handle: Any,
    *,
    instances: int = 6,
    image: str = f"{HOST}/team/web:1.0.0",
    name: str = "web",
    tags: dict[str, str] | None = None,
    restart_policy: str | None = None,
) -> tuple[str, str]:
    """A scaling group of the ECI type with one ECI configuration and `instances` InService instances
    (created with the configuration's RestartPolicy, as ESS creates them)."""
    from alibabacloud_ess20220222 import models

    client = ess_for(handle.gateway)._client(REGION)
    gid = client.create_scaling_group(
        models.CreateScalingGroupRequest(
            region_id=REGION,
            scaling_group_name=name,
            group_type="ECI",
            min_size=0,
            max_size=50,
            tags=[models.CreateScalingGroupRequestTags(key=k, value=v) for k, v in (tags or {}).items()] or None,
        )
    ).body.scaling_group_id
    cid = client.create_eci_scaling_configuration(
        models.CreateEciScalingConfigurationRequest(
            scaling_group_id=gid,
            container_group_name="web",
            containers=[
                models.CreateEciScalingConfigurationRequestContainers(name="app", image=image),
                models.CreateEciScalingConfigurationRequestContainers(name="sidecar", image=f"{HOST}/team/log:2"),
            ],
            tags=[models.CreateEciScalingConfigurationRequestTags(key="app", value="web")],
            restart_policy=restart_policy,
        )
    ).body.scaling_configuration_id
    handle.backend.ess.scale_out(gid, instances)
    handle.backend.settle()
    return gid, cid


def rule(gid: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": "web-asg",
        "source": {"repository": "team/web", "tags": {"semver": ">=1.0.0"}},
        "target": {"region": REGION, "action": "update", "scaling_group": gid, "containers": ["app"]},
        "pull": {"credentials": [{"server": HOST, "username": "ci", "password_env": "REG_PASSWORD"}]},
        "rollout": {"batch_size": 2, "poll_seconds": 0.01, "timeout_seconds": 5},
    }
    for key, value in extra.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def push(tag: str, digest: str | None = None, *, minutes: int = 0, event_id: str | None = None) -> PushEvent:
    return PushEvent(
        repository="team/web",
        tag=tag,
        digest=digest,
        source="distribution",
        event_id=event_id or f"ev-{tag}-{minutes}",
        time=T0 + timedelta(minutes=minutes),
        registry_host=HOST,
        signed=True,
    )


def images(handle: Any, gid: str) -> dict[str, str]:
    """instance id -> the app container's image, for every instance of the group (from the ECI fake)."""
    out = {}
    for iid in handle.backend.ess.instances[gid]:
        spec = handle.backend.group(iid).spec
        out[iid] = next(c["Image"] for c in spec["Container"] if c["Name"] == "app")
    return out


def configuration_image(handle: Any, cid: str) -> str:
    return next(c["Image"] for c in handle.backend.ess.configs[cid]["Containers"] if c["Name"] == "app")


def ess_calls(handle: Any) -> list[str]:
    return [c.action for c in handle.backend.calls if c.service == "ess" and c.status == 200]
