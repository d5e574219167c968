"""Temporary registry credentials for ACR Enterprise Edition from the ACR API (GetAuthorizationToken),
signed with the function's role: no registry password is stored anywhere.

Called through alibabacloud-tea-openapi's generic `call_api` (already installed with the ECI SDK), so
no ACR SDK is needed for this one action.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.errors import EciRedeployError
from ..core.hosts import api_host, check_instance_id
from .eci import Credentials, open_api_config, parse_endpoint


class AcrTokenError(EciRedeployError):
    exit_code = 7


def acr_token_provider(credentials: Credentials, endpoint: str | None = None) -> Callable[[str, str], tuple[str, str]]:
    cache: dict[tuple[str, str], tuple[str, str]] = {}

    def get(instance_id: str, region: str) -> tuple[str, str]:
        key = (instance_id, region)
        if key in cache:
            return cache[key]
        from alibabacloud_tea_openapi import models as open_api_models
        from alibabacloud_tea_openapi.client import Client
        from alibabacloud_tea_util import models as util_models

        check_instance_id(instance_id)
        host, protocol = parse_endpoint(endpoint, region)
        if not endpoint:
            host = api_host("cr", region)
        client = Client(open_api_config(credentials, region, host, protocol))
        params = open_api_models.Params(
            action="GetAuthorizationToken",
            version="2018-12-01",
            protocol="HTTPS",
            pathname="/",
            method="POST",
            auth_type="AK",
            style="RPC",
            req_body_type="formData",
            body_type="json",
        )
        request = open_api_models.OpenApiRequest(query={"InstanceId": instance_id, "RegionId": region})
        try:
            response = client.call_api(params, request, util_models.RuntimeOptions(autoretry=True, max_attempts=3))
        except Exception as exc:
            code = getattr(exc, "code", None) or type(exc).__name__
            raise AcrTokenError(f"GetAuthorizationToken for {instance_id} failed: {code}") from None
        body = response.get("body") or {}
        if not body.get("AuthorizationToken") or not body.get("TempUsername"):
            raise AcrTokenError(f"GetAuthorizationToken for {instance_id} returned no token")
        cache[key] = (str(body["TempUsername"]), str(body["AuthorizationToken"]))
        return cache[key]

    return get
