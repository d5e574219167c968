"""Each gate on the wire (real ECI and ACR SDKs -> HTTP -> the fake): held, released by its event,
released by the timer, refused, superseded by a newer push while held, duplicate release events;
and one rule with all five. Time is the stage's clock; nothing sleeps."""

from __future__ import annotations

import json

import pytest

from eci_redeploy.execution.executor import executor_for
from eci_redeploy.functions.gate_endpoints import on_gate_events
from eci_redeploy.gates import store
from gates_stage import INSTANCE, REPO, T0, Stage, digest, image

OLD = "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com/team/web:1.0.0"


@pytest.fixture
def stage(make_rules):
    made: list[Stage] = []

    def build(gates, **kw):
        s = Stage(make_rules, gates, **kw)
        made.append(s)
        return s

    yield build
    for s in made:
        s.close()


def held_ids(s):
    return [h["id"] for h in s.status()["held"]]


# ---- scan ----


def test_scan_holds_until_the_scan_completed_event_and_a_duplicate_changes_nothing(stage):
    s = stage({"scan": {"max_severity": "medium"}})
    report = s.push("1.1.0", 1)
    assert not s.updates() and set(s.images().values()) == {OLD}
    assert [k.reason.split(" ")[0] for k in report.plan.skipped] == ["held", "held"]
    assert s.tags()[store.HELD] == digest(1) and s.tags()[store.HELD_RULE] == "web-prod"
    [held] = s.status()["held"]
    assert held["waiting_on"][0]["gate"] == "scan" and held["groups"] == ["eci-0", "eci-1"]
    assert held["since"] == T0.isoformat() and held["id"] == store.approval_id("web-prod", digest(1), store.to_ms(T0))
    assert s.hooks.outcomes() == ["held"]

    s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1), medium=3, low=7)
    s.later(minutes=4)
    result = s.event("ScanCompleted", "1.1.0", 1)
    assert result["ok"] and set(s.images().values()) == {image(1)}
    assert len(s.updates()) == 2 and not s.tags().get(store.HELD)  # written empty: no hold either way
    assert s.status()["held"] == []
    assert s.hooks.outcomes() == ["held", "deployed"]

    again = s.event("ScanCompleted", "1.1.0", 1)  # EventBridge delivers at least once
    assert again["released"] == [] and len(s.updates()) == 2


def test_scan_released_by_the_timer_through_the_acr_api(stage):
    s = stage({"scan": {"max_severity": "high"}})
    s.push("1.1.0", 1)
    s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1), status="SCANNING")
    before = len(s.backend.calls)
    s.later(minutes=5).tick()
    assert not s.updates() and held_ids(s)
    asked = [c.action for c in s.backend.calls[before:] if c.action.startswith("GetRepoTagScan")]
    assert asked == ["GetRepoTagScanStatus"]  # once for the push, not once per group
    s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1), high=2)
    s.later(minutes=5).tick()
    assert set(s.images().values()) == {image(1)} and len(s.updates()) == 2
    s.later(minutes=5).tick()
    assert len(s.updates()) == 2  # a converged tick changes nothing
    calls = [c.action for c in s.backend.calls]
    assert "GetRepoTagScanSummary" in calls and "GetRepository" in calls


def test_scan_above_the_threshold_is_refused_reported_with_counts_and_stays_refused(stage):
    s = stage({"scan": {"max_severity": "medium"}})
    s.push("1.1.0", 1)
    s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1), critical=1, high=2, medium=1)
    s.event("ScanCompleted", "1.1.0", 1)
    assert not s.updates() and set(s.images().values()) == {OLD}
    [refused] = s.status()["refused"]
    assert refused["state"] == "refused" and refused["version"] == digest(1)
    message = s.hooks.bodies[-1]
    assert message["outcome"] == "refused"
    # The summary has no critical column: the finding only TotalSeverity counts is reported at the top.
    assert "critical 1, high 2, medium 1" in message["detail"]
    s.later(minutes=5).tick()
    s.push("1.1.0", 1)  # the same push again: still refused, not re-announced
    assert not s.updates() and s.hooks.outcomes().count("refused") == 1


def test_counts_in_a_scan_event_short_of_the_summarys_four_are_not_a_result(stage):
    """No ScanCompleted body is published: an event saying "high 0" and nothing else is not taken for
    a clean scan; the API is asked, and its summary (high 2) refuses the change."""
    s = stage({"scan": {"max_severity": "medium"}})
    s.push("1.1.0", 1)
    s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1), high=2)
    s.event("ScanCompleted", "1.1.0", 1, ScanStatus="COMPLETE", HighSeverity=0)
    assert not s.updates() and [r["version"] for r in s.status()["refused"]] == [digest(1)]
    assert "GetRepoTagScanSummary" in [c.action for c in s.backend.calls]


