"""The fake's in-memory ECI (moto's `models.py`): container groups per region, their lifecycle,
ClientToken idempotency, paging, the API's validation, and fault injection. No HTTP and no request
parsing here (`responses.py`), no signatures (`signing.py`)."""

from __future__ import annotations

import fnmatch
import itertools
import json
import random
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..clients.eci_model import ObservedContainer
from ..clients.eci_spec import container_spec
from ..clients.eci_wire import unflatten
from .acr_gates import handler_for as gate_handler
from .describe import describe_group
from .exceptions import ApiError, incorrect_status, invalid_parameter, throttled, unavailable
from .exceptions import check_tags as _check_tags
from .exceptions import required as _required
from .group import Group, event, new_request_id, now
from .params import check_numbers

# ContainerGroupName: "2 to 128 characters ... lowercase letters, digits, and hyphens (-). It cannot start or
# end with a hyphen" (CreateContainerGroupRequest.container_group_name, alibabacloud-eci20180808).
GROUP_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])$")
# UpdateContainerGroup / RestartContainerGroup: only an instance that is Pending or Running can be updated or
# restarted (API reference, "Operation description"; otherwise IncorrectStatus, ECI's error codes).
MUTABLE = ("Pending", "Running")
MUTATING = (
    "CreateContainerGroup",
    "UpdateContainerGroup",
    "RestartContainerGroup",
    "DeleteContainerGroup",
    "CreateImageCache",
)
ESS_MUTATING = (
    "ModifyEciScalingConfiguration",
    "SuspendProcesses",
    "ResumeProcesses",
    "EnterStandby",
    "ExitStandby",
)
# DescribeContainerGroups: Limit "Default value: 20. Maximum value: 20", ContainerGroupIds "up to 20 IDs"
# in JSON format (DescribeContainerGroupsRequest, alibabacloud-eci20180808).
PAGE_MAX = 20
# CreateContainerGroup's Tag.N.Key: "up to 64 characters" (CreateContainerGroupRequestTag in
# alibabacloud-eci20180808; the ECI tags guide, https://www.alibabacloud.com/help/en/eci/user-guide/
# use-tags-to-manage-elastic-container-instances). UpdateContainerGroup's Tag documents no limit of
# its own: it is held to the same (TagResources documents 128: fake/acr_gates.py).
REQUEST_KEY = 64


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
    service: str = "eci"  # or "ess" (fake/ess.py)

    @property
    def mutating(self) -> bool:
        if self.service == "ess":
            return self.action in ESS_MUTATING and self.status == 200
        return self.action in MUTATING and self.status == 200


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
        # How IncrementalUpdate applies a named container (no public document says): "merge" field by
        # field (what the product assumes by default), or "replace" its spec with the one sent (terraform's
        # reading: it resends every container in full). docs/fake.md, "Assumptions no public document settles".
        self.container_update = "merge"
        # "Updating an ECI instance with a RestartPolicy of Never may cause containers to fail"
        # (https://www.alibabacloud.com/help/en/eci/developer-reference/api-eci-2018-08-08-updatecontainergroup):
        # True makes that "may" happen, so an update or restart of such a group ends Failed.
        self.never_policy_fails = False
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
        # Auto Scaling beside ECI (fake/ess.py): its instances are this fake's container groups.
        from .ess import FakeEss

        self.ess = FakeEss(self)

    # ---- seeding and inspection (for tests and --state) ----

    def seed(self, groups: Iterable[Mapping[str, Any]]) -> None:
        """Load groups in DescribeContainerGroups form (API field names)."""
        with self._lock:
            for raw in groups:
                gid = raw.get("ContainerGroupId") or self._new_id("eci")
                spec = {
                    "ContainerGroupName": raw.get("ContainerGroupName", gid),
                    # Every field the describe shows, back in the create request's form, so that a state
                    # file round-trips (describe_group(seed(x)) shows x's commands, env, probes, ...).
                    "Container": [_spec(c, init=False) for c in raw.get("Containers") or []],
                    "InitContainer": [_spec(c, init=True) for c in raw.get("InitContainers") or []],
                    "Tag": [{"Key": t["Key"], "Value": t.get("Value", "")} for t in raw.get("Tags") or []],
                }
                for key in ("Cpu", "Memory", "SecurityGroupId", "VSwitchId", "ZoneId", "InstanceType", "RestartPolicy"):
                    if key in raw:
                        spec[key] = raw[key]
                status = raw.get("Status", "Running")
                self.groups[gid] = Group(
                    gid,
                    spec["ContainerGroupName"],
                    raw.get("RegionId", "cn-hangzhou"),
                    spec,
                    status=status,
                    next_status=None,
                    created=now(),
                    started=now() if status == "Running" else "",
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

    def handle(
        self, action: str, params: Mapping[str, str], request_id: str | None = None, *, service: str = "eci"
    ) -> dict[str, Any]:
        request_id = request_id or new_request_id()
        try:
            self._inject(action)
            if service == "ess":  # the same action name (TagResources) means another thing in ESS
                handler = self.ess.handler(action)
            else:
                handler = getattr(self, f"_{action}", None) or gate_handler(self, action)
            if handler is None:
                raise ApiError(400, "InvalidAction.NotFound", f"Specified api {action} is not found")
            check_numbers(params)  # the API's type checks, before any handler converts a value
            with self._lock:
                body = handler(dict(params))
            body["RequestId"] = request_id
            self._record(action, params, 200, None, request_id, service)
            return body
        except ApiError as err:
            self._record(action, params, err.status, err.code, request_id, service)
            err.request_id = request_id
            raise

    def _record(
        self, action: str, params: Mapping[str, str], status: int, code: str | None, rid: str, service: str = "eci"
    ) -> None:
        with self._lock:
            self.calls.append(Call(action, dict(params), status, code, rid, self.clock(), time.time(), service))

    def _inject(self, action: str) -> None:
        f = self.faults
        if not f.applies(action):
            return
        if f.delay_seconds:
            self.sleep(f.delay_seconds)
        with self._lock:
            if f.server_error_count > 0:
                f.server_error_count -= 1
                raise unavailable()
            if f.throttle_count > 0:
                f.throttle_count -= 1
                raise throttled()
            if f.throttle_share and f._rng.random() < f.throttle_share:
                raise throttled()

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
        # Container: "This parameter is required"; each container's Name and Image too
        # (CreateContainerGroupRequest / CreateContainerGroupRequestContainer, alibabacloud-eci20180808).
        containers = body.get("Container")
        if not isinstance(containers, list) or not containers:
            raise ApiError(400, "MissingParameter.Container", "Container is required")
        for c in containers + list(body.get("InitContainer") or []):
            if not isinstance(c, dict) or not c.get("Name") or not c.get("Image"):
                raise ApiError(400, "InvalidParameter.Container", "every container needs a Name and an Image")
        _check_tags(body.get("Tag") or [], max_key=REQUEST_KEY)

        def create() -> dict[str, Any]:
            gid = self._new_id("eci")
            group = Group(gid, name, region, body, created=now())
            self.groups[gid] = group
            self._start(group, "Pending", self.startup_seconds, "Created")
            return {"ContainerGroupId": gid}

        return self._idempotent("CreateContainerGroup", params, create)

    def _UpdateContainerGroup(self, params: dict[str, str]) -> dict[str, Any]:
        body = unflatten({k: v for k, v in params.items() if k != "ClientToken"})
        group = self._existing(body)

        def update() -> dict[str, Any]:
            # ECI checks the whole request before it changes anything: a refused update leaves the
            # group as it was (UpdateContainerGroup answers an error and the group stays Running).
            _check_update(group, body)
            incremental = body.get("UpdateType") == "IncrementalUpdate"
            for section in ("Container", "InitContainer"):
                if section not in body:
                    continue
                existing = {c["Name"]: c for c in group.spec.get(section) or []}
                for change in body[section]:
                    name = change["Name"]
                    if name in existing and incremental and self.container_update == "merge":
                        existing[name].update(change)
                    elif name in existing:
                        # RenewUpdate: "for a parameter of the struct type, you must specify all the members"
                        # (UpdateType, UpdateContainerGroupRequest in alibabacloud-eci20180808): replaced.
                        existing[name] = dict(change)
                    else:
                        existing[change["Name"]] = dict(change)
                if incremental:
                    group.spec[section] = list(existing.values())
                else:
                    names = {c.get("Name") for c in body[section]}
                    group.spec[section] = [c for n, c in existing.items() if n in names]
            for key in ("AcrRegistryInfo", "ImageRegistryCredential", "Cpu", "Memory", "RestartPolicy"):
                if key in body:
                    group.spec[key] = body[key]
            if "Tag" in body:
                group.spec["Tag"] = replaced_tags(group.spec.get("Tag") or [], body["Tag"])
            self._start(group, "Updating", self.update_seconds, "Updated")
            return {}

        return self._idempotent("UpdateContainerGroup", params, update)

    def _RestartContainerGroup(self, params: dict[str, str]) -> dict[str, Any]:
        group = self._existing(params)

        def restart() -> dict[str, Any]:
            if group.status not in MUTABLE:
                raise incorrect_status(group.status)
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
        limit = int(params.get("Limit") or PAGE_MAX)  # an integer: check_numbers ran
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
        # Filters on what the group was created with; ZoneId is the zone the fake placed it in.
        spec_filters = {k: params[k] for k in ("VSwitchId", "SecurityGroupId", "ResourceGroupId") if params.get(k)}
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
            if params.get("ZoneId") and group.zone != params["ZoneId"]:
                continue
            if any(str(group.spec.get(k) or "") != v for k, v in spec_filters.items()):
                continue
            if params.get("ComputeCategory") and params["ComputeCategory"] != group.spec.get(
                "ComputeCategory", "economy"
            ):
                continue
            have = {t.get("Key"): t.get("Value", "") for t in group.spec.get("Tag") or []}
            if any(have.get(t.get("Key")) != t.get("Value", "") for t in tags):
                continue
            matches.append(group)
        start = _page_start(params.get("NextToken"), len(matches))
        page = matches[start : start + limit]
        next_token = _page_token(start + limit) if start + limit < len(matches) else ""
        # WithEvent=false leaves Events out (an empty list, as the API answers); absent or true: events.
        with_events = str(params.get("WithEvent", "true")).lower() != "false"
        groups = []
        for g in page:
            described = describe_group(g)
            if not with_events:
                described["Events"] = []
            groups.append(described)
        return {"ContainerGroups": groups, "NextToken": next_token, "TotalCount": len(matches)}

    def _GetAuthorizationToken(self, params: dict[str, str]) -> dict[str, Any]:
        instance = _required(params, "InstanceId")
        # ACR's GetAuthorizationToken (cr 2018-12-01 API reference): an instance that does not exist is
        # INSTANCE_NOT_EXIST (ACR's error codes).
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
        # Image.N and ImageCacheName: "This parameter is required" (CreateImageCacheRequest,
        # alibabacloud-eci20180808).
        images = body.get("Image")
        if not isinstance(images, list) or not images:
            raise ApiError(400, "MissingParameter.Image", "Image.N is required")
        # SecurityGroupId and VSwitchId: the CreateImageCache API reference marked them required; the SDK
        # model (2.1.0) no longer does (the default security group and vSwitch are then used). The fake
        # keeps refusing their absence, the stricter reading (docs/fake.md, the CreateImageCache row).
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
                "CreationTime": now(),
                "Events": [],
                "_ready_at": self.clock() + self.cache_seconds,
                "_final": "Failed" if broken else "Ready",
            }
            if broken:
                self.image_caches[cache_id]["Events"].append(
                    event(cache_id, "Warning", "Failed", f'Failed to pull image "{broken[0]}"')
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
        if group.started:  # the running containers stop: what ran becomes PreviousState
            group.previous_started, group.previous_finished = group.started, now()
        group.started = ""
        group.status = status
        broken = [i for i in group.images() if self.faults.image_broken(i)]
        # Like ECI: with RestartPolicy Always the pull is retried (back-off) and the group never gets
        # Ready; with Never / OnFailure it fails.
        gives_up = group.spec.get("RestartPolicy") in ("Never", "OnFailure")
        group.next_status = ("Failed" if gives_up else "Pending") if broken else "Running"
        changed_in_place = status in ("Updating", "Restarting")
        if changed_in_place and self.never_policy_fails and group.spec.get("RestartPolicy") == "Never":
            group.next_status = "Failed"
        group.transition_at = self.clock() + seconds
        group.record("Normal", reason, f"{reason} container group {group.id}")
        if broken:
            group.record("Warning", "Failed", f'Failed to pull image "{broken[0]}": not found')
        if seconds <= 0:
            self._advance(group)

    def _advance(self, group: Group) -> None:
        if group.next_status and self.clock() >= group.transition_at:
            group.status, group.next_status = group.next_status, None
            if group.status == "Pending":
                group.record("Warning", "BackOff", "Back-off pulling image")
            if group.status == "Running":
                group.started = now()
                group.record("Normal", "Started", "Started container group")
            if group.status == "Failed":
                group.failed = now()

    def _existing(self, params: Mapping[str, Any]) -> Group:
        gid = _required(params, "ContainerGroupId")
        _required(params, "RegionId")
        group = self.groups.get(gid)
        # A group that does not exist in that region: InvalidContainerGroup.NotFound, 404 (ECI's error codes).
        if group is None or group.region != params["RegionId"]:
            raise ApiError(
                404, "InvalidContainerGroup.NotFound", f"The specified container group {gid} does not exist."
            )
        self._advance(group)
        return group

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-fake{next(self._ids):016x}"


def _check_update(group: Group, body: Mapping[str, Any]) -> None:
    """Every refusal an UpdateContainerGroup can meet, before anything changes."""
    if group.status not in MUTABLE:
        raise incorrect_status(group.status)
    incremental = body.get("UpdateType") == "IncrementalUpdate"
    for section in ("Container", "InitContainer"):
        names = {c["Name"] for c in group.spec.get(section) or []}
        for change in body.get(section) or []:
            name = change.get("Name") if isinstance(change, dict) else None
            if not name:
                raise ApiError(400, "InvalidParameter.Container", f"{section}.N.Name is required")
            if incremental and name not in names:
                raise ApiError(400, "InvalidParameter.Container", f"container {name} does not exist")
    if "Tag" in body:
        _check_tags(body["Tag"], max_key=REQUEST_KEY)


def replaced_tags(have: list[dict[str, Any]], sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """UpdateContainerGroup's Tag.N: the list sent replaces the group's tags, its system tags
    (`acs:` / `aliyun`, which no request can set or remove) kept. No public document says whether it
    replaces or merges; replacing is the more likely reading (the SDK's UpdateType: a list parameter
    is given in full; terraform-provider-alicloud resends a group's whole tag map on a change), and
    the product's requests read the same either way (docs/fake.md, "What the fake models")."""
    system = [t for t in have if str(t.get("Key", "")).lower().startswith(("acs:", "aliyun"))]
    return system + [dict(t) for t in sent]


def _spec(described: Mapping[str, Any], *, init: bool) -> dict[str, Any]:
    return container_spec(ObservedContainer.model_validate(described), init=init)


def _page_token(offset: int) -> str:
    # Opaque like the API's tokens; the checksum lets a garbage or truncated token be refused.
    raw = f"{offset}"
    return f"{raw}.{zlib.crc32(raw.encode()) & 0xFFFF:04x}"


def _page_start(token: str | None, total: int) -> int:
    if not token:
        return 0
    offset = token.partition(".")[0]
    if not offset.isdigit() or _page_token(int(offset)) != token or int(offset) > total:
        raise invalid_parameter(f"The specified parameter NextToken is not valid: {token!r}")
    return int(offset)
