"""Evidence from ACR Enterprise Edition: the scan and signing events EventBridge delivers, and the
ACR API (`alibabacloud-cr20181201`) for what an event did not bring (the timer asks).

Events (CloudEvents 1.0, source `acs.cr`): `cr:Artifact:ScanCompleted` ("image scan succeeds or
fails") and `cr:Artifact:SigningCompleted` ("image signing succeeds or fails"), listed with the
other ACR event types in Alibaba Cloud's EventBridge docs ("Container Registry events") and in the
ACR API's EventType values (ListEventCenterRecord). Their `data` carries the family of keys every
ACR artifact event has (InstanceId, InstanceName, RegionId, RepoNamespaceName, RepoName, RepoId,
Tag, Digest). NOT PUBLISHED: any ScanCompleted / SigningCompleted body, so the result keys (scan
status, counts by severity, signing status) are unknown (tests/payloads/SOURCES.md). They are read
case-insensitively and fail closed: a scan event is a result only with an explicit success status and
all four of the summary's published counts; otherwise the API is asked for that digest, as published
(GetRepoTagScanStatus: Status SCANNING | COMPLETE | FAILED | RETRYING; then GetRepoTagScanSummary:
HighSeverity / MediumSeverity / LowSeverity / UnknownSeverity / TotalSeverity, no critical column).
A missing count is "not known", never 0; findings TotalSeverity counts beyond the four columns rank
as critical.

Signatures: cr20181201 has no signature query, and a `ListEventCenterRecord` record of a
SigningCompleted carries no result (SDK model), so the API is not evidence of a signature: only a
SigningCompleted event with an explicit success status opens the `signed` gate (its key is not
published either: `SigningStatus` / `SignStatus` / `Status`, read case-insensitively).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..core.errors import ImageReferenceError
from ..core.hosts import api_host, check_region, instance_id_problem, region_problem
from ..core.imageref import ImageRef, validate_digest, validate_tag
from ..core.log import log_event
from ..rules.model import Rule
from .evaluate import Evidence, ScanResult, Subject

SCAN_TYPE = "cr:Artifact:ScanCompleted"
SIGNING_TYPE = "cr:Artifact:SigningCompleted"
GATE_TYPES = (SCAN_TYPE, SIGNING_TYPE)
ACR_VERSION = "2018-12-01"
# The RAM actions of the ACR calls below, from each API's "Authorization information" (GetRepoTagScanStatus
# -> cr:GetScan, GetRepoTagScanSummary -> cr:GetScanCount); deploy/ram/ grants exactly these (functions/permissions.py).
RAM_ACTIONS = frozenset({"cr:GetRepository", "cr:GetScan", "cr:GetScanCount"})
_SCANNED = {"SUCCESS", "SUCCEEDED", "SUCCEED", "COMPLETE", "COMPLETED", "FINISHED"}
_SIGNED = {"SUCCESS", "SUCCEEDED", "SUCCEED", "SIGNED"}
_FAILED = {"FAILED", "FAIL", "FAILURE", "ERROR", "CANCELED", "CANCELLED", "FALSE"}
# GetRepoTagScanSummary's count fields (API reference and the SDK's GetRepoTagScanSummaryResponseBody).
# There is no critical column; TotalSeverity is the sum of the four in Alibaba's sample (22+81+89+4=196).
SUMMARY_COLUMNS = {
    "high": "HighSeverity",
    "medium": "MediumSeverity",
    "low": "LowSeverity",
    "unknown": "UnknownSeverity",
}
SUMMARY_TOTAL = "TotalSeverity"


@dataclass(frozen=True)
class GateEvent:
    """A ScanCompleted / SigningCompleted event, reduced to what a gate needs."""

    kind: str  # scan | signed
    event_id: str
    repository: str
    tag: str | None
    digest: str | None
    instance_id: str | None
    region: str | None
    evidence: Evidence  # what the event itself says (may be empty: then ask the API)


def is_gate_event(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("source") == "acs.cr" and raw.get("type") in GATE_TYPES


def _lower(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, Mapping):  # results may be nested (ScanResult / Summary): flatten one level
            for kk, vv in v.items():
                out.setdefault(str(kk).lower(), vv)
        out[str(k).lower()] = v
    return out


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):  # ASCII digits only: isdigit() is true for "²", which int() refuses
        text = value.strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
    return value if isinstance(value, int) and value >= 0 else None


def summary_counts(summary: Mapping[str, Any]) -> dict[str, int] | None:
    """Counts by severity from GetRepoTagScanSummary's fields (names matched case-insensitively), or None
    when one of the four columns is missing or not a count: then nothing is known, never "no findings".
    Findings TotalSeverity counts beyond the four columns have no published severity: they are counted
    as critical, the highest, so that they block every threshold but `critical` (fail closed)."""
    d = {str(k).lower(): v for k, v in summary.items()}
    counts: dict[str, int] = {}
    for severity, name in SUMMARY_COLUMNS.items():
        n = _count(d.get(name.lower()))
        if n is None:
            return None
        counts[severity] = n
    if SUMMARY_TOTAL.lower() in d:
        total = _count(d[SUMMARY_TOTAL.lower()])
        if total is None:
            return None
        if total > sum(counts.values()):
            counts["critical"] = total - sum(counts.values())
    return counts


def scan_from(data: Mapping[str, Any]) -> ScanResult | None:
    """What a ScanCompleted event says, when it says enough. No event body is published, so a result is
    taken only as the API spells it: an explicit success status and all four of GetRepoTagScanSummary's
    counts (`summary_counts`). Anything less (a status alone, some counts, counts under other names, an
    unknown status) is None: the API is asked, and until it answers the gate stays closed."""
    d = _lower(data)
    status = str(d.get("scanstatus") or d.get("status") or "").upper()
    if status in _FAILED:
        return ScanResult("FAILED")
    if status not in _SCANNED:
        return None
    counts = summary_counts(d)
    return ScanResult("COMPLETE", counts) if counts is not None else None


def signed_from(data: Mapping[str, Any]) -> bool | None:
    """True only for a status that says the signing succeeded: SigningCompleted is sent when it
    "succeeds or fails", so a status that only says it finished (COMPLETE, FINISHED) is not a signature."""
    d = _lower(data)
    status = str(d.get("signingstatus") or d.get("signstatus") or d.get("status") or "").upper()
    if status in _SIGNED:
        return True
    if status in _FAILED:
        return False
    return None


def parse_gate_event(raw: Mapping[str, Any]) -> GateEvent | None:
    """A scan / signing CloudEvent, or None when it cannot name an image (logged, acknowledged)."""
    data = raw.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    if not isinstance(data, Mapping):
        return None
    d = _lower(data)
    namespace, name = d.get("reponamespacename"), d.get("reponame")
    if not isinstance(namespace, str) or not isinstance(name, str) or not namespace or not name:
        return None
    digest = d.get("digest") if isinstance(d.get("digest"), str) and d.get("digest") else None
    if digest and not digest.startswith("sha256:") and len(digest) == 64:
        digest = "sha256:" + digest  # the ACR API writes digests without the algorithm
    tag = d.get("tag") if isinstance(d.get("tag"), str) and d.get("tag") else None
    try:  # the same grammar as a push: a malformed name matches nothing rather than something wrong
        digest = validate_digest(digest) if digest else None
        tag = validate_tag(tag) if tag else None
        ImageRef.parse(f"example.invalid/{namespace}/{name}".lower())
    except ImageReferenceError:
        return None
    if not digest and not tag:
        return None
    instance, region = d.get("instanceid"), d.get("regionid") or raw.get("aliyunregionid")
    if instance is not None and instance_id_problem(instance):
        return None  # the ACR API would be asked about it: only an id of the documented grammar
    if region is not None and region_problem(region):
        return None  # and in that region's endpoint
    kind = "scan" if raw.get("type") == SCAN_TYPE else "signed"
    evidence = Evidence(scan=scan_from(data)) if kind == "scan" else Evidence(signed=signed_from(data))
    return GateEvent(
        kind,
        str(raw.get("id") or ""),
        f"{namespace}/{name}".lower(),
        tag,
        digest,
        instance,
        region,
        evidence,
    )


class AcrEvidence:
    """Scan results and signatures from the ACR API, signed with the function's role (the same
    credentials as ECI). Every failure is logged and answers "not known": the change stays held."""

    def __init__(self, credentials: Any, endpoint: str | None = None, *, client_factory: Any = None) -> None:
        self._credentials = credentials
        self._endpoint = endpoint
        self._factory = client_factory
        self._clients: dict[str, Any] = {}
        self._repo_ids: dict[tuple[str, str], str | None] = {}

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            check_region(region)  # a subject's region may come from a payload: never a host of its choosing
            if self._factory is not None:
                self._clients[region] = self._factory(region)
            else:
                from alibabacloud_cr20181201.client import Client

                from ..clients.eci import open_api_config, parse_endpoint

                host, protocol = parse_endpoint(self._endpoint, region)
                if not self._endpoint:
                    host = api_host("cr", region)
                self._clients[region] = Client(open_api_config(self._credentials, region, host, protocol))
        return self._clients[region]

    def _call(self, region: str, method: str, request_name: str, **fields: Any) -> dict[str, Any] | None:
        from alibabacloud_cr20181201 import models

        request = getattr(models, request_name)(**fields)
        try:
            response = getattr(self._client(region), method)(request)
        except Exception as exc:  # the SDK's errors: evidence unknown, never a failed deploy
            log_event(
                "gates.acr_failed",
                action=request_name.removesuffix("Request"),
                error=type(exc).__name__,
                code=getattr(exc, "code", None),
            )
            return None
        body = response.body.to_map() if response.body is not None else {}
        if body.get("IsSuccess") is False:
            log_event("gates.acr_failed", action=request_name.removesuffix("Request"), code=body.get("Code"))
            return None
        return body

    def _repo_id(self, subject: Subject) -> str | None:
        assert subject.instance_id and subject.region
        key = (subject.instance_id, subject.repository)
        if key not in self._repo_ids:
            namespace, _, name = subject.repository.partition("/")
            body = self._call(
                subject.region,
                "get_repository",
                "GetRepositoryRequest",
                instance_id=subject.instance_id,
                repo_namespace_name=namespace,
                repo_name=name,
            )
            self._repo_ids[key] = str(body["RepoId"]) if body and body.get("RepoId") else None
        return self._repo_ids[key]

    def scan(self, rule: Rule, subject: Subject) -> ScanResult | None:
        if not subject.instance_id or not subject.region or not subject.tag:
            return None  # only ACR EE scans, and its API names images by tag
        repo_id = self._repo_id(subject)
        if repo_id is None:
            return None
        digest = subject.digest.removeprefix("sha256:") if subject.digest else None
        common = {"instance_id": subject.instance_id, "repo_id": repo_id, "tag": subject.tag, "digest": digest}
        status = self._call(subject.region, "get_repo_tag_scan_status", "GetRepoTagScanStatusRequest", **common)
        if not status:
            return None
        state = str(status.get("Status") or "").upper()  # SCANNING | COMPLETE | FAILED | RETRYING
        if state != "COMPLETE":
            return ScanResult(state or "UNKNOWN")  # not complete: the gate stays closed
        summary = self._call(subject.region, "get_repo_tag_scan_summary", "GetRepoTagScanSummaryRequest", **common)
        if not summary:
            return None
        counts = summary_counts(summary)
        if counts is None:
            log_event("gates.acr_summary_incomplete", fields=sorted(summary))
            return None
        if "critical" in counts:
            log_event("gates.scan_unclassified", findings=counts["critical"], total=summary.get(SUMMARY_TOTAL))
        return ScanResult("COMPLETE", counts)

    def signed(self, rule: Rule, subject: Subject) -> bool | None:
        """Never known from the API: cr20181201 has no signature query, and `ListEventCenterRecord`'s
        records (CreateTime, EventType, Tag, ...: no result field) cannot tell a signing that succeeded
        from one that failed, both being `cr:Artifact:SigningCompleted` ("image signing succeeds or
        fails", ACR docs). Only a SigningCompleted event that says it succeeded opens the gate."""
        return None


def evidence_from_env(env: Mapping[str, str], context: Any = None) -> AcrEvidence | None:
    from ..clients.eci import Credentials
    from ..core.errors import EciRedeployError

    try:
        credentials = Credentials.from_env(env, context)
    except EciRedeployError:
        return None  # no credentials (local runs): evidence from events and tags only
    return AcrEvidence(credentials, env.get("ECI_REDEPLOY_ACR_ENDPOINT"))


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
