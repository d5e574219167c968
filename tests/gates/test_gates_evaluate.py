"""The pure parts of the gates: durations, windows across midnight and time zones, scan thresholds,
the order gates are reported in, expiry, the tag encoding of a held change, the approvers variable,
and reading ScanCompleted / SigningCompleted payloads tolerantly.

Expected instants are worked out by hand from the IANA zone rules (Asia/Shanghai is UTC+8 all year,
no DST; Europe/Berlin switches to CEST on 2026-03-29 at 01:00 UTC)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from eci_redeploy.functions.gate_endpoints import approvers, who_approves
from eci_redeploy.gates import store
from eci_redeploy.gates.acr import parse_gate_event, scan_from, signed_from
from eci_redeploy.gates.evaluate import Approval, Change, Evidence, ScanResult, evaluate
from eci_redeploy.rules.gates import Gates, ScanGate, WindowGate, parse_duration

UTC = timezone.utc
T = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # a Sunday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("90s", timedelta(seconds=90)),
        ("1d2h3m4s", timedelta(1, 7384)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "m", "15 m", "1.5h", "-5m", "15min", "h1"])
def test_bad_durations_name_the_text(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (datetime(2026, 11, 29, 17, 59, tzinfo=UTC), False),  # Mon 01:59 Shanghai
        (datetime(2026, 11, 29, 18, 0, tzinfo=UTC), True),  # Mon 02:00
        (datetime(2026, 11, 29, 20, 59, tzinfo=UTC), True),  # Mon 04:59
        (datetime(2026, 11, 29, 21, 0, tzinfo=UTC), False),  # Mon 05:00: the end is exclusive
        (datetime(2026, 11, 30, 18, 30, tzinfo=UTC), False),  # Tue 02:30: not a listed day
    ],
)
def test_window_in_a_time_zone(when, open_):
    window = WindowGate(days=["mon"], hours="02:00-05:00", timezone="Asia/Shanghai")
    assert window.open_at(when) is open_


def test_window_past_midnight_belongs_to_the_day_it_starts():
    window = WindowGate(days=["fri"], hours="22:00-02:00", timezone="UTC")
    assert window.open_at(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # Fri 23:00
    assert window.open_at(datetime(2026, 11, 28, 1, 59, tzinfo=UTC))  # Sat 01:59, Friday's window
    assert not window.open_at(datetime(2026, 11, 28, 23, 0, tzinfo=UTC))  # Sat 23:00
    assert not window.open_at(datetime(2026, 11, 27, 1, 0, tzinfo=UTC))  # Fri 01:00 is Thursday's night


def test_next_open_crosses_days_and_daylight_saving():
    window = WindowGate(days=["mon"], hours="02:00-05:00", timezone="Asia/Shanghai")
    assert window.next_open(T) == datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
    assert window.next_open(datetime(2026, 11, 29, 21, 0, tzinfo=UTC)) == datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    berlin = WindowGate(days=["sun"], hours="03:00-04:00", timezone="Europe/Berlin")
    # Sunday 2026-03-29 03:00 CEST (UTC+2) = 01:00 UTC; a week earlier it was CET (UTC+1) = 02:00 UTC.
    assert berlin.next_open(datetime(2026, 3, 28, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert berlin.next_open(datetime(2026, 3, 21, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 22, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("limit", "counts", "blocking"),
    [
        ("medium", {"high": 1, "medium": 5, "low": 9}, {"high": 1}),
        ("medium", {"medium": 5, "low": 9, "unknown": 2}, {}),
        ("high", {"critical": 1, "high": 3}, {"critical": 1}),
        ("none", {"unknown": 1}, {"unknown": 1}),
        ("low", {"high": 0, "medium": 0, "low": 4}, {}),
        ("unknown", {"low": 1}, {"low": 1}),
    ],
)
def test_scan_thresholds(limit, counts, blocking):
    assert ScanGate(max_severity=limit).blocking(counts) == blocking


def gates(**kw):
    return Gates(**kw)


def test_every_closed_gate_is_listed_in_a_fixed_order():
    g = gates(
        scan={"max_severity": "medium"},
        signed=True,
        soak="15m",
        approval={"approvers_env": "A", "expires": "24h"},
        window={"days": ["mon"], "hours": "02:00-05:00", "timezone": "Asia/Shanghai"},
    )
    d = evaluate(g, Change("r", "sha256:x", T, T), Evidence(), T)
    assert d.verdict == "held" and [w.gate for w in d.waiting] == ["scan", "signed", "soak", "approval", "window"]
    done = Evidence(ScanResult("COMPLETE", {"low": 1}), True, Approval("alice", T))
    d = evaluate(g, Change("r", "sha256:x", T, T), done, T + timedelta(hours=6))  # Sun 18:00 UTC = Mon 02:00
    assert d.verdict == "go" and d.passed == ("scan", "signed")


def test_refusals():
    scan = evaluate(
        gates(scan={"max_severity": "low"}),
        Change("r", "v", T, T),
        Evidence(ScanResult("COMPLETE", {"medium": 2, "low": 1})),
        T,
    )
    assert scan.verdict == "refused" and "medium 2" in scan.reason and scan.counts == {"medium": 2, "low": 1}
    approval = gates(approval={"approvers_env": "A", "expires": "2h"})
    assert evaluate(approval, Change("r", "v", T, T), Evidence(), T + timedelta(hours=1, minutes=59)).verdict == "held"
    late = evaluate(approval, Change("r", "v", T, T), Evidence(), T + timedelta(hours=2))
    assert late.verdict == "refused" and late.reason.startswith("approval expired")
    approved = Evidence(approval=Approval("bob", T + timedelta(hours=1)))
    assert evaluate(approval, Change("r", "v", T, T), approved, T + timedelta(days=3)).verdict == "go"


def test_soak_counts_from_when_the_change_was_first_held_never_from_the_push_time():
    # Issue 23 item 2: a payload's push time is the sender's word; the hold's creation is the product's.
    g = gates(soak="15m")
    assert evaluate(g, Change("r", "v", T - timedelta(days=2000), T), Evidence(), T).verdict == "held"
    assert evaluate(g, Change("r", "v", None, T - timedelta(minutes=14)), Evidence(), T).verdict == "held"
    assert evaluate(g, Change("r", "v", T, T - timedelta(minutes=15)), Evidence(), T).verdict == "go"


def test_newer_by_the_rules_order_else_by_time():
    # The gates ask the one comparator (planning.newer) as every module does.
    from eci_redeploy.planning.newer import Seen, compare

    def newer(a_key, a_time, b_key, b_time):
        verdict = compare(Seen(a_key, store.to_ms(a_time)), Seen(b_key, store.to_ms(b_time)))
        return None if verdict.order == 0 else verdict.newer

    assert newer((1, 2), T, (1, 1), T + timedelta(hours=1)) is True  # a higher version pushed earlier wins
    assert newer(None, T + timedelta(1), None, T) is True
    assert newer(None, T, None, T) is None


def test_a_held_change_round_trips_through_tags_within_ecis_limits():
    held = store.Held(
        "web-prod",
        "sha256:" + "a" * 64,
        "v" * 128,
        "held",
        1764417600000,
        1764417660000,
        ("scan", "signed"),
        Approval("ali ce@corp", datetime(2026, 11, 29, 13, tzinfo=UTC)),
    )
    tags = held.tags()
    assert all(len(v) <= 128 for v in tags.values()) and set(tags) == set(store.KEYS)
    back = store.read(tags)
    assert back is not None and back.version == held.version and back.passed == ("scan", "signed")
    assert back.approval == Approval("ali_ce@corp", datetime(2026, 11, 29, 13, tzinfo=UTC))
    assert back.tag and held.tag.startswith(back.tag)  # cut to fit, never used to deploy
    by_tag = store.Held("r", ":1.2.3", "1.2.3", "refused", None, 1, ())
    assert store.read(by_tag.tags()) == by_tag
    assert store.read({store.HELD: "x", store.HELD_RULE: "r", store.HELD_INFO: "garbage"}) is None


def test_approvers_and_their_tokens():
    allowed = approvers(" alice:a1 , bob:b2,,lonely-token ")
    assert allowed == [("alice", "a1"), ("bob", "b2"), ("approver-4", "lonely-token")]
    assert who_approves("b2", allowed) == "bob"
    assert who_approves("lonely-token", allowed) == "approver-4"
    assert who_approves("nope", allowed) is None and who_approves(None, allowed) is None
    assert approvers(None) == [] and approvers("alice:") == []


def test_event_payloads_are_read_tolerantly_but_pass_only_on_the_apis_published_names():
    four = {"HighSeverity": 1, "MediumSeverity": 0, "LowSeverity": "3", "UnknownSeverity": 0}
    assert scan_from({"ScanStatus": "COMPLETE", **four}) == ScanResult(
        "COMPLETE", {"high": 1, "medium": 0, "low": 3, "unknown": 0}
    )
    assert scan_from({"scanStatus": "success", "ScanResult": {**four, "TotalSeverity": 6}}) == ScanResult(
        "COMPLETE",
        {"high": 1, "medium": 0, "low": 3, "unknown": 0, "critical": 2},  # 2 beyond the columns
    )
    # Less than that is not a result: the API is asked (None), never "no findings".
    assert scan_from({"ScanStatus": "COMPLETE", "HighSeverity": 1, "LowSeverity": "3"}) is None
    assert scan_from(four) is None  # counts without a status
    assert scan_from({"ScanStatus": "QUEUED", **four}) is None  # a status nobody published
    assert scan_from({"scanResult": {"critical": 2, "medium": 0}}) is None  # names the API does not use
    assert scan_from({"ScanStatus": "COMPLETE", **four, "LowSeverity": True}) is None
    assert scan_from({"ScanStatus": "COMPLETE", **four, "TotalSeverity": -1}) is None
    assert scan_from({"ScanStatus": "FAILED"}) == ScanResult("FAILED")
    assert scan_from({"ScanStatus": "COMPLETE"}) is None  # no counts: the API is asked
    assert signed_from({"SigningStatus": "SUCCESS"}) is True and signed_from({"status": "failed"}) is False
    # SigningCompleted means "succeeds or fails": finished is not signed.
    for finished in ("COMPLETE", "COMPLETED", "FINISHED", "TRUE", "DONE"):
        assert signed_from({"SigningStatus": finished}) is None
    assert signed_from({}) is None
    raw = {
        "source": "acs.cr",
        "type": "cr:Artifact:ScanCompleted",
        "id": "1",
        "data": '{"RepoNamespaceName": "Team", "RepoName": "Web", "Tag": "1.0", "Digest": "' + "a" * 64 + '"}',
    }
    event = parse_gate_event(raw)
    assert event is not None and event.repository == "team/web" and event.digest == "sha256:" + "a" * 64
    assert parse_gate_event({"type": "cr:Artifact:ScanCompleted", "data": {"Tag": "x"}}) is None


@pytest.mark.parametrize("count", ["\u00b2", "1\u00b2", "\u0663", "9" * 5000, "\uff11"])
def test_a_count_that_is_not_plain_digits_is_not_known_rather_than_a_crash(count):
    """`str.isdigit` is true for superscripts (int() refuses them: ValueError) and for 5,000 digits
    (int() refuses those too, past Python's limit): a ScanCompleted field like that crashed the push
    function (retried, then dropped) instead of leaving the scan not known."""
    four = {"HighSeverity": 0, "MediumSeverity": 0, "LowSeverity": 0, "UnknownSeverity": 0}
    assert scan_from({"ScanStatus": "COMPLETE", **four, "HighSeverity": count}) is None
    assert scan_from({"ScanStatus": "COMPLETE", **four, "TotalSeverity": count}) is None


@pytest.mark.parametrize("length", [100, 127, 128])
def test_a_tag_version_round_trips_whole_however_long_its_tag(length):
    """Without a digest the version is the tag, and the release deploys the held tag: it must come back
    whole, not as held-info's cut copy (nor, at 128 characters, without the version's ':')."""
    tag = "1" + "a" * (length - 1)
    held = store.Held("web-prod", f":{tag}", tag, "held", 1764417600000, 1764417660000, ("scan",))
    tags = held.tags()
    assert all(len(v) <= 128 for v in tags.values())
    back = store.read(tags)
    assert back is not None and back.version == f":{tag}" and back.tag == tag and back.id == held.id
