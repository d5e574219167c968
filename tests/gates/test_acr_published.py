"""What Alibaba Cloud publishes for the gates' ACR evidence (tests/payloads/SOURCES.md, "ACR Enterprise
Edition: the gates' evidence"), read through the real SDK models and the real entry points:
`AcrEvidence` (the ACR API, cr 2018-12-01) and the timer's release pass, with the published responses
served by a client that answers exactly those bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alibabacloud_cr20181201 import models

from eci_redeploy.gates.acr import AcrEvidence
from eci_redeploy.gates.evaluate import ScanResult, Subject

from helpers import ROOT

API = ROOT / "tests" / "payloads" / "acr-api"


def published(name: str) -> dict[str, Any]:
    return json.loads((API / name).read_text())


# ---- the wire names are the SDK's ----


@pytest.mark.parametrize(
    "name, model",
    [
        ("GetRepoTagScanStatus-doc.json", models.GetRepoTagScanStatusResponseBody),
        ("GetRepoTagScanSummary-doc.json", models.GetRepoTagScanSummaryResponseBody),
        ("GetRepository-doc.json", models.GetRepositoryResponseBody),
        ("ListEventCenterRecord-sdk.json", models.ListEventCenterRecordResponseBody),
    ],
)
def test_each_response_round_trips_through_its_sdk_model(name, model):
    body = published(name)
    assert model().from_map(body).to_map() == body


def test_the_scan_summary_has_no_critical_column():
    """Docs and SDK agree: four severities and a total. A reader must not invent `CriticalSeverity`."""
    every = models.GetRepoTagScanSummaryResponseBody(
        code="", high_severity=0, is_success=True, low_severity=0, medium_severity=0, request_id="",
        total_severity=0, unknown_severity=0,
    ).to_map()  # fmt: skip
    assert set(every) == {
        "Code", "IsSuccess", "RequestId", "HighSeverity", "MediumSeverity", "LowSeverity", "UnknownSeverity",
        "TotalSeverity",
    }  # fmt: skip


def test_an_event_center_record_says_nothing_about_the_result():
    """A `SigningCompleted` is sent when signing "succeeds or fails" (ACR docs); its record has no field
    that tells which. If an SDK release adds one, this fails: then a record may become evidence again."""
    record = models.ListEventCenterRecordResponseBodyRecords(
        create_time=0, event_channel="", event_notify_id="", event_notify_method="", event_type="",
        instance_id="", namespace="", record_id="", repo_name="", rule_id="", rule_name="", tag="", update_time=0,
    ).to_map()  # fmt: skip
    assert set(record) == {
        "CreateTime", "EventChannel", "EventNotifyId", "EventNotifyMethod", "EventType", "InstanceId",
        "Namespace", "RecordId", "RepoName", "RuleId", "RuleName", "Tag", "UpdateTime",
    }  # fmt: skip


# ---- the published responses through AcrEvidence and the timer ----


class PublishedAcr:
    """An ACR client (the SDK's method names and response models) that answers the published bodies,
    `changes` applied on top (a key set to None is left out), and records what it was asked."""

    def __init__(self, **changes: dict[str, Any]) -> None:
        self.changes = changes
        self.asked: list[str] = []

    def _answer(self, action: str, file: str) -> Any:
        self.asked.append(action)
        body = {**published(file), **self.changes.get(action, {})}
        body = {k: v for k, v in body.items() if v is not None}
        response = getattr(models, f"{action}Response")()
        return response.from_map({"headers": {}, "statusCode": 200, "body": body})

    def get_repository(self, request: Any) -> Any:
        return self._answer("GetRepository", "GetRepository-doc.json")

    def get_repo_tag_scan_status(self, request: Any) -> Any:
        return self._answer("GetRepoTagScanStatus", "GetRepoTagScanStatus-doc.json")

    def get_repo_tag_scan_summary(self, request: Any) -> Any:
        return self._answer("GetRepoTagScanSummary", "GetRepoTagScanSummary-doc.json")

    def list_event_center_record(self, request: Any) -> Any:
        return self._answer("ListEventCenterRecord", "ListEventCenterRecord-sdk.json")


SUBJECT = Subject("team/web", "1.1.0", "sha256:" + "1" * 64, "cri-abc123", "cn-hangzhou")


def evidence(client: PublishedAcr) -> AcrEvidence:
    return AcrEvidence(None, client_factory=lambda region: client)


def test_the_published_summary_is_read_field_for_field():
    client = PublishedAcr()
    assert evidence(client).scan(None, SUBJECT) == ScanResult(
        "COMPLETE",
        {"high": 22, "medium": 81, "low": 89, "unknown": 4},  # no made-up "critical: 0"
    )
    assert client.asked == ["GetRepository", "GetRepoTagScanStatus", "GetRepoTagScanSummary"]


@pytest.mark.parametrize("status", ["SCANNING", "FAILED", "RETRYING", "PENDING", "", None])
def test_every_status_but_complete_keeps_the_scan_gate_closed(status):
    client = PublishedAcr(GetRepoTagScanStatus={"Status": status})
    found = evidence(client).scan(None, SUBJECT)
    assert found is not None and not found.complete
    assert found.status == (status or "UNKNOWN")
    assert "GetRepoTagScanSummary" not in client.asked


@pytest.fixture
def stage(make_rules):
    from gates_stage import Stage

    made: list[Any] = []

    def build(gates: dict[str, Any], client: PublishedAcr) -> Any:
        s = Stage(make_rules, gates)
        s.lookup = evidence(client)
        made.append(s)
        return s

    yield build
    for s in made:
        s.close()


def test_the_timer_releases_on_the_published_summary(stage):
    from gates_stage import image

    s = stage({"scan": {"max_severity": "high"}}, PublishedAcr())
    s.push("1.1.0", 1)
    s.later(minutes=5).tick()
    assert set(s.images().values()) == {image(1)}


def test_findings_the_summarys_columns_do_not_classify_are_refused_not_passed(stage):
    from gates_stage import digest

    """TotalSeverity above High + Medium + Low + Unknown: findings of a severity the API has no column
    for. Read as critical: refused under `high` (reading the columns alone would have deployed it)."""
    s = stage({"scan": {"max_severity": "high"}}, PublishedAcr(GetRepoTagScanSummary={"TotalSeverity": 200}))
    s.push("1.1.0", 1)
    s.later(minutes=5).tick()
    assert not s.updates()
    [refused] = s.status()["refused"]
    assert refused["version"] == digest(1)
    assert s.hooks.outcomes() == ["held", "refused"]
    assert (
        "above high: critical 4 (all: critical 4, high 22, medium 81, low 89, unknown 4)"
        in s.hooks.bodies[-1]["detail"]
    )


@pytest.mark.parametrize("missing", ["HighSeverity", "LowSeverity", "UnknownSeverity"])
def test_a_summary_without_one_of_its_columns_keeps_the_change_held(stage, missing):
    s = stage({"scan": {"max_severity": "high"}}, PublishedAcr(GetRepoTagScanSummary={missing: None}))
    s.push("1.1.0", 1)
    s.later(minutes=5).tick()
    assert not s.updates() and s.status()["refused"] == []
    [held] = s.status()["held"]
    assert held["waiting_on"][0]["gate"] == "scan"


def test_the_api_is_not_asked_for_a_signature_it_cannot_give():
    client = PublishedAcr()  # its record: a SigningCompleted of the tag, with no result
    subject = Subject("mychain/ruby-2.4.0", "ruby-2.4.0", None, "cri-gl34plsa****", "cn-hangzhou")
    assert evidence(client).signed(None, subject) is None
    assert client.asked == []
