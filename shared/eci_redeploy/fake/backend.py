"""The fake's in-memory ECI: container groups per region, their lifecycle, ClientToken idempotency,
paging, the API's validation, and fault injection. No HTTP here (that is `wire.py`)."""

from __future__ import annotations

import fnmatch
import itertools
import json
import random
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..flatten import unflatten

GROUP_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])$")
MUTABLE = ("Pending", "Running")
MUTATING = (
    "CreateContainerGroup",
    "UpdateContainerGroup",
    "RestartContainerGroup",
    "DeleteContainerGroup",
    "CreateImageCache",
)
PAGE_MAX = 20


class ApiError(Exception):
    """An error the API would answer: HTTP status, Code, Message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Faults:
    """What goes wrong on purpose. Shares use a seeded RNG so a failing test can be re-run exactly."""

    throttle_share: float = 0.0
    throttle_count: int = 0  # the next N calls are throttled
    server_error_count: int = 0  # the next N calls answer 503 ServiceUnavailable
    delay_seconds: float = 0.0
    actions: tuple[str, ...] = ()  # empty: every action
    broken_images: list[str] = field(default_factory=list)  # globs of images that "cannot be pulled"
    seed: int = 1234

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def applies(self, action: str) -> bool:
        return not self.actions or action in self.actions

    def image_broken(self, image: str) -> bool:
        return any(fnmatch.fnmatchcase(image, g) for g in self.broken_images)


@dataclass
class Call:
    action: str
    params: dict[str, str]
    status: int
    code: str | None
    request_id: str
    time: float
    wall: float = 0.0  # Unix time the call arrived (benchmarks compare it with registry timestamps)

    @property
    def mutating(self) -> bool:
        return self.action in MUTATING and self.status == 200


@dataclass
class Group:
    id: str
    name: str
    region: str
    spec: dict[str, Any]  # the nested create body, updated in place by UpdateContainerGroup
    status: str = "Pending"
    next_status: str | None = "Running"
    transition_at: float = 0.0
    created: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    restart_count: int = 0

    def images(self) -> list[str]:
        return [c.get("Image", "") for c in (self.spec.get("Container") or []) + (self.spec.get("InitContainer") or [])]

    def describe(self) -> dict[str, Any]:
        running = self.status == "Running"

        def container(c: Mapping[str, Any]) -> dict[str, Any]:
            return {
                "Name": c.get("Name"),
                "Image": c.get("Image"),
                "ImagePullPolicy": c.get("ImagePullPolicy", "IfNotPresent"),
                "Cpu": float(c.get("Cpu", 0) or 0),
                "Memory": float(c.get("Memory", 0) or 0),
                "Ready": running,
                "RestartCount": self.restart_count,
                "CurrentState": {"State": "Running" if running else "Waiting"},
            }

        return {
            "ContainerGroupId": self.id,
            "ContainerGroupName": self.name,
            "RegionId": self.region,
            "Status": self.status,
            "Cpu": float(self.spec.get("Cpu", 0) or 0),
            "Memory": float(self.spec.get("Memory", 0) or 0),
            "SecurityGroupId": self.spec.get("SecurityGroupId", ""),
            "VSwitchId": self.spec.get("VSwitchId", ""),
            "RestartPolicy": self.spec.get("RestartPolicy", "Always"),
            "CreationTime": self.created,
            "IntranetIp": f"192.168.{zlib.crc32(self.id.encode()) % 250}.{zlib.crc32(self.name.encode()) % 250 + 2}",
            "Tags": [{"Key": t.get("Key"), "Value": t.get("Value", "")} for t in self.spec.get("Tag") or []],
            "Containers": [container(c) for c in self.spec.get("Container") or []],
            "InitContainers": [container(c) for c in self.spec.get("InitContainer") or []],
            "Events": list(self.events),
        }


class FakeEci:
    """In-memory ECI. Thread-safe: the HTTP server handles requests concurrently."""

    def __init__(
        self,
        *,
        startup_seconds: float = 0.0,
        update_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.startup_seconds = startup_seconds
        self.update_seconds = update_seconds
        self.cache_seconds = 0.0
        self.clock = clock
        self.sleep = sleep
        self.faults = Faults()
        self.groups: dict[str, Group] = {}
        self.calls: list[Call] = []
        self.image_caches: dict[str, dict[str, Any]] = {}
        # ACR's GetAuthorizationToken (API 2018-12-01), so a reconcile of ACR EE can run here too.
        self.acr_tokens: dict[str, tuple[str, str]] = {}
        self._tokens: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # ---- seeding and inspection (for tests and --state) ----

    def seed(self, groups: Iterable[Mapping[str, Any]]) -> None:
        """Load groups in DescribeContainerGroups form (API field names)."""
        with self._lock:
            for raw in groups:
                gid = raw.get("ContainerGroupId") or self._new_id("eci")
                spec = {
                    "ContainerGroupName": raw.get("ContainerGroupName", gid),
                    "Container": [{"Name": c["Name"], "Image": c["Image"]} for c in raw.get("Containers") or []],
                    "InitContainer": [
                        {"Name": c["Name"], "Image": c["Image"]} for c in raw.get("InitContainers") or []
                    ],
                    "Tag": [{"Key": t["Key"], "Value": t.get("Value", "")} for t in raw.get("Tags") or []],
                }
                for key in ("Cpu", "Memory", "SecurityGroupId", "VSwitchId"):
                    if key in raw:
                        spec[key] = raw[key]
                self.groups[gid] = Group(
                    gid,
                    spec["ContainerGroupName"],
                    raw.get("RegionId", "cn-hangzhou"),
                    spec,
                    status=raw.get("Status", "Running"),
                    next_status=None,
                    created=_now(),
                )

    def group(self, gid: str) -> Group:
        with self._lock:
            group = self.groups[gid]
            self._advance(group)
            return group

    def mutating_calls(self, action: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.mutating and (action is None or c.action == action)]

    def settle(self) -> None:
        """Finish every transition now (tests that do not care about timing)."""
        with self._lock:
            for group in self.groups.values():
                group.transition_at = 0.0
                self._advance(group)

    # ---- the API ----

    def handle(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        request_id = str(uuid.uuid4()).upper()
        try:
            self._inject(action)
            handler = getattr(self, f"_{action}", None) or _gate_handler(self, action)
            if handler is None:
                raise ApiError(400, "InvalidAction.NotFound", f"Specified api {action} is not found")
            with self._lock:
                body = handler(dict(params))
            body["RequestId"] = request_id
            self._record(action, params, 200, None, request_id)
            return body
        except ApiError as err:
            self._record(action, params, err.status, err.code, request_id)
            err.request_id = request_id  # type: ignore[attr-defined]
            raise

    def _record(self, action: str, params: Mapping[str, str], status: int, code: str | None, rid: str) -> None:
        with self._lock:
            self.calls.append(Call(action, dict(params), status, code, rid, self.clock(), time.time()))

    def _inject(self, action: str) -> None:
        f = self.faults
        if not f.applies(action):
            return
        if f.delay_seconds:
            self.sleep(f.delay_seconds)
        with self._lock:
            if f.server_error_count > 0:
                f.server_error_count -= 1
                raise ApiError(
                    503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."
                )
            if f.throttle_count > 0:
                f.throttle_count -= 1
                raise ApiError(400, "Throttling.User", "Request was denied due to user flow control.")
            if f.throttle_share and f._rng.random() < f.throttle_share:
                raise ApiError(400, "Throttling.User", "Request was denied due to user flow control.")

    def _idempotent(self, action: str, params: dict[str, str], create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        token = params.get("ClientToken")
        if not token:
            return create()
        if len(token) > 64 or not token.isascii():
            raise ApiError(400, "InvalidParameter", "ClientToken is at most 64 ASCII characters")
        fingerprint = json.dumps({k: v for k, v in params.items() if k != "ClientToken"}, sort_keys=True)
        key = (action, token)
        if key in self._tokens:
            seen, response = self._tokens[key]
            if seen != fingerprint:
                raise ApiError(
                    400,
                    "IdempotentParameterMismatch",
                    "The request uses the same client token as a previous, but non-identical request.",
                )
            return dict(response)
        response = create()
        self._tokens[key] = (fingerprint, dict(response))
        return response

    def _CreateContainerGroup(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten({k: v for k, v in params.items() if k != "ClientToken"})
        region = _required(body, "RegionId")
        name = _required(body, "ContainerGroupName")
        if not GROUP_NAME.match(name):
            raise ApiError(
                400,
                "InvalidParameter.ContainerGroupName",
                f"ContainerGroupName {name!r} is invalid: 2-128 lowercase letters, digits or '-', "
                "not starting or ending with '-'",
            )
        containers = body.get("Container")
        if not isinstance(containers, list) or not containers:
            raise ApiError(400, "MissingParameter.Container", "Container is required")
        for c in containers + list(body.get("InitContainer") or []):
            if not isinstance(c, dict) or not c.get("Name") or not c.get("Image"):
                raise ApiError(400, "InvalidParameter.Container", "every container needs a Name and an Image")
        _check_tags(body.get("Tag") or [])

        def create() -> dict[str, Any]:
            gid = self._new_id("eci")
            group = Group(gid, name, region, body, created=_now())
            self.groups[gid] = group
            self._start(group, "Pending", self.startup_seconds, "Created")
            return {"ContainerGroupId": gid}

        return self._idempotent("CreateContainerGroup", params, create)

    def _UpdateContainerGroup(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten({k: v for k, v in params.items() if k != "ClientToken"})
        group = self._existing(body)

        def update() -> dict[str, Any]:
            if group.status not in MUTABLE:
                raise ApiError(
                    403,
                    "IncorrectStatus",
                    f"The current status of the resource does not support this operation: {group.status}",
                )
            incremental = body.get("UpdateType") == "IncrementalUpdate"
            for section in ("Container", "InitContainer"):
                if section not in body:
                    continue
                existing = {c["Name"]: c for c in group.spec.get(section) or []}
                for change in body[section]:
                    name = change.get("Name")
                    if not name:
                        raise ApiError(400, "InvalidParameter.Container", "Container.N.Name is required")
                    if name in existing:
                        existing[name].update(change)
                    elif incremental:
                        raise ApiError(400, "InvalidParameter.Container", f"container {name} does not exist")
                    else:
                        existing[name] = dict(change)
                if incremental:
                    group.spec[section] = list(existing.values())
                else:
                    names = {c.get("Name") for c in body[section]}
                    group.spec[section] = [c for n, c in existing.items() if n in names]
            for key in ("Tag", "AcrRegistryInfo", "ImageRegistryCredential", "Cpu", "Memory", "RestartPolicy"):
                if key in body:
                    if key == "Tag":
                        _check_tags(body["Tag"])
                    group.spec[key] = body[key]
            self._start(group, "Updating", self.update_seconds, "Updated")
            return {}

        return self._idempotent("UpdateContainerGroup", params, update)

    def _RestartContainerGroup(self, params: dict[str, str]) -> dict[str, Any]:
        group = self._existing(params)

        def restart() -> dict[str, Any]:
            if group.status not in MUTABLE:
                raise ApiError(
                    403,
                    "IncorrectStatus",
                    f"The current status of the resource does not support this operation: {group.status}",
                )
            group.restart_count += 1
            self._start(group, "Restarting", self.update_seconds, "Restarted")
            return {}

        return self._idempotent("RestartContainerGroup", params, restart)

    def _DeleteContainerGroup(self, params: dict[str, str]) -> dict[str, Any]:
        def delete() -> dict[str, Any]:
            group = self._existing(params)
            del self.groups[group.id]
            return {}

        return self._idempotent("DeleteContainerGroup", params, delete)

    def _DescribeContainerGroups(self, params: dict[str, str]) -> dict[str, Any]:
        region = _required(params, "RegionId")
        limit = int(params.get("Limit") or PAGE_MAX)
        if not 1 <= limit <= PAGE_MAX:
            raise ApiError(400, "InvalidParameter.Limit", f"Limit must be 1..{PAGE_MAX}")
        ids: list[str] | None = None
        if params.get("ContainerGroupIds"):
            try:
                ids = json.loads(params["ContainerGroupIds"])
            except json.JSONDecodeError:
                raise ApiError(
                    400, "InvalidParameter.ContainerGroupIds", "ContainerGroupIds must be a JSON array"
                ) from None
            if not isinstance(ids, list) or len(ids) > PAGE_MAX:
                raise ApiError(400, "InvalidParameter.ContainerGroupIds", f"at most {PAGE_MAX} ids")
        tags = unflatten({k: v for k, v in params.items() if k.startswith("Tag.")}).get("Tag") or []
        matches = []
        for group in sorted(self.groups.values(), key=lambda g: g.id):
            self._advance(group)
            if group.region != region:
                continue
            if ids is not None and group.id not in ids:
                continue
            if params.get("ContainerGroupName") and group.name != params["ContainerGroupName"]:
                continue
            if params.get("Status") and group.status != params["Status"]:
                continue
            have = {t.get("Key"): t.get("Value", "") for t in group.spec.get("Tag") or []}
            if any(have.get(t.get("Key")) != t.get("Value", "") for t in tags):
                continue
            matches.append(group)
        start = int(params.get("NextToken") or 0) if (params.get("NextToken") or "0").isdigit() else 0
        page = matches[start : start + limit]
        next_token = str(start + limit) if start + limit < len(matches) else ""
        return {
            "ContainerGroups": [g.describe() for g in page],
            "NextToken": next_token,
            "TotalCount": len(matches),
        }

    def _GetAuthorizationToken(self, params: dict[str, str]) -> dict[str, Any]:
        instance = _required(params, "InstanceId")
        if instance not in self.acr_tokens:
            raise ApiError(404, "INSTANCE_NOT_EXIST", f"instance {instance} does not exist")
        user, token = self.acr_tokens[instance]
        return {
            "IsSuccess": True,
            "TempUsername": user,
            "AuthorizationToken": token,
            "ExpireTime": int(time.time() * 1000) + 3600_000,
        }

    def _CreateImageCache(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten({k: v for k, v in params.items() if k != "ClientToken"})
        _required(body, "RegionId")
        name = _required(body, "ImageCacheName")
        images = body.get("Image")
        if not isinstance(images, list) or not images:
            raise ApiError(400, "MissingParameter.Image", "Image.N is required")

        for key in ("SecurityGroupId", "VSwitchId"):
            _required(body, key)

        def create() -> dict[str, Any]:
            cache_id = self._new_id("imc")
            broken = [i for i in images if self.faults.image_broken(i)]
            self.image_caches[cache_id] = {
                "ImageCacheId": cache_id,
                "ImageCacheName": name,
                "RegionId": body["RegionId"],
                "Images": images,
                "Status": "Creating",
                "Progress": "0%",
                "SnapshotId": f"s-{cache_id}",
                "CreationTime": _now(),
                "Events": [],
                "_ready_at": self.clock() + self.cache_seconds,
                "_final": "Failed" if broken else "Ready",
            }
            if broken:
                self.image_caches[cache_id]["Events"].append(
                    _event("Warning", "Failed", f'Failed to pull image "{broken[0]}"')
                )
            return {"ImageCacheId": cache_id, "ContainerGroupId": self._new_id("eci")}

        return self._idempotent("CreateImageCache", params, create)

    def _DescribeImageCaches(self, params: dict[str, str]) -> dict[str, Any]:
        region = _required(params, "RegionId")
        out = []
        for cache in self.image_caches.values():
            if cache["Status"] == "Creating" and self.clock() >= cache["_ready_at"]:
                cache["Status"], cache["Progress"] = cache["_final"], "100%"
            if cache.get("RegionId", region) != region:
                continue
            if params.get("ImageCacheId") and cache["ImageCacheId"] != params["ImageCacheId"]:
                continue
            if params.get("Image") and params["Image"] not in cache["Images"]:
                continue
            if params.get("Status") and cache["Status"] != params["Status"]:
                continue
            out.append({k: v for k, v in cache.items() if not k.startswith("_")})
        return {"ImageCaches": out, "TotalCount": len(out)}

    # ---- lifecycle ----

    def _start(self, group: Group, status: str, seconds: float, reason: str) -> None:
        group.status = status
        broken = [i for i in group.images() if self.faults.image_broken(i)]
        # Like ECI: with RestartPolicy Always the pull is retried (back-off) and the group never gets
        # Ready; with Never / OnFailure it fails.
        gives_up = group.spec.get("RestartPolicy") in ("Never", "OnFailure")
        group.next_status = ("Failed" if gives_up else "Pending") if broken else "Running"
        group.transition_at = self.clock() + seconds
        group.events.append(_event("Normal", reason, f"{reason} container group {group.id}"))
        if broken:
            group.events.append(_event("Warning", "Failed", f'Failed to pull image "{broken[0]}": not found'))
        if seconds <= 0:
            self._advance(group)

    def _advance(self, group: Group) -> None:
        if group.next_status and self.clock() >= group.transition_at:
            group.status, group.next_status = group.next_status, None
            if group.status == "Pending":
                group.events.append(_event("Warning", "BackOff", "Back-off pulling image"))
            if group.status == "Running":
                group.events.append(_event("Normal", "Started", "Started container group"))

    def _existing(self, params: Mapping[str, Any]) -> Group:
        gid = _required(params, "ContainerGroupId")
        _required(params, "RegionId")
        group = self.groups.get(gid)
        if group is None or group.region != params["RegionId"]:
            raise ApiError(
                404, "InvalidContainerGroup.NotFound", f"The specified container group {gid} does not exist."
            )
        self._advance(group)
        return group

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-fake{next(self._ids):016x}"


def _gate_handler(backend: FakeEci, action: str) -> Callable[[dict[str, str]], dict[str, Any]] | None:
    from .acr_gates import handler_for  # the gates' ECI tag calls and ACR scan / signature calls

    return handler_for(backend, action)


def _required(params: Mapping[str, Any], key: str) -> str:
    value = params.get(key)
    if not value or not isinstance(value, str):
        raise ApiError(
            400,
            f"MissingParameter.{key}",
            f"The input parameter {key} that is mandatory for processing this request is not supplied.",
        )
    return value


def _check_tags(tags: list[Any]) -> None:
    if len(tags) > 20:
        raise ApiError(400, "InvalidParameter.TagCount", "at most 20 tags")
    for tag in tags:
        key, value = str(tag.get("Key") or ""), str(tag.get("Value") or "")
        if not key or len(key) > 128 or len(value) > 128:
            raise ApiError(400, "InvalidParameter.Tag", "tag keys are 1-128 characters, values at most 128")
        for text in (key, value):
            if text.startswith(("acs:", "aliyun")) or "http://" in text or "https://" in text:
                raise ApiError(400, "InvalidParameter.Tag", f"tag {text!r} uses a reserved prefix or a URL")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "Type": kind,
        "Reason": reason,
        "Message": message,
        "Count": 1,
        "FirstTimestamp": _now(),
        "LastTimestamp": _now(),
    }