def test_scan_failed_keeps_the_change_held(stage):
    s = stage({"scan": {"max_severity": "medium"}})
    s.push("1.1.0", 1)
    s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1), status="FAILED")
    s.event("ScanCompleted", "1.1.0", 1)
    [held] = s.status()["held"]
    assert held["waiting_on"][0]["gate"] == "scan" and not s.updates()


def test_a_newer_push_replaces_a_held_one_and_the_old_release_event_changes_nothing(stage):
    s = stage({"scan": {"max_severity": "medium"}})
    s.push("1.1.0", 1)
    s.later(minutes=1).push("1.2.0", 2)
    assert s.tags()[store.HELD] == digest(2)
    assert [h["version"] for h in s.status()["held"]] == [digest(2)]
    s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1))
    s.event("ScanCompleted", "1.1.0", 1)
    assert not s.updates()
    s.acr.set_scan(INSTANCE, REPO, "1.2.0", digest(2))
    s.event("ScanCompleted", "1.2.0", 2)
    assert set(s.images().values()) == {image(2)}
    assert "superseded" not in s.hooks.outcomes()  # superseded goes to the audit trail, not the chat


def test_an_older_push_arriving_late_does_not_replace_the_held_one(stage):
    s = stage({"scan": {"max_severity": "medium"}})
    s.push("1.2.0", 2)
    report = s.push("1.1.0", 1, at=T0.replace(hour=11))  # pushed earlier, delivered later
    assert s.tags()[store.HELD] == digest(2)
    assert any("older than the held change" in k.reason for k in report.plan.skipped)


# ---- signed ----


def test_signed_holds_until_signing_completed_and_a_duplicate_changes_nothing(stage):
    s = stage({"signed": True})
    s.push("1.1.0", 1)
    assert held_ids(s) and not s.updates()
    failed = s.event("SigningCompleted", "1.1.0", 1, SigningStatus="FAILED")
    assert failed["released"] == [] or not s.updates()
    assert not s.updates()
    s.event("SigningCompleted", "1.1.0", 1, SigningStatus="SUCCESS")
    assert set(s.images().values()) == {image(1)} and len(s.updates()) == 2
    s.event("SigningCompleted", "1.1.0", 1, SigningStatus="SUCCESS")
    assert len(s.updates()) == 2


def test_signing_records_and_result_less_signing_events_do_not_release_a_signed_gate(stage):
    """SigningCompleted means "signing succeeds or fails" (ACR docs) and its ListEventCenterRecord record
    has no result field: neither the record (timer) nor an event without a success status is a
    signature. Both once released the change; a failed signing looks exactly like that."""
    s = stage({"signed": True})
    s.push("1.1.0", 1)
    s.acr.sign(INSTANCE, REPO, "1.1.0", at_ms=int(T0.timestamp() * 1000) + 60_000)  # newer than the push
    s.later(minutes=5).tick()
    s.event("SigningCompleted", "1.1.0", 1)  # the published data family, no result
    assert not s.updates() and held_ids(s)
    assert "ListEventCenterRecord" not in [c.action for c in s.backend.calls]
    s.event("SigningCompleted", "1.1.0", 1, SigningStatus="SUCCESS")
    assert set(s.images().values()) == {image(1)}


def test_signed_superseded_while_held(stage):
    s = stage({"signed": True})
    s.push("1.1.0", 1)
    s.later(minutes=1).push("1.2.0", 2)
    s.event("SigningCompleted", "1.1.0", 1, SigningStatus="SUCCESS")
    assert not s.updates()
    s.event("SigningCompleted", "1.2.0", 2, SigningStatus="SUCCESS")
    assert set(s.images().values()) == {image(2)}


# ---- window ----

WINDOW = {"window": {"days": ["mon"], "hours": "02:00-05:00", "timezone": "Asia/Shanghai"}}


def test_window_holds_outside_and_the_timer_deploys_when_it_opens(stage):
    s = stage(WINDOW)
    s.push("1.1.0", 1)
    [held] = s.status()["held"]
    assert held["waiting_on"] == [
        {
            "gate": "window",
            "releases_by": "the window mon 02:00-05:00 Asia/Shanghai opens at 2026-11-29T18:00:00+00:00",
            "at": "2026-11-29T18:00:00+00:00",
        }
    ]
    s.at(T0.replace(hour=17, minute=55)).tick()
    assert not s.updates()
    s.at(T0.replace(hour=18, minute=0)).tick()
    assert set(s.images().values()) == {image(1)} and len(s.updates()) == 2
    s.at(T0.replace(hour=18, minute=5)).tick()
    assert len(s.updates()) == 2  # a second tick in the window: nothing held, nothing sent


