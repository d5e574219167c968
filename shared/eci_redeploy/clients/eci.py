"""The one place that talks to ECI, over `alibabacloud-eci20180808`.

The SDK is imported only when a call is made: it costs ~0.25 s and ~60 MB, and an event that
matches no rule must not pay it. SDK errors become the project's typed errors; what the API calls
retryable (throttling, 5xx, no response) is retried with backoff and jitter, bounded in attempts and
time, always with the same ClientToken; nothing else is retried.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import ConfigError, EciApiError, EciAuthError, IdempotencyConflict, RetryableEciError
from ..core.hosts import api_host
from ..core.log import log_event
from ..core.secrets import redact_endpoint, revealed
from .eci_model import ContainerGroup, parse_groups

RETRYABLE_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable", "InternalError"})
NO_RESPONSE = "NoResponse"
# A group in a transitional status refuses the change now; the same request sent at once fails the
# same way, but a later run (a platform retry, on a fresh describe) gets past it.
LATER_CODES = frozenset({"IncorrectStatus"})


def is_retryable(code: str, status: int | None = None) -> bool:
    """The one answer to "may this request be sent again?": throttling, a 5xx, no response at all."""
    return (
        code in RETRYABLE_CODES
        or code.startswith("Throttling")
        or code == NO_RESPONSE
        or (isinstance(status, int) and status >= 500)
    )


def retry_later(code: str) -> bool:
    """Whether a step that failed with `code` is worth running the whole order again later (the
    handlers raise RetryLater): what `is_retryable` allows, plus a group that was mid-transition."""
    return is_retryable(code) or code in LATER_CODES


AUTH_CODES_PREFIX = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden", "InvalidSecurityToken", "NoPermission")

_REQUESTS = {
    "CreateContainerGroup": ("CreateContainerGroupRequest", "create_container_group_with_options"),
    "UpdateContainerGroup": ("UpdateContainerGroupRequest", "update_container_group_with_options"),
    "RestartContainerGroup": ("RestartContainerGroupRequest", "restart_container_group_with_options"),
    "DeleteContainerGroup": ("DeleteContainerGroupRequest", "delete_container_group_with_options"),
    "DescribeContainerGroups": ("DescribeContainerGroupsRequest", "describe_container_groups_with_options"),
    "CreateImageCache": ("CreateImageCacheRequest", "create_image_cache_with_options"),
    "DescribeImageCaches": ("DescribeImageCachesRequest", "describe_image_caches_with_options"),
    "TagResources": ("TagResourcesRequest", "tag_resources_with_options"),  # held changes (gates/store.py)
    "UntagResources": ("UntagResourcesRequest", "untag_resources_with_options"),
}


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    max_seconds: float = 30.0
    initial: float = 0.2
    maximum: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RetryPolicy:
        return cls(
            max_attempts=int(env.get("ECI_REDEPLOY_RETRY_MAX_ATTEMPTS", cls.max_attempts)),
            max_seconds=float(env.get("ECI_REDEPLOY_RETRY_MAX_SECONDS", cls.max_seconds)),
        )


@dataclass(frozen=True)
class CallResult:
    action: str
    request_id: str | None
    body: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, access_key_secret='******')"

    @classmethod
    def from_env(cls, env: Mapping[str, str], context: Any = None) -> Credentials:
        key, secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"), env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        token = env.get("ALIBABA_CLOUD_SECURITY_TOKEN")
        creds = getattr(context, "credentials", None)  # python3.10 runtime only
        if (not key or not secret) and creds is not None:
            key = getattr(creds, "access_key_id", None) or getattr(creds, "accessKeyId", None)
            secret = getattr(creds, "access_key_secret", None) or getattr(creds, "accessKeySecret", None)
            token = getattr(creds, "security_token", None) or getattr(creds, "securityToken", None)
        if not key or not secret:
            raise ConfigError(
                "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
                "(Function Compute sets them from the function's role)"
            )
        return cls(key, secret, token or None)


def parse_endpoint(value: str | None, region: str) -> tuple[str, str]:
    """(host[:port], protocol) from ECI_REDEPLOY_ECI_ENDPOINT, or the region's public endpoint."""
    if not value:
        return api_host("eci", region), "https"
    value = value.strip().rstrip("/")
    if "@" in value.rpartition("://")[2].split("/", 1)[0]:
        raise ConfigError(
            f"ECI_REDEPLOY_ECI_ENDPOINT: {redact_endpoint(value)!r} carries a user:password; give host[:port] "
            "(the API is signed with ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET)"
        )
    if value.startswith("http://"):
        return value[len("http://") :], "http"
    if value.startswith("https://"):
        return value[len("https://") :], "https"
    if "://" in value:
        raise ConfigError(
            f"ECI_REDEPLOY_ECI_ENDPOINT: unsupported scheme in {redact_endpoint(value)!r} (use http:// or https://)"
        )
    return value, "https"


