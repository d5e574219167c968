"""What Alibaba Cloud publishes for the gates' ACR evidence (tests/payloads/SOURCES.md, "ACR Enterprise
Edition: the gates' evidence"), read through the real SDK models and the real entry points:
`AcrEvidence` (the ACR API, cr 2018-12-01) and the timer's release pass, with the published responses
served by a client that answers exactly those bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alibabacloud_cr20181201 import models

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
