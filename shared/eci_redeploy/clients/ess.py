"""The one place that talks to Auto Scaling (ESS, API 2022-02-22), over `alibabacloud-ess20220222`.

Only a rule that targets a scaling group gets here: the SDK is imported when a call is made, so an
unwatched push (and every container-group rule) never pays for it. The retries, the error
translation and the call log are the ECI gateway's (`EciGateway._with_retries`, `translate`): one
answer to "may this be sent again" for both services.

ESS_ACTIONS is the table of what the code calls (tests/functions/test_least_privilege.py derives the worker's
RAM actions from it, as from `eci._REQUESTS`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ..core.secrets import redact_endpoint, revealed
from .eci import (
    CallResult,
    Credentials,
    EciGateway,
    RetryPolicy,
    _refuse_unsent,
    open_api_config,
    parse_endpoint,
)
from .ess_model import EciConfiguration, ScalingGroup, ScalingInstance

ENDPOINT_ENV = "ECI_REDEPLOY_ESS_ENDPOINT"
# action -> (request model, client method): every ESS action the product sends.
ESS_ACTIONS = {
    "DescribeScalingGroups": ("DescribeScalingGroupsRequest", "describe_scaling_groups_with_options"),
    "DescribeEciScalingConfigurations": (
        "DescribeEciScalingConfigurationsRequest",
        "describe_eci_scaling_configurations_with_options",
    ),
    "DescribeScalingInstances": ("DescribeScalingInstancesRequest", "describe_scaling_instances_with_options"),
    "ModifyEciScalingConfiguration": (
        "ModifyEciScalingConfigurationRequest",
        "modify_eci_scaling_configuration_with_options",
    ),
    "SuspendProcesses": ("SuspendProcessesRequest", "suspend_processes_with_options"),
    "ResumeProcesses": ("ResumeProcessesRequest", "resume_processes_with_options"),
    "EnterStandby": ("EnterStandbyRequest", "enter_standby_with_options"),
    "ExitStandby": ("ExitStandbyRequest", "exit_standby_with_options"),
    "TagResources": ("TagResourcesRequest", "tag_resources_with_options"),  # the suspension record
    "UntagResources": ("UntagResourcesRequest", "untag_resources_with_options"),
}
PAGE_SIZE = 50  # DescribeScalingInstances / DescribeScalingGroups: PageSize at most 50


def parse_ess_endpoint(value: str | None, region: str) -> tuple[str, str]:
    """(host[:port], protocol) from ECI_REDEPLOY_ESS_ENDPOINT, or the region's public ESS endpoint."""
    if not value:
        return f"ess.{region}.aliyuncs.com", "https"
    return parse_endpoint(value, region)


def ess_client_factory(credentials: Credentials, endpoint: str | None) -> Callable[[str], Any]:
    def make(region: str) -> Any:
        from alibabacloud_ess20220222.client import Client

        host, protocol = parse_ess_endpoint(endpoint, region)
        return Client(open_api_config(credentials, region, host, protocol))

    return make


class EssGateway(EciGateway):
    """ECI's gateway machinery (retries, translation, audit of calls) over the ESS SDK."""

    SERVICE = "ess"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, context: Any = None) -> EssGateway:
        env = os.environ if env is None else env
        endpoint = env.get(ENDPOINT_ENV)
        return cls(
            ess_client_factory(Credentials.from_env(env, context), endpoint),
            retry=RetryPolicy.from_env(env),
            label=f"live-ess:{redact_endpoint(endpoint)}" if endpoint else "live-ess",
        )

    def call(self, action: str, body: Mapping[str, Any], *, target: str = "", region: str = "") -> CallResult:
        # EnterStandby's request has no RegionId (the SDK model): the client's region is the step's.
        return self._with_retries(action, region or str(body["RegionId"]), body, target)

    def _send(self, action: str, region: str, body: Mapping[str, Any]) -> dict[str, Any]:
        from alibabacloud_ess20220222 import models
        from darabonba.runtime import RuntimeOptions

        request_name, method_name = ESS_ACTIONS[action]
        plain = revealed(dict(body))
        request = getattr(models, request_name)().from_map(plain)
        _refuse_unsent(action, request_name, plain, request, "alibabacloud-ess20220222")  # as for ECI: plan == wire
        runtime = RuntimeOptions(autoretry=False, connect_timeout=5000, read_timeout=15000)
        response = getattr(self._client(region), method_name)(request, runtime)
        return response.body.to_map() if response.body is not None else {}

    # ---- reads ----

    def scaling_group(
        self, region: str, *, group_id: str | None = None, name: str | None = None
    ) -> ScalingGroup | None:
        found = self.scaling_groups(region, group_id=group_id, name=name)
        return found[0] if found else None

    def scaling_groups(
        self,
        region: str,
        *,
        group_id: str | None = None,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> list[ScalingGroup]:
        """The scaling groups of the region that match, every page (PageSize at most 50)."""
        query: dict[str, Any] = {"RegionId": region, "PageSize": PAGE_SIZE}
        if group_id:
            query["ScalingGroupIds"] = [group_id]
        if name:
            query["ScalingGroupName"] = name
        if tags:
            query["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        out: list[ScalingGroup] = []
        page = 1
        while True:
            result = self.call("DescribeScalingGroups", {**query, "PageNumber": page}).body
            items = result.get("ScalingGroups") or []
            out.extend(ScalingGroup.model_validate({**g, "RegionId": region}) for g in items)
            if not items or len(out) >= int(result.get("TotalCount") or 0):
                return out
            page += 1

    def eci_configuration(self, region: str, group_id: str, config_id: str) -> EciConfiguration | None:
        body = {"RegionId": region, "ScalingGroupId": group_id, "ScalingConfigurationIds": [config_id]}
        found = self.call("DescribeEciScalingConfigurations", body).body.get("ScalingConfigurations") or []
        return EciConfiguration.model_validate(found[0]) if found else None

    def instances(self, region: str, group_id: str) -> list[ScalingInstance]:
        out: list[ScalingInstance] = []
        page = 1
        while True:
            body = {"RegionId": region, "ScalingGroupId": group_id, "PageSize": PAGE_SIZE, "PageNumber": page}
            result = self.call("DescribeScalingInstances", body).body
            items = result.get("ScalingInstances") or []
            out.extend(ScalingInstance.model_validate(i) for i in items)
            if not items or len(out) >= int(result.get("TotalCount") or 0):
                return out
            page += 1


def ess_for(gateway: EciGateway) -> EssGateway:
    """The Auto Scaling gateway beside an ECI gateway: the same credentials, retry policy and sleep, on the
    ESS endpoint (ECI_REDEPLOY_ESS_ENDPOINT, else the region's). One per ECI gateway."""
    cached = getattr(gateway, "_ess_gateway", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    factory: Any = gateway._factory
    make = getattr(factory, "ess", None)  # the fake's in-process clients serve ESS themselves
    if make is None:
        credentials = getattr(factory, "credentials", None)
        if credentials is None:
            from ..core.errors import ConfigError

            raise ConfigError("a scaling-group rule needs Auto Scaling credentials: this gateway has none")
        make = ess_client_factory(credentials, getattr(factory, "ess_endpoint", None))
    ess = EssGateway(
        make, retry=gateway.retry, sleep=gateway._sleep, label=f"{gateway.label}:ess", allowed=gateway.allowed
    )
    gateway._ess_gateway = ess  # type: ignore[attr-defined]
    return ess
