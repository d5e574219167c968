"""A stage for the reconcile's tests (operations/, and the gates and scaling groups it reaches): the
in-process fake ECI behind a gateway (`gateway_on`), a group on it (`seed`) and the rule that watches
team/web (`web_rule`) in the registry of conftest.py's `open_registry` fixture."""

from __future__ import annotations

from typing import Any

from eci_redeploy.clients.eci import EciGateway, RetryPolicy
from eci_redeploy.fake.inprocess import inprocess_factory


def gateway_on(backend: Any) -> EciGateway:
    return EciGateway(inprocess_factory(backend), retry=RetryPolicy(max_attempts=2, initial=0.001))


def seed(backend: Any, image: str, gid: str = "eci-web") -> None:
    backend.seed(
        [
            {
                "ContainerGroupId": gid,
                "ContainerGroupName": gid,
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": image}],
            }
        ]
    )


def web_rule(host: str, tags: dict[str, Any], selector: dict[str, Any] | None = None, **pull: Any) -> dict[str, Any]:
    """The rule these tests reconcile: team/web from `host` over plain HTTP."""
    return {
        "name": "web",
        "source": {"repository": "team/web", "registry": host, "tags": tags},
        "target": {
            "region": "cn-hangzhou",
            "action": "update",
            "container_groups": selector or {"tags": {"app": "web"}},
        },
        "pull": {"plain_http": [host], **pull},
    }