def test_window_push_inside_goes_at_once(stage):
    s = stage(WINDOW).at(T0.replace(hour=19))
    s.push("1.1.0", 1)
    assert set(s.images().values()) == {image(1)}
    assert store.HELD not in s.tags()


def test_window_superseded_while_held(stage):
    s = stage(WINDOW)
    s.push("1.1.0", 1)
    s.later(minutes=30).push("1.2.0", 2)
    s.at(T0.replace(hour=18, minute=1)).tick()
    assert set(s.images().values()) == {image(2)}
    assert [c.params.get("Container.1.Image") for c in s.updates()] == [image(2), image(2)]


# ---- soak ----


def test_soak_waits_until_the_image_is_old_enough(stage):
    s = stage({"soak": "15m"})
    s.push("1.1.0", 1)
    [held] = s.status()["held"]
    assert held["waiting_on"][0]["at"] == "2026-11-29T12:15:00+00:00"
    s.later(minutes=10).tick()
    assert not s.updates()
    s.later(minutes=5).tick()
    assert set(s.images().values()) == {image(1)}
    s.later(minutes=5).tick()
    assert len(s.updates()) == 2


def test_soak_a_newer_push_during_the_soak_replaces_it_and_starts_its_own(stage):
    s = stage({"soak": "15m"})
    s.push("1.1.0", 1)
    s.later(minutes=10).push("1.2.0", 2)
    s.later(minutes=6).tick()  # 16 min after the first push, 6 after the second
    assert not s.updates()
    s.later(minutes=10).tick()
    assert set(s.images().values()) == {image(2)} and len(s.updates()) == 2


def test_soak_counts_from_when_the_product_first_saw_the_change_not_the_push_time(stage):
    # Issue 23 item 2 (this test asserted the opposite before): the payload's date is not evidence of age.
    s = stage({"soak": "15m"})
    s.push("1.1.0", 1, at=T0.replace(hour=11))  # dated an hour before it arrived
    assert not s.updates()
    s.later(minutes=14).tick()
    assert not s.updates()
    s.later(minutes=1).tick()
    assert set(s.images().values()) == {image(1)}


# ---- one rule with all five ----


ALL = {
    "scan": {"max_severity": "medium"},
    "signed": True,
    "window": {"days": ["mon"], "hours": "02:00-05:00", "timezone": "Asia/Shanghai"},
    "soak": "15m",
    "approval": {"approvers_env": "APPROVERS", "expires": "24h"},
}


def test_a_rule_with_all_five_gates_goes_once_every_gate_passed(stage):
    s = stage(ALL)
    s.push("1.1.0", 1)
    [held] = s.status()["held"]
    assert [w["gate"] for w in held["waiting_on"]] == ["scan", "signed", "soak", "approval", "window"]

    s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1), low=2)
    s.later(minutes=1).event("ScanCompleted", "1.1.0", 1)
    s.later(minutes=1).event("SigningCompleted", "1.1.0", 1, SigningStatus="SUCCESS")
    [held] = s.status()["held"]
    assert held["passed"] == ["scan", "signed"]
    assert [w["gate"] for w in held["waiting_on"]] == ["soak", "approval", "window"]

    s.later(minutes=20).tick()
    assert [w["gate"] for w in s.status()["held"][0]["waiting_on"]] == ["approval", "window"]

    from eci_redeploy.gates.evaluate import Approval
    from eci_redeploy.gates.flow import held_changes

    [change] = held_changes(s.rules, s.gateway)
    approved = change.held.with_(approval=Approval("alice", s.now)).tags()
    for gid in ("eci-0", "eci-1"):
        s.backend.handle(
            "TagResources",
            {
                "RegionId": "cn-hangzhou",
                "ResourceType": "ContainerGroup",
                "ResourceId.1": gid,
                "Tag.1.Key": store.APPROVED,
                "Tag.1.Value": approved[store.APPROVED],
            },
        )
    s.later(minutes=5).tick()
    [held] = s.status()["held"]
    assert [w["gate"] for w in held["waiting_on"]] == ["window"] and held["approved_by"] == "alice"
    assert not s.updates()

    s.at(T0.replace(hour=18, minute=2)).tick()
    assert set(s.images().values()) == {image(1)} and len(s.updates()) == 2
    assert s.status() == {"held": [], "refused": [], "now": s.now.isoformat()}
    assert s.hooks.outcomes() == ["held", "deployed"]


def test_held_changes_survive_a_restart_they_live_in_the_group_tags(stage, make_rules):
    s = stage({"soak": "15m"})
    s.push("1.1.0", 1)
    fresh = Stage.__new__(Stage)  # a new function instance: nothing in memory but the rules
    fresh.__dict__.update(s.__dict__)
    from eci_redeploy.fake.embedded import gateway_for

    fresh.gateway = gateway_for(s.server)
    fresh.later(minutes=16).tick()
    assert set(s.images().values()) == {image(1)}


