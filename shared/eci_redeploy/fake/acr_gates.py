"""What the gates need from the fake: ECI's TagResources / UntagResources (held changes live in the
groups' tags) and ACR Enterprise Edition's scan and signature calls (API 2018-12-01, as
`alibabacloud-cr20181201` sends them), with results a test sets, plus the ScanCompleted /
SigningCompleted events ACR would publish through EventBridge.

Hooked into `FakeEci.handle`'s action dispatch (`handler_for`); state lives on the backend object.
Response shapes follow the SDK's models: GetRepositoryResponseBody (RepoId, ...),
GetRepoTagScanStatusResponseBody (Status: SCANNING | COMPLETE | FAILED | RETRYING, ScanService),
GetRepoTagScanSummaryResponseBody (HighSeverity, MediumSeverity, LowSeverity, UnknownSeverity,
TotalSeverity), ListEventCenterRecordResponseBody (Records[]: EventType, Tag, CreateTime, ...).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from ..clients.eci_wire import unflatten
from .exceptions import ApiError, check_tags, required
from .group import Group


class FakeEci(Protocol):
    """What the gates' calls need of the fake's backend (models.FakeEci, which dispatches to `handler_for`;
    acr_gates does not import models, so that models can)."""

    groups: dict[str, Group]


ACR_ACTIONS = frozenset({"GetRepository", "GetRepoTagScanStatus", "GetRepoTagScanSummary", "ListEventCenterRecord"})
ECI_ACTIONS = frozenset({"TagResources", "UntagResources"})
SEVERITIES = ("Critical", "High", "Medium", "Low", "Unknown")


@dataclass
class Scan:
    status: str = "COMPLETE"
    counts: dict[str, int] = field(default_factory=dict)  # "High" -> 2, ...


@dataclass
class AcrGates:
    repos: dict[tuple[str, str], str] = field(default_factory=dict)  # (instance, ns/name) -> RepoId
    scans: dict[tuple[str, str, str], Scan] = field(default_factory=dict)  # (instance, RepoId, tag or digest)
    signing: list[dict[str, Any]] = field(default_factory=list)  # event-center records

    def repo_id(self, instance: str, repository: str) -> str:
        key = (instance, repository.lower())
        if key not in self.repos:
            self.repos[key] = "crr-" + hashlib.sha256(f"{instance}/{repository}".encode()).hexdigest()[:16]
        return self.repos[key]

    # ---- what a test sets ----

    def set_scan(
        self,
        instance: str,
        repository: str,
        tag: str,
        digest: str | None = None,
        *,
        status: str = "COMPLETE",
        **counts: int,
    ) -> None:
        """`counts` by severity name: high=2, medium=1, ... (missing: 0)."""
        repo = self.repo_id(instance, repository)
        scan = Scan(status, {k.capitalize(): v for k, v in counts.items()})
        self.scans[(instance, repo, tag)] = scan
        if digest:
            self.scans[(instance, repo, digest.removeprefix("sha256:"))] = scan

    def sign(self, instance: str, repository: str, tag: str, at_ms: int | None = None) -> None:
        namespace, _, name = repository.partition("/")
        self.signing.append(
            {
                "RecordId": str(uuid.uuid4()),
                "InstanceId": instance,
                "EventType": "cr:Artifact:SigningCompleted",
                "Namespace": namespace,
                "RepoName": name,
                "Tag": tag,
                "EventChannel": "EVENT_BRIDGE",
                "CreateTime": at_ms if at_ms is not None else int(time.time() * 1000),
                "UpdateTime": at_ms if at_ms is not None else int(time.time() * 1000),
            }
        )


def state(backend: FakeEci) -> AcrGates:
    gates = backend.__dict__.get("acr_gates")
    if gates is None:
        gates = backend.__dict__["acr_gates"] = AcrGates()
    return gates  # type: ignore[no-any-return]


def handler_for(backend: FakeEci, action: str) -> Callable[[dict[str, str]], dict[str, Any]] | None:
    fn = _HANDLERS.get(action)
    return (lambda params: fn(backend, params)) if fn else None


# ---- ECI: tags of container groups ----


def _resources(backend: FakeEci, body: dict[str, Any]) -> list[Any]:
    required(body, "RegionId")
    if str(body.get("ResourceType", "")).lower() != "containergroup":
        raise ApiError(400, "InvalidParameter.ResourceType", "ResourceType must be ContainerGroup")
    ids = body.get("ResourceId") or []
    if not ids or len(ids) > 50:
        raise ApiError(400, "InvalidParameter.ResourceId", "give 1 to 50 ResourceId")
    groups = []
    for gid in ids:
        group = backend.groups.get(gid)
        if group is None or group.region != body["RegionId"]:
            raise ApiError(404, "InvalidResourceId.NotFound", f"container group {gid} does not exist")
        groups.append(group)
    return groups


def _tag_resources(backend: FakeEci, params: dict[str, str]) -> dict[str, Any]:
    body = unflatten(params)
    new = body.get("Tag") or []
    if not new:
        raise ApiError(400, "MissingParameter.Tag", "The input parameter Tag is not supplied.")
    groups = _resources(backend, body)
    # What is sent: keys up to 128 characters on TagResources (its API reference,
    # https://www.alibabacloud.com/help/en/eci/developer-reference/api-eci-2018-08-08-tagresources);
    # the tags a group has already (system tags too) are not checked again.
    check_tags(new)
    for group in groups:  # validate every group first: all or nothing, like the API
        merged = {t.get("Key"): t.get("Value", "") for t in group.spec.get("Tag") or []}
        merged.update({t.get("Key"): t.get("Value", "") for t in new})
        # ECI's 20 tags are the user's: system tags (acs: / aliyun, set by Alibaba Cloud) are not counted
        check_tags([{"Key": k, "Value": v} for k, v in merged.items() if not _system(k)])
    for group in groups:
        merged = {t.get("Key"): t.get("Value", "") for t in group.spec.get("Tag") or []}
        merged.update({t.get("Key"): t.get("Value", "") for t in new})
        group.spec["Tag"] = [{"Key": k, "Value": v} for k, v in merged.items()]
    return {}


def _system(key: str) -> bool:
    return str(key).lower().startswith(("acs:", "aliyun"))


def _untag_resources(backend: FakeEci, params: dict[str, str]) -> dict[str, Any]:
    body = unflatten(params)
    keys = set(body.get("TagKey") or [])
    every = str(body.get("All", "")).lower() == "true"
    for group in _resources(backend, body):
        group.spec["Tag"] = [t for t in group.spec.get("Tag") or [] if not every and t.get("Key") not in keys]
    return {}


# ---- ACR EE ----


def _repository(backend: FakeEci, params: dict[str, str]) -> dict[str, Any]:
    gates = state(backend)
    instance = required(params, "InstanceId")
    namespace, name = params.get("RepoNamespaceName"), params.get("RepoName")
    if not namespace or not name:
        raise ApiError(400, "MissingParameter", "RepoNamespaceName and RepoName are required")
    repo_id = gates.repos.get((instance, f"{namespace}/{name}".lower()))
    if repo_id is None:
        return {"IsSuccess": False, "Code": "REPO_NOT_EXIST"}
    return {
        "IsSuccess": True,
        "Code": "success",
        "InstanceId": instance,
        "RepoId": repo_id,
        "RepoNamespaceName": namespace,
        "RepoName": name,
        "RepoStatus": "NORMAL",
        "RepoType": "PRIVATE",
    }


def _scan(backend: FakeEci, params: dict[str, str]) -> Scan | None:
    gates = state(backend)
    instance, repo = required(params, "InstanceId"), required(params, "RepoId")
    digest = (params.get("Digest") or "").removeprefix("sha256:")
    tag = required(params, "Tag")
    if digest:  # a digest names the content: a result for another digest of the same tag is not it
        return gates.scans.get((instance, repo, digest))
    return gates.scans.get((instance, repo, tag))


def _scan_status(backend: FakeEci, params: dict[str, str]) -> dict[str, Any]:
    scan = _scan(backend, params)
    if scan is None:
        return {"IsSuccess": False, "Code": "SCAN_TASK_NOT_EXIST"}
    return {"IsSuccess": True, "Code": "success", "Status": scan.status, "ScanService": "ACR_SCAN_SERVICE"}


def _scan_summary(backend: FakeEci, params: dict[str, str]) -> dict[str, Any]:
    scan = _scan(backend, params)
    if scan is None or scan.status != "COMPLETE":
        return {"IsSuccess": False, "Code": "SCAN_NOT_COMPLETE"}
    counts = {f"{s}Severity": scan.counts.get(s, 0) for s in SEVERITIES if s != "Critical"}
    # The summary has no critical column (API reference, SDK model), and where ACR counts a finding of
    # a severity outside its four columns is not published: the fake counts a test's `critical=` in
    # TotalSeverity only, the case a reader must not take for "no findings".
    return {"IsSuccess": True, "Code": "success", **counts, "TotalSeverity": sum(scan.counts.values())}


def _event_records(backend: FakeEci, params: dict[str, str]) -> dict[str, Any]:
    gates = state(backend)
    instance = required(params, "InstanceId")
    kind = params.get("EventType")
    namespace, name = params.get("RepoNamespaceName"), params.get("RepoName")
    records = [
        r
        for r in gates.signing
        if r["InstanceId"] == instance
        and (not kind or r["EventType"] == kind)
        and (not namespace or r["Namespace"] == namespace)
        and (not name or r["RepoName"] == name)
    ]
    page, size = int(params.get("PageNo") or 1), int(params.get("PageSize") or 30)
    chunk = records[(page - 1) * size : page * size]
    return {
        "IsSuccess": True,
        "Code": "success",
        "Records": chunk,
        "TotalCount": len(records),
        "PageNo": page,
        "PageSize": size,
    }


_HANDLERS: dict[str, Callable[[FakeEci, dict[str, str]], dict[str, Any]]] = {
    "TagResources": _tag_resources,
    "UntagResources": _untag_resources,
    "GetRepository": _repository,
    "GetRepoTagScanStatus": _scan_status,
    "GetRepoTagScanSummary": _scan_summary,
    "ListEventCenterRecord": _event_records,
}


# ---- the events ACR publishes through EventBridge ----


def artifact_event(
    kind: str,
    instance: str,
    repository: str,
    tag: str,
    digest: str | None,
    *,
    region: str = "cn-hangzhou",
    instance_name: str = "acme",
    when: datetime | None = None,
    event_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    """A `cr:Artifact:<kind>` CloudEvent in the envelope EventBridge delivers (as events/ samples)."""
    when = when or datetime.now(timezone.utc)
    namespace, _, name = repository.partition("/")
    return {
        "id": event_id or str(uuid.uuid4()),
        "source": "acs.cr",
        "specversion": "1.0",
        "type": f"cr:Artifact:{kind}",
        "subject": f"acs.cr:{region}:1234567890123456:{instance}/{repository}",
        "time": when.isoformat(),
        "datacontenttype": "application/json;charset=utf-8",
        "aliyunaccountid": "1234567890123456",
        "aliyunregionid": region,
        "aliyunpublishtime": when.isoformat(),
        "aliyuneventbusname": "default",
        "data": {
            "InstanceId": instance,
            "InstanceName": instance_name,
            "RegionId": region,
            "RepoNamespaceName": namespace,
            "RepoName": name,
            "RepoId": "crr-" + hashlib.sha256(f"{instance}/{repository}".encode()).hexdigest()[:16],
            "Tag": tag,
            **({"Digest": digest} if digest else {}),
            **data,
        },
    }