def open_api_config(credentials: Credentials, region: str, host: str, protocol: str) -> Any:
    """The tea-openapi Config every Alibaba Cloud client here is built from."""
    from alibabacloud_tea_openapi import models as open_api_models

    return open_api_models.Config(
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token,
        region_id=region,
        endpoint=host,
        protocol=protocol,
        connect_timeout=5000,
        read_timeout=15000,
    )


class SdkClients:
    """`factory(region)` -> an ECI SDK client. It keeps the credentials and the Auto Scaling endpoint
    (ECI_REDEPLOY_ESS_ENDPOINT) so that a scaling-group rule's ESS client (clients/ess.py, `ess_for`)
    is built from the same settings, and only when one is needed."""

    def __init__(self, credentials: Credentials, endpoint: str | None, ess_endpoint: str | None = None) -> None:
        self.credentials, self.endpoint, self.ess_endpoint = credentials, endpoint, ess_endpoint

    def __call__(self, region: str) -> Any:
        from alibabacloud_eci20180808.client import Client

        host, protocol = parse_endpoint(self.endpoint, region)
        return Client(open_api_config(self.credentials, region, host, protocol))


def sdk_client_factory(
    credentials: Credentials, endpoint: str | None, ess_endpoint: str | None = None
) -> Callable[[str], Any]:
    return SdkClients(credentials, endpoint, ess_endpoint)


class EciGateway:
    SERVICE = "eci"  # the RAM code of the actions it sends (functions/permissions.py)

    def __init__(
        self,
        client_factory: Callable[[str], Any],
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        label: str = "live",
        allowed: frozenset[str] | None = None,
    ) -> None:
        # `allowed`: the RAM actions of the function's role; a call outside it is refused before it is sent.
        self.allowed = allowed
        self._factory = client_factory
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()  # a batch's calls go out from several threads (execution.rollout)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.label = label

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, context: Any = None) -> EciGateway:
        env = os.environ if env is None else env
        creds = Credentials.from_env(env, context)
        endpoint = env.get("ECI_REDEPLOY_ECI_ENDPOINT")
        return cls(
            sdk_client_factory(creds, endpoint, env.get("ECI_REDEPLOY_ESS_ENDPOINT")),
            retry=RetryPolicy.from_env(env),
            label=f"live:{redact_endpoint(endpoint)}" if endpoint else "live",
        )

    def _client(self, region: str) -> Any:
        with self._clients_lock:
            if region not in self._clients:
                self._clients[region] = self._factory(region)
            return self._clients[region]

    # ---- operations ----

    def call(self, action: str, body: Mapping[str, Any], *, target: str = "") -> CallResult:
        region = str(body["RegionId"])
        return self._with_retries(action, region, body, target)

    def describe(
        self,
        region: str,
        *,
        ids: list[str] | None = None,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> list[ContainerGroup]:
        """Every page, by ids (in chunks of 20, the API's limit), name or tags."""
        if ids is not None:
            out: list[ContainerGroup] = []
            for start in range(0, len(ids), 20):
                out.extend(self._describe_pages(region, {"ContainerGroupIds": json.dumps(ids[start : start + 20])}))
            return out
        query: dict[str, Any] = {}
        if name:
            query["ContainerGroupName"] = name
        if tags:
            query["Tag"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return self._describe_pages(region, query)

    def _describe_pages(self, region: str, query: dict[str, Any]) -> list[ContainerGroup]:
        groups: list[ContainerGroup] = []
        token: str | None = None
        while True:
            body = {"RegionId": region, "Limit": 20, **query}
            if token:
                body["NextToken"] = token
            result = self._with_retries("DescribeContainerGroups", region, body, "")
            page = result.body.get("ContainerGroups") or []
            for item in page:
                item.setdefault("RegionId", region)
            groups.extend(parse_groups(page, source="DescribeContainerGroups"))
            token = result.body.get("NextToken") or None
            if not token or not page:
                return groups

    # ---- the SDK boundary ----

    def _send(self, action: str, region: str, body: Mapping[str, Any]) -> dict[str, Any]:
        from alibabacloud_eci20180808 import models
        from alibabacloud_tea_util import models as util_models

        request_name, method_name = _REQUESTS[action]
        plain = revealed(dict(body))
        request = getattr(models, request_name)().from_map(plain)
        _refuse_unsent(action, request_name, plain, request)
        runtime = util_models.RuntimeOptions(autoretry=False, connect_timeout=5000, read_timeout=15000)
        response = getattr(self._client(region), method_name)(request, runtime)
        return response.body.to_map() if response.body is not None else {}

    def _with_retries(self, action: str, region: str, body: Mapping[str, Any], target: str) -> CallResult:
        if self.allowed is not None and f"{self.SERVICE}:{action}" not in self.allowed:
            raise ConfigError(
                f"{self.SERVICE}:{action} is not in this function's role (functions/permissions.py, deploy/ram/): "
                "only the worker changes ECI and Auto Scaling"
            )
        attempt = 0
        token = body.get("ClientToken")  # the same on every attempt: the body is never rebuilt

        def once() -> CallResult:
            nonlocal attempt
            attempt += 1
            fields = {
                "action": action,
                "target": target,
                "region": region,
                "attempt": attempt,
                "client_token": token,
                "gateway": self.label,
            }
            try:
                data = self._send(action, region, body)
            except Exception as exc:  # the SDK's exceptions, translated into ours
                error = translate(exc, action, attempt)
                log_event(
                    "eci.call",
                    **fields,
                    outcome="error",
                    code=error.code,
                    request_id=error.request_id,
                    retryable=error.retryable,
                )
                raise error from None
            request_id = data.get("RequestId")
            log_event("eci.call", **fields, outcome="ok", request_id=request_id)
            return CallResult(action, request_id, data, attempt)

        started = time.monotonic()
        try:  # the first attempt without tenacity: most calls need no retry, nor its import
            return once()
        except EciApiError as exc:
            if not exc.retryable or self.retry.max_attempts <= 1:
                raise
            first = exc
        return self._retrying(once, first, time.monotonic() - started)

    def _retrying(self, once: Callable[[], CallResult], first: EciApiError, spent: float) -> CallResult:
        """The attempts after a first that failed with a retryable error, as one tenacity policy over all
        of them: the first is replayed as its attempt 1, and its time counts against max_seconds."""
        import tenacity

        replay = [first]

        def replayed() -> CallResult:
            if replay:
                raise replay.pop()
            return once()

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.max_attempts)
            | tenacity.stop_before_delay(self.retry.max_seconds - spent),
            wait=tenacity.wait_exponential_jitter(multiplier=self.retry.initial, max=self.retry.maximum),
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, EciApiError) and e.retryable),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(replayed)


