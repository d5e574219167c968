"""Handing a work order to the worker function asynchronously.

FC 3.0 (`alibabacloud-fc20230330`): `x-fc-invocation-type: Async` + `x-fc-async-task-id`.
FC 2.0 (`aliyun-fc2`): service/function pairs, `x-fc-stateful-async-invocation-id`.
Inline: runs the worker in this process (the local `serve`, and tests).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..clients.eci import Credentials
from ..core.errors import ConfigError, EciRedeployError
from ..core.hosts import region_problem
from ..core.idempotency import SeenTasks
from ..core.log import log_event
from ..core.settings import Settings
from .handoff import WorkOrder


class DispatchError(EciRedeployError):
    exit_code = 6


@dataclass(frozen=True)
class Dispatched:
    task_id: str
    via: str
    request_id: str | None = None


class Dispatcher(Protocol):
    def dispatch(self, order: WorkOrder, *, delay: float = 0) -> Dispatched:
        """Queue `order` to run once, `delay` seconds from now (0-3600; FC takes whole seconds)."""
        ...


MAX_DELAY = 3600  # x-fc-async-delay: [0, 3600] s (FC "Asynchronous invocation: overview", deferred invocation)


def whole_seconds(delay: float) -> int:
    """The delay as FC takes it: whole seconds, rounded up (never earlier than asked), within [0, 3600]."""
    return int(min(MAX_DELAY, max(0, math.ceil(delay))))


def _already_queued(exc: Exception) -> bool:
    """FC 3.0 refuses a second invocation with the same x-fc-async-task-id with HTTP 409 ("Task
    deduplication": https://www.alibabacloud.com/help/en/fc/task-deduplication): for our own
    deterministic task id that means the order is already queued, which is what was asked."""
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    if status is None:
        data = getattr(exc, "data", None)
        status = data.get("statusCode") if isinstance(data, dict) else None
    return str(status) == "409"


def _fc_endpoint(settings: Settings) -> str:
    if settings.fc_endpoint:
        return settings.fc_endpoint
    if not settings.account_id or not settings.region:
        raise ConfigError("cannot address the worker: FC_ACCOUNT_ID / FC_REGION unset and no ECI_REDEPLOY_FC_ENDPOINT")
    if not settings.account_id.isascii() or not settings.account_id.isdigit():
        raise ConfigError(f"FC_ACCOUNT_ID {settings.account_id!r} is not an account id (digits)")
    if region_problem(settings.region):
        raise ConfigError(f"FC_REGION: {region_problem(settings.region)}")
    return f"https://{settings.account_id}.{settings.region}-internal.fc.aliyuncs.com"


class Fc3Dispatcher:
    def __init__(self, settings: Settings, credentials: Credentials) -> None:
        assert settings.worker_function
        self.function = settings.worker_function
        self.endpoint = _fc_endpoint(settings)
        self.credentials = credentials

    def dispatch(self, order: WorkOrder, *, delay: float = 0) -> Dispatched:
        from alibabacloud_fc20230330 import models
        from alibabacloud_fc20230330.client import Client
        from alibabacloud_tea_openapi import models as open_api_models
        from alibabacloud_tea_util import models as util_models

        host, protocol = self.endpoint, "https"
        if "://" in host:
            protocol, host = host.split("://", 1)
        client = Client(
            open_api_models.Config(
                access_key_id=self.credentials.access_key_id,
                access_key_secret=self.credentials.access_key_secret,
                security_token=self.credentials.security_token,
                endpoint=host.rstrip("/"),
                protocol=protocol,
            )
        )
        # InvokeFunctionHeaders (alibabacloud-fc20230330 4.x) has no field for the delay: a common header.
        extra = {"x-fc-async-delay": str(whole_seconds(delay))} if delay > 0 else None
        headers = models.InvokeFunctionHeaders(
            common_headers=extra, x_fc_invocation_type="Async", x_fc_async_task_id=order.task_id
        )
        request = models.InvokeFunctionRequest(body=order.model_dump_json().encode())
        try:
            response = client.invoke_function_with_options(
                self.function, request, headers, util_models.RuntimeOptions(autoretry=True, max_attempts=3)
            )
        except Exception as exc:
            if _already_queued(exc):
                log_event("work.already_queued", task_id=order.task_id, via=f"fc3:{self.function}")
                return Dispatched(order.task_id, f"fc3:{self.function}:duplicate")
            code = getattr(exc, "code", None) or type(exc).__name__
            raise DispatchError(f"async invocation of {self.function} failed: {code}") from None
        request_id = (response.headers or {}).get("x-fc-request-id")
        return Dispatched(order.task_id, f"fc3:{self.function}", request_id)


class Fc2Dispatcher:
    def __init__(self, settings: Settings, credentials: Credentials) -> None:
        assert settings.worker_service and settings.worker_function
        self.service, self.function = settings.worker_service, settings.worker_function
        self.endpoint = _fc_endpoint(settings)
        self.credentials = credentials

    def dispatch(self, order: WorkOrder, *, delay: float = 0) -> Dispatched:
        import fc2

        client = fc2.Client(
            endpoint=self.endpoint,
            accessKeyID=self.credentials.access_key_id,
            accessKeySecret=self.credentials.access_key_secret,
            securityToken=self.credentials.security_token or "",
            Timeout=10,
        )
        headers = {"x-fc-invocation-type": "Async", "x-fc-stateful-async-invocation-id": order.task_id}
        if delay > 0:
            headers["x-fc-async-delay"] = str(whole_seconds(delay))
        try:
            response = client.invoke_function(
                self.service, self.function, payload=order.model_dump_json().encode(), headers=headers
            )
        except Exception as exc:
            if str(getattr(exc, "status_code", "")) == "409":  # fc2.FcError: the same task dedup rule
                return Dispatched(order.task_id, f"fc2:{self.service}/{self.function}:duplicate")
            code = getattr(exc, "err_code", None) or type(exc).__name__
            raise DispatchError(f"async invocation of {self.service}/{self.function} failed: {code}") from None
        return Dispatched(order.task_id, f"fc2:{self.service}/{self.function}", response.headers.get("x-fc-request-id"))


class InlineDispatcher:
    """Runs the worker in a thread of this process; de-duplicates task ids like FC's async tasks do.
    A delayed order is only recorded in `delays` (tests run it when they choose: FC's clock is theirs)."""

    def __init__(self, work: Callable[[WorkOrder], Any], *, background: bool = True) -> None:
        self.work = work
        self.background = background
        self.seen = SeenTasks()
        self.threads: list[threading.Thread] = []
        self.delays: dict[str, float] = {}
        self._lock = threading.Lock()

    def dispatch(self, order: WorkOrder, *, delay: float = 0) -> Dispatched:
        with self._lock:
            if not self.seen.first(order.task_id):
                return Dispatched(order.task_id, "inline:duplicate")
            self.delays[order.task_id] = delay
        if not self.background:
            self._run(order)
            return Dispatched(order.task_id, "inline")
        thread = threading.Thread(target=self._run, args=(order,), name=f"worker-{order.task_id}", daemon=True)
        self.threads.append(thread)
        thread.start()
        return Dispatched(order.task_id, "inline")

    def _run(self, order: WorkOrder) -> None:
        try:
            self.work(order)
        except Exception as exc:  # a worker thread must log, not die silently
            log_event("worker.error", task_id=order.task_id, error=f"{type(exc).__name__}: {exc}")

    def join(self, timeout: float = 30.0) -> None:
        for thread in list(self.threads):
            thread.join(timeout)


def dispatcher_from_settings(settings: Settings, credentials: Credentials) -> Dispatcher:
    if not settings.worker_function:
        raise ConfigError("ECI_REDEPLOY_WORKER_FUNCTION is not set: the webhook cannot hand work to the worker")
    if settings.worker_service:
        return Fc2Dispatcher(settings, credentials)
    return Fc3Dispatcher(settings, credentials)