def test_the_held_notification_carries_the_approve_link(stage):
    s = stage({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    s.push("1.1.0", 1)
    [message] = s.hooks.bodies
    hid = store.approval_id("web-prod", digest(1), store.to_ms(s.now))
    assert message["outcome"] == "held" and message["digest"] == digest(1)
    assert f"POST https://fc.example.com/hook/approvals/{hid}" in message["detail"]
    assert "al1ce" not in json.dumps(message)  # approver tokens never leave the function


def test_with_a_single_writer_releases_are_handed_off_with_their_evidence_not_written(stage):
    """When a worker is the only writer (issue 12), the scan event and the timer write nothing: they hand
    the held push over, with the evidence the event brought; the worker records it, and later releases."""
    from eci_redeploy.execution.handoff import WorkOrder
    from eci_redeploy.functions.gate_endpoints import run_order, run_release
    from gates_stage import artifact_event

    s = stage({"scan": {"max_severity": "medium"}, "soak": "15m"})
    s.push("1.1.0", 1)
    s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1), low=1)
    handed: list[WorkOrder] = []

    def hand(events, work):
        handed.append(WorkOrder.for_events(events, gates=work))
        return {"accepted": True}

    writes = len(s.backend.mutating_calls())
    raw = artifact_event(
        "ScanCompleted",
        INSTANCE,
        REPO,
        "1.1.0",
        digest(1),
        when=s.now,
        ScanStatus="COMPLETE",
        HighSeverity=0,
        MediumSeverity=0,
        LowSeverity=1,
        UnknownSeverity=0,  # all four published counts: a partial count is no result (test_acr_published)
    )
    out = on_gate_events([raw], s.rules, s.gateway, s.env, gate_context=s.context(), hand_off=hand)
    [order] = handed
    assert out["ok"] and len(s.backend.mutating_calls()) == writes  # nothing written outside the writer
    [evidence] = order.gates.evidence
    assert (evidence.image, evidence.scan_status, evidence.counts) == (
        digest(1),
        "COMPLETE",
        {"high": 0, "medium": 0, "low": 1, "unknown": 0},
    )
    assert s.status()["held"][0]["passed"] == []
    # The worker: no ACR lookup, the evidence from the order; the soak still holds it.
    run_order(
        order, s.rules, s.gateway, s.env, executor=executor_for(order.dry_run), gate_context=s.context(lookup=False)
    )
    [held] = s.status()["held"]
    assert held["passed"] == ["scan"] and not s.updates()

    s.later(minutes=16)
    handed.clear()
    result = run_release(s.rules, s.gateway, s.env, gate_context=s.context(lookup=False), hand_off=hand)
    [order] = handed
    assert [e.only_rule for e in order.events] == ["web-prod"] and order.events[0].digest == digest(1)
    assert result.to_json()["actions"] and not s.updates()
    # The worker: no ACR lookup, no event, only the tags and the clock.
    run_order(
        order, s.rules, s.gateway, s.env, executor=executor_for(order.dry_run), gate_context=s.context(lookup=False)
    )
    assert set(s.images().values()) == {image(1)} and len(s.updates()) == 2
    assert s.status()["held"] == []
    handed.clear()
    assert run_release(s.rules, s.gateway, s.env, gate_context=s.context(lookup=False), hand_off=hand) is None
    assert handed == []


def test_a_held_tag_too_long_for_the_hold_tag_is_released_as_pushed_not_cut(stage, make_rules):
    """Without digests (`pull.digest: false`) the version is the tag, and that is what deploys. The hold
    keeps the whole version but cuts the tag in `held-info` to fit ECI's 128 characters; the release
    replayed the cut tag, so it deployed (and named in its work order) an image nobody pushed."""
    from gates_stage import HOST, INSTANCE, REPO

    from helpers import rule

    s = stage({"soak": "15m"}, tags={"glob": "*"})
    body = rule(
        "web-prod",
        REPO,
        tags={"glob": "*"},
        pull={"digest": False, "acr": {"instance_id": INSTANCE, "instance_name": "acme", "region": "cn-hangzhou"}},
    )
    body["source"]["registry"] = INSTANCE
    body["gates"] = {"soak": "15m"}
    s.rules = make_rules(body)
    tag = "1.0.0-" + "a" * 100  # a valid tag (at most 128), longer than held-info leaves room for
    s.push(tag, 1)
    assert not s.updates() and s.tags()["eci-redeploy.held"] == f":{tag}"
    s.later(minutes=16).tick()
    assert set(s.images().values()) == {f"{HOST}/{REPO}:{tag}"}