TAGS_PER_CALL = 20  # ResourceId.N: at most 20 groups per TagResources / UntagResources call


def tag_calls(
    gateway: EciGateway, action: str, region: str, ids: list[str], what: Mapping[str, Any]
) -> list[tuple[list[str], EciApiError]]:
    """TagResources (`what`: {"Tag": [...]}) or UntagResources ({"TagKey": [...]}) on container groups,
    20 groups a call; returns the groups of each call that failed, with its error, for the caller to
    log and act on (the gates retry, a restart's record fails its step)."""
    failed: list[tuple[list[str], EciApiError]] = []
    for start in range(0, len(ids), TAGS_PER_CALL):
        chunk = ids[start : start + TAGS_PER_CALL]
        body = {"RegionId": region, "ResourceType": "ContainerGroup", "ResourceId": chunk, **what}
        try:
            gateway.call(action, body, target=",".join(chunk))
        except EciApiError as exc:
            failed.append((chunk, exc))
    return failed


UNSENT = "ParameterNotSent"


def _refuse_unsent(
    action: str, request_name: str, body: Mapping[str, Any], request: Any, sdk: str = "alibabacloud-eci20180808"
) -> None:
    """What `plan` and the dry run print (the body, flattened) is what goes on the wire: a parameter the
    SDK's request model has no field for is dropped by its `from_map` (UpdateContainerGroup's
    AcrRegistryInfo has no ArnService; a template's misspelt or newer field), so such a request is
    refused here, naming them, rather than sent without them."""
    from alibabacloud_openapi_util.client import Client as OpenApiUtil

    from .eci_wire import flatten

    unsent = sorted(set(flatten(body)) - set(OpenApiUtil.query(request.to_map())))
    if unsent:
        shown = ", ".join(unsent[:5]) + (f" and {len(unsent) - 5} more" if len(unsent) > 5 else "")
        raise EciApiError(UNSENT, f"{sdk}'s {request_name} has no field for {shown}: not sent", action=action)


def translate(exc: Exception, action: str, attempt: int = 1) -> EciApiError:
    """An SDK exception as one of the project's errors (never the SDK's own types above the gateway)."""
    from Tea.exceptions import TeaException, UnretryableException

    if isinstance(exc, EciApiError):  # refused before it was sent (_refuse_unsent)
        return exc

    if isinstance(exc, (UnretryableException, OSError, TimeoutError)):
        inner = getattr(exc, "inner_exception", None) or exc
        return RetryableEciError(NO_RESPONSE, type(inner).__name__, action=action, attempts=attempt)
    if isinstance(exc, TeaException):
        data = getattr(exc, "data", None) or {}
        code = str(getattr(exc, "code", None) or data.get("Code") or "Unknown")
        message = str(getattr(exc, "message", None) or data.get("Message") or "")
        status = getattr(exc, "status_code", None) or data.get("statusCode")
        request_id = getattr(exc, "request_id", None) or data.get("RequestId")
        kwargs: dict[str, Any] = {"action": action, "request_id": request_id, "status": status, "attempts": attempt}
        if is_retryable(code, status):
            return RetryableEciError(code, message, **kwargs)
        if code == "IdempotentParameterMismatch":
            return IdempotencyConflict(code, message, **kwargs)
        if code.startswith(AUTH_CODES_PREFIX):
            return EciAuthError(code, message, **kwargs)
        return EciApiError(code, message, **kwargs)
    raise exc
