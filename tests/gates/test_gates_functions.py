"""The gates through the functions' entry points: the push function receiving ACR's ScanCompleted
(the sample in events/), the webhook function's GET /status and POST /approvals/<id> (approval
released through the worker hand-off, refused when expired), and the `status` / `validate` commands."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml

import gates_world
from eci_redeploy.functions import push_worker as events
from eci_redeploy.functions import runtime as common
from eci_redeploy.functions import webhook
from eci_redeploy.gates import store
from fcfixtures import TOKEN, fc_context
from gates_world import DIGEST, HOST, NEW, OLD, PUSH, held_id

from helpers import EVENTS, ROOT, clean_env, rule

world = gates_world.world  # the fixture: a fake on the wire behind the functions' factories


def test_push_function_holds_then_releases_on_the_sample_scan_completed_event(world):
    w = world({"scan": {"max_severity": "medium"}})
    result = w.push(PUSH)
    assert result["ok"] and not w.updates() and w.images() == {OLD}
    assert all(s["reason"].startswith("held") for s in result["skipped"])
    scan = json.loads((EVENTS / "acr-ee-scan-completed.json").read_text())
    w.acr.set_scan("cri-abc123", "team/web", "1.4.0", DIGEST, medium=1)
    out = w.push(scan)
    assert out["ok"] and w.images() == {NEW} and len(w.updates()) == 2
    assert w.push(scan)["released"] == []  # the duplicate
    assert len(w.updates()) == 2


def test_push_function_sample_signing_completed_releases_a_signed_gate(world):
    w = world({"signed": True})
    w.push(PUSH)
    assert not w.updates()
    out = w.push(json.loads((EVENTS / "acr-ee-signing-completed.json").read_text()))
    assert out["ok"] and w.images() == {NEW}


def test_status_needs_the_webhook_token_and_lists_what_waits(world):
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    w.push(PUSH)
    assert w.http("GET", "/status")["statusCode"] == 401
    reply = w.http("GET", "/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply["statusCode"] == 200
    [held] = json.loads(reply["body"])["held"]
    assert held["id"] == store.approval_id("web-prod", DIGEST, store.to_ms(w.now))  # rule, digest, hold's creation
    assert held["groups"] == ["eci-0", "eci-1"]
    assert held["waiting_on"][0]["gate"] == "approval"
    assert held["since"] == w.now.astimezone(timezone.utc).isoformat()


def test_approval_releases_through_the_worker_and_is_idempotent(world):
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    w.push(PUSH)
    hid = held_id(w)
    assert w.http("POST", f"/approvals/{hid}", headers={"Authorization": "Bearer wrong"})["statusCode"] == 401
    assert store.APPROVED not in {t["Key"] for t in w.backend.group("eci-0").spec["Tag"]}
    assert (
        w.http("POST", "/approvals/web-prod.000000000000", headers={"Authorization": "Bearer b0b-token"})["statusCode"]
        == 404
    )
    w.now += timedelta(hours=2)
    reply = w.http("POST", f"/approvals/{hid}", headers={"Authorization": "Bearer b0b-token"})
    assert reply["statusCode"] == 202, reply
    assert json.loads(reply["body"])["by"] == "bob"
    assert w.images() == {NEW} and len(w.updates()) == 2
    again = w.http("POST", f"/approvals/{hid}", headers={"Authorization": "Bearer al1ce-token"})
    assert again["statusCode"] == 404 and len(w.updates()) == 2


def test_approval_expires_and_the_change_is_refused(world):
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    w.push(PUSH)
    hid = held_id(w)
    w.now += timedelta(hours=25)
    reply = w.http("POST", f"/approvals/{hid}", headers={"Authorization": "Bearer al1ce-token"})
    assert reply["statusCode"] == 410 and "approval expired" in reply["body"]
    from eci_redeploy.functions.gate_endpoints import run_release
    from eci_redeploy.rules.model import load_rules

    run_release(load_rules(w.rules_path), w.gateway, {})
    assert not w.updates() and w.images() == {OLD}
    listed = json.loads(w.http("GET", "/status", headers={"Authorization": f"Bearer {TOKEN}"})["body"])
    assert listed["held"] == [] and [r["id"] for r in listed["refused"]] == [hid]


def test_status_command_reads_held_changes_from_a_state_file(tmp_path):
    import subprocess
    import sys

    rules = tmp_path / "rules.yaml"
    body = rule("web-prod", "team/web")
    body["gates"] = {"soak": "15m"}
    rules.write_text(yaml.safe_dump({"version": 1, "rules": [body]}))
    held = store.Held("web-prod", DIGEST, "1.4.0", "held", 1764209730123, 1764209790000, ())
    groups = [
        {
            "ContainerGroupId": "eci-0",
            "ContainerGroupName": "web-0",
            "RegionId": "cn-hangzhou",
            "Status": "Running",
            "Tags": [{"Key": "app", "Value": "web"}] + [{"Key": k, "Value": v} for k, v in held.tags().items()],
            "Containers": [{"Name": "app", "Image": OLD}],
        }
    ]
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({"ContainerGroups": groups}))
    out = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", "status", "--rules", str(rules), "--state", str(state_file)],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    [listed] = json.loads(out.stdout)["held"]
    assert listed["tag"] == "1.4.0" and listed["groups"] == ["eci-0"] and listed["state"] == "held"


@pytest.mark.parametrize(
    ("gates", "field"),
    [
        ({"scan": {"max_severity": "severe"}}, "gates.scan.max_severity"),
        ({"window": {"hours": "2-5"}}, "gates.window.hours"),
        ({"window": {"timezone": "Mars/Olympus"}}, "gates.window.timezone"),
        ({"window": {"days": ["monday"]}}, "gates.window.days"),
        ({"soak": "15 minutes"}, "gates.soak"),
        ({"approval": {"approvers_env": "APPROVERS", "expires": "0m"}}, "gates.approval.expires"),
        ({"approval": {}}, "gates.approval.approvers_env"),
        # an unknown key is named at its parent, with the closest valid key (main's issue 15 wording)
        ({"sacn": {}}, "gates: unknown key 'sacn' (did you mean 'scan'?)"),
    ],
)
def test_validate_names_the_bad_gate_key(tmp_path, gates, field):
    from eci_redeploy.cli import main

    body = rule("web-prod", "team/web")
    body["gates"] = gates
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "rules": [body]}))
    from eci_redeploy.core.errors import RulesError
    from eci_redeploy.rules.model import load_rules

    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert f"rules[0] (web-prod).{field}" in str(err.value)
    assert main(["validate", str(path)]) == 2


def test_file_wide_gates_apply_unless_a_rule_says_otherwise(make_rules):
    from eci_redeploy.rules.model import parse_rules

    a, b = rule("a", "team/a"), rule("b", "team/b")
    b["gates"] = {}
    rules = parse_rules({"version": 1, "gates": {"soak": "1h"}, "rules": [a, b]}, source="r.yaml")
    assert rules.gates_for(rules.rules[0]).soak == "1h"
    assert rules.gates_for(rules.rules[1]) is None


def test_the_json_schema_knows_the_gate_keys():
    import jsonschema

    schema = json.loads((ROOT / "schema" / "rules.schema.json").read_text())
    for name in ("rules.yaml", "gated-rules.yaml"):
        jsonschema.validate(yaml.safe_load((ROOT / "examples" / name).read_text()), schema)
    from eci_redeploy.rules.model import load_rules

    gated = load_rules(ROOT / "examples" / "gated-rules.yaml")
    assert [bool(gated.gates_for(r)) for r in gated] == [True, True, False]
    body = rule("x", "team/x")
    body["gates"] = {
        "scan": {"max_severity": "medium"},
        "signed": True,
        "soak": "15m",
        "window": {"days": ["mon"], "hours": "02:00-05:00", "timezone": "Asia/Shanghai"},
        "approval": {"approvers_env": "APPROVERS", "expires": "24h"},
    }
    jsonschema.validate({"version": 1, "gates": {"soak": "5m"}, "rules": [body]}, schema)
    body["gates"]["soak_time"] = "5m"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": 1, "rules": [body]}, schema)


def test_webhook_reply_shows_what_the_gates_hold_and_the_worker_records_it(world, monkeypatch):
    from fcfixtures import http_event

    w = world({"soak": "15m"})
    body = json.dumps(
        {
            "push_data": {"digest": DIGEST, "pushed_at": "2026-11-27 10:15:30", "tag": "1.4.0"},
            "repository": {
                "name": "web",
                "namespace": "team",
                "region": "cn-hangzhou",
                "repo_full_name": "team/web",
                "repo_type": "PRIVATE",
            },
        }
    )
    monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "0")  # the registry check has its own tests
    reply = webhook.handle(  # ?preview=1: the reply shows the plan against ECI (off by default)
        http_event(body, query={"token": TOKEN, "preview": "1"}),
        fc_context(),
        default_rules=w.rules_path,
        dispatcher=w.dispatcher,
    )
    answer = json.loads(reply["body"])
    assert reply["statusCode"] == 202 and answer["actions"] == []
    assert {s["reason"].split(" ")[0] for s in answer["skipped"]} == {"held"}
    assert not w.updates() and store.HELD in {t["Key"] for t in w.backend.group("eci-0").spec["Tag"]}


def test_timer_function_releases_a_soaked_change_and_clears_a_stale_hold(world):
    from eci_redeploy.functions.timer import handle_tick

    w = world({"soak": "15m"}, tags={"glob": "1.*"})  # glob: the reconcile itself asks no registry
    w.push(PUSH)
    assert not w.updates()
    # eci-1 meanwhile runs the held digest (say a person deployed it): its hold is stale.
    group = w.backend.groups["eci-1"]
    group.spec["Container"][0]["Image"] = NEW
    group.spec["Tag"] = [t for t in group.spec["Tag"] if t["Key"] != "eci-redeploy.digest"] + [
        {"Key": "eci-redeploy.digest", "Value": DIGEST}
    ]
    w.now += timedelta(minutes=20)
    tick = json.dumps({"triggerTime": "2026-11-27T02:40:00Z", "triggerName": "reconcile", "payload": "reconcile"})
    result = handle_tick(tick.encode(), fc_context("timer"), default_rules=w.rules_path, gateway=w.gateway)
    assert result["ok"], result
    assert [c.params["ContainerGroupId"] for c in w.updates()] == ["eci-0"]
    assert w.images() == {NEW}
    for gid in ("eci-0", "eci-1"):
        # released: no hold key left with a value (written empty: gone whether Tag.N replaces or merges)
        assert not {t["Value"] for t in w.backend.group(gid).spec["Tag"] if t["Key"] == store.HELD} - {""}


def test_an_approval_whose_hand_off_fails_is_not_recorded_and_can_be_given_again(world):
    """The approval is recorded by the single writer: when it cannot be handed over nothing is recorded
    (503), the next tick releases nothing, and approving again goes through."""
    from eci_redeploy.core.errors import EciRedeployError
    from eci_redeploy.functions.gate_endpoints import run_release
    from eci_redeploy.rules.model import load_rules

    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    w.push(PUSH)
    working = w.dispatcher

    class Down:
        def dispatch(self, order, delay=0):
            raise EciRedeployError("FC is unreachable")

    w.dispatcher = Down()
    hid = held_id(w)
    reply = w.http("POST", f"/approvals/{hid}", headers={"Authorization": "Bearer al1ce-token"})
    assert reply["statusCode"] == 503 and "approve again" in reply["body"]
    assert store.APPROVED not in {t["Key"] for t in w.backend.group("eci-0").spec["Tag"]}
    run_release(load_rules(w.rules_path), w.gateway, {})
    assert not w.updates() and w.images() == {OLD}
    w.dispatcher = working
    assert w.http("POST", f"/approvals/{hid}", headers={"Authorization": "Bearer al1ce-token"})["statusCode"] == 202
    assert w.images() == {NEW} and len(w.updates()) == 2


def test_all_five_gates_through_the_functions(world):
    """Push function -> ScanCompleted -> SigningCompleted -> timer (soak) -> approval on the webhook ->
    the window opens: one update per group, at the end only."""
    from eci_redeploy.functions.gate_endpoints import run_release
    from eci_redeploy.rules.model import load_rules

    w = world(
        {
            "scan": {"max_severity": "medium"},
            "signed": True,
            "window": {"days": ["mon", "tue", "wed", "thu"], "hours": "02:00-05:00", "timezone": "Asia/Shanghai"},
            "soak": "15m",
            "approval": {"approvers_env": "APPROVERS", "expires": "24h"},
        }
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def waiting():
        [held] = json.loads(w.http("GET", "/status", headers=auth)["body"])["held"]
        return [g["gate"] for g in held["waiting_on"]]

    def tick():
        run_release(load_rules(w.rules_path), w.gateway, dict(__import__("os").environ))

    w.push(PUSH)  # Friday 10:16 in Shanghai
    assert waiting() == ["scan", "signed", "soak", "approval", "window"]
    w.acr.set_scan("cri-abc123", "team/web", "1.4.0", DIGEST, low=4, unknown=1)
    w.push(json.loads((EVENTS / "acr-ee-scan-completed.json").read_text()))
    w.push(json.loads((EVENTS / "acr-ee-signing-completed.json").read_text()))
    assert waiting() == ["soak", "approval", "window"]
    w.now += timedelta(minutes=20)
    tick()
    assert waiting() == ["approval", "window"]
    reply = w.http("POST", f"/approvals/{held_id(w)}", headers={"Authorization": "Bearer al1ce-token"})
    assert reply["statusCode"] == 202
    assert waiting() == ["window"] and not w.updates()
    w.now = datetime(2026, 11, 29, 18, 0, 30, tzinfo=timezone.utc)  # Monday 02:00:30 in Shanghai
    tick()
    assert w.images() == {NEW} and len(w.updates()) == 2
    assert json.loads(w.http("GET", "/status", headers=auth)["body"])["held"] == []


def test_with_the_single_writer_the_push_function_hands_holds_and_releases_to_the_worker(world, monkeypatch, mocker):
    """As deployed (ECI_REDEPLOY_WORKER_FUNCTION): the push is held by the worker, the ScanCompleted
    event (through the push function's trigger check) hands the release to the worker, which applies
    it; the duplicate event finds nothing held and hands nothing over."""
    w = world({"scan": {"max_severity": "medium"}})
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    orders = []
    run_now = w.dispatcher.work
    w.dispatcher.work = lambda order: (orders.append(order), run_now(order))
    mocker.patch.object(common, "dispatcher_factory", side_effect=lambda *a: w.dispatcher)
    first = w.push(PUSH)
    assert first["accepted"] is True and len(orders) == 1 and not w.updates()
    assert store.HELD in {t["Key"] for t in w.backend.group("eci-0").spec["Tag"]}  # recorded by the worker

    scan = json.loads((EVENTS / "acr-ee-scan-completed.json").read_text())
    w.acr.set_scan("cri-abc123", "team/web", "1.4.0", DIGEST, medium=1)
    out = w.push(scan)
    assert out["ok"] and out["released"]["handed_off"]["accepted"] is True
    assert len(orders) == 2 and [e.only_rule for e in orders[1].events] == ["web-prod"]
    assert w.images() == {NEW} and len(w.updates()) == 2  # applied by the worker
    assert w.push(scan)["released"] == [] and len(orders) == 2 and len(w.updates()) == 2


def test_the_push_functions_trigger_check_lets_scan_and_signing_events_through():
    from eci_redeploy.events.triggers import eventbridge_events

    for name in ("acr-ee-scan-completed.json", "acr-ee-signing-completed.json"):
        raw = (EVENTS / name).read_bytes()
        assert eventbridge_events(raw) == json.loads(raw)


# ---- the gates' writes under overlapping deliveries (one writer: the worker) ----

DIGEST2 = "sha256:" + "5e" * 32
NEW2 = f"{HOST}/team/web@{DIGEST2}"
PUSH2 = {
    **PUSH,
    "id": "9a1c6b1f-0000-4f4e-9d1c-2a7c0d6f1a02",
    "time": "2026-11-27T10:16:30.123+08:00",
    "data": {**PUSH["data"], "Tag": "1.5.0", "Digest": DIGEST2},
}


class Paused:
    """A gateway that stops its caller right after its first describe, until the test lets it go on:
    what a function read is then stale when it acts on it."""

    def __init__(self, inner) -> None:
        import threading

        self.inner, self.described, self.go = inner, threading.Event(), threading.Event()

    def describe(self, *args, **kwargs):
        groups = self.inner.describe(*args, **kwargs)
        if not self.described.is_set():
            self.described.set()
            assert self.go.wait(10), "the test never let the paused call go on"
        return groups

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Writes:
    """A gateway that notes which thread sends each ECI write (a call that is not a Describe/Get/List)."""

    def __init__(self, inner) -> None:
        self.inner, self.threads = inner, []

    def call(self, action, *args, **kwargs):
        import threading

        if not action.startswith(("Describe", "Get", "List")):
            self.threads.append((threading.current_thread().name, action))
        return self.inner.call(action, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _single_writer(w, monkeypatch, mocker, paused_thread: str):
    """The deployed shape: ECI_REDEPLOY_WORKER_FUNCTION set, the worker a single writer (one thread, a
    queue), and the function running in thread `paused_thread` on a gateway that pauses after its describe."""
    import threading

    from eci_redeploy.execution.writer import Writer
    from eci_redeploy.rules.model import load_rules

    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    writer = Writer(w.dispatcher.work, lambda: load_rules(w.rules_path))
    mocker.patch.object(common, "dispatcher_factory", side_effect=lambda *a: writer)
    w.dispatcher = writer
    w.gateway = w.writes = Writes(w.gateway)
    paused = Paused(w.gateway)
    mocker.patch.object(
        common,
        "gateway_factory",
        side_effect=lambda env, ctx: paused if threading.current_thread().name == paused_thread else w.gateway,
    )
    return writer, paused


def _only_the_writer_wrote(w) -> None:
    outside = [(thread, action) for thread, action in w.writes.threads if thread != "eci-redeploy-writer"]
    assert w.writes.threads and not outside, f"ECI writes outside the single writer: {outside}"


def _overlap(name: str, first, paused: Paused, meanwhile) -> None:
    """Run `first` in thread `name` until its describe, `meanwhile` to the end, then let `first` finish."""
    import threading

    thread = threading.Thread(target=first, name=name)
    thread.start()
    assert paused.described.wait(10)
    meanwhile()
    paused.go.set()
    thread.join(20)
    assert not thread.is_alive()


def _tick(w) -> dict:
    from eci_redeploy.functions.timer import handle_tick

    tick = json.dumps({"triggerTime": "2026-11-27T03:40:00Z", "triggerName": "reconcile", "payload": "reconcile"})
    return handle_tick(tick.encode(), fc_context("timer"), default_rules=w.rules_path, gateway=w.gateway)


def _tick_ok(w) -> bool:
    """The tick ran its gates' pass without error. These worlds have no registry: a semver rule's
    reconcile reports the sample ACR EE host unreachable, which the timer answers with ok: false and a
    notification (issue 24); that one problem is expected here, any other is not."""
    out = _tick(w)
    problems = out.get("problems", [])
    expected = [p for p in problems if p["problem"] == "unreachable" and p["host"].startswith("acme-registry.")]
    return "error" not in out and (out["ok"] or (bool(problems) and expected == problems))


def test_an_approval_racing_a_newer_push_does_not_approve_the_newer_one(world, monkeypatch, mocker):
    """Alice approves 1.4.0 while the worker holds 1.5.0, pushed meanwhile: her approval is of 1.4.0
    and must not let 1.5.0 go without anyone approving it (the approval tag names no version, so one
    written outside the writer, after the writer replaced the hold, approved 1.5.0)."""
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}}, tags={"glob": "1.*"})
    writer, paused = _single_writer(w, monkeypatch, mocker, "approval")
    try:
        w.push(PUSH)
        writer.drain()
        hid = held_id(w)
        replies = []

        def approve():
            replies.append(w.http("POST", f"/approvals/{hid}", headers={"Authorization": "Bearer al1ce-token"}))

        def newer_push():
            assert w.push(PUSH2)["accepted"] is True
            writer.drain()

        _overlap("approval", approve, paused, newer_push)
        writer.drain()
        w.now += timedelta(minutes=10)
        assert _tick_ok(w)
        writer.drain()
    finally:
        writer.stop()
    assert not w.updates() and w.images() == {OLD}, f"{w.images()} went out with nobody's approval"
    for gid in ("eci-0", "eci-1"):
        held = store.read({t["Key"]: t["Value"] for t in w.backend.group(gid).spec["Tag"]})
        assert held is not None and held.version == DIGEST2 and held.approval is None
    _only_the_writer_wrote(w)


def test_a_scan_result_racing_a_newer_push_keeps_the_newer_hold(world, monkeypatch, mocker):
    """ScanCompleted for 1.4.0 arrives while the worker holds 1.5.0, pushed meanwhile: 1.4.0's hold
    must stay replaced (the newest push wins). Recorded outside the writer from what it read before,
    the evidence put 1.4.0's hold back over 1.5.0's, and the worker then deployed 1.4.0."""
    w = world({"scan": {"max_severity": "medium"}}, tags={"glob": "1.*"})
    writer, paused = _single_writer(w, monkeypatch, mocker, "scan")
    try:
        w.push(PUSH)
        writer.drain()
        w.acr.set_scan("cri-abc123", "team/web", "1.4.0", DIGEST, medium=1)
        scan = json.loads((EVENTS / "acr-ee-scan-completed.json").read_text())

        def newer_push():
            assert w.push(PUSH2)["accepted"] is True
            writer.drain()

        _overlap("scan", lambda: w.push(scan), paused, newer_push)
        writer.drain()
    finally:
        writer.stop()
    assert not w.updates() and w.images() == {OLD}, "1.4.0 went out after 1.5.0 replaced its hold"
    for gid in ("eci-0", "eci-1"):
        held = store.read({t["Key"]: t["Value"] for t in w.backend.group(gid).spec["Tag"]})
        assert held is not None and held.version == DIGEST2 and held.state == "held"
    _only_the_writer_wrote(w)


def test_the_timers_stale_hold_cleanup_racing_a_newer_push_keeps_the_newer_hold(world, monkeypatch, mocker):
    """eci-1 already runs 1.4.0 (its 1.4.0 hold is stale) when the timer reads the groups; 1.5.0 is
    pushed and held by the worker before the timer acts. Dropped outside the writer, the stale hold's
    keys took 1.5.0's hold off eci-1 with them."""
    w = world({"soak": "15m"}, tags={"glob": "1.*"})
    writer, paused = _single_writer(w, monkeypatch, mocker, "timer")
    try:
        w.push(PUSH)
        writer.drain()
        group = w.backend.groups["eci-1"]
        group.spec["Container"][0]["Image"] = NEW
        group.spec["Tag"] = [t for t in group.spec["Tag"] if t["Key"] != "eci-redeploy.digest"] + [
            {"Key": "eci-redeploy.digest", "Value": DIGEST}
        ]
        ticked = []

        def tick():
            from eci_redeploy.functions.timer import handle_tick

            body = {"triggerTime": "2026-11-27T02:20:00Z", "triggerName": "reconcile", "payload": "reconcile"}
            ticked.append(
                handle_tick(json.dumps(body).encode(), fc_context("timer"), default_rules=w.rules_path, gateway=paused)
            )

        def newer_push():
            assert w.push(PUSH2)["accepted"] is True
            writer.drain()

        _overlap("timer", tick, paused, newer_push)
        writer.drain()
    finally:
        writer.stop()
    assert ticked[0]["ok"] and not w.updates()
    for gid in ("eci-0", "eci-1"):
        held = store.read({t["Key"]: t["Value"] for t in w.backend.group(gid).spec["Tag"]})
        assert held is not None and held.version == DIGEST2, f"{gid} lost 1.5.0's hold"
    _only_the_writer_wrote(w)


def test_a_release_order_whose_hold_is_gone_runs_as_a_push(world):
    """A release order names holds; when none is left (released, replaced, or dropped up front by a
    restart whose rollout the order continues in a later time slice) its held pushes go through the
    pipeline like any push: gated again, here by push time, so the rollout still completes."""
    from eci_redeploy.execution.handoff import GateWork, WorkOrder
    from eci_redeploy.gates.flow import replay_event
    from eci_redeploy.rules.model import load_rules

    w = world({"soak": "15m"})
    w.push(PUSH)
    tags = {t["Key"]: t["Value"] for t in w.backend.group("eci-0").spec["Tag"]}
    held = store.read(tags)
    rule = load_rules(w.rules_path).rule("web-prod")
    for gid in ("eci-0", "eci-1"):
        group = w.backend.groups[gid]
        group.spec["Tag"] = [t for t in group.spec["Tag"] if t["Key"] not in store.KEYS]
    w.now += timedelta(minutes=20)
    order = WorkOrder.for_events([replay_event(rule, held)], gates=GateWork())
    result = events.handle_work(order.model_dump_json().encode(), fc_context("worker"), default_rules=w.rules_path)
    assert result["ok"] and w.images() == {NEW} and len(w.updates()) == 2


def test_an_approval_releases_every_group_of_the_held_change_it_names(world):
    """A group that joined the rule after the push (a scale-out) is held for the same version from a
    later time. The approval reply names it among the approved groups, so the worker must release it
    too: keyed on the group's own `held since`, the approval let the first groups go and left it held
    waiting for an approval nobody is asked for again."""
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    w.push(PUSH)
    w.now += timedelta(minutes=5)
    w.backend.seed(
        [
            {
                "ContainerGroupId": "eci-2",
                "ContainerGroupName": "web-2",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": OLD}],
            }
        ]
    )
    w.push(PUSH)  # redelivered (or the reconcile): eci-2 is held for the same version, 5 minutes later
    later = store.read({t["Key"]: t["Value"] for t in w.backend.group("eci-2").spec["Tag"]})
    first = store.read({t["Key"]: t["Value"] for t in w.backend.group("eci-0").spec["Tag"]})
    assert later is not None and first is not None
    assert later.version == first.version and later.since_ms > first.since_ms
    reply = w.http("POST", f"/approvals/{first.id}", headers={"Authorization": "Bearer al1ce-token"})
    assert reply["statusCode"] == 202 and json.loads(reply["body"])["groups"] == ["eci-0", "eci-1", "eci-2"]
    assert w.images() == {NEW} and len(w.updates()) == 3, "an approved group was left held"


@pytest.mark.parametrize(
    "evidence",
    [
        {"image": DIGEST, "scan_status": "COMPLETE", "counts": {"CRITICAL": 9}},  # a key no gate reads
        {"image": DIGEST, "scan_status": "COMPLETE", "counts": {"Critical": 9, "high": 0}},
        {"image": DIGEST, "scan_status": "COMPLETE", "counts": {}},  # "no findings" nobody published
        {"image": DIGEST, "scan_status": "COMPLETE", "counts": {"critical": 0}},  # a partial count
        {"image": DIGEST, "scan_status": "complete", "counts": {"high": 0, "medium": 0, "low": 0, "unknown": 0}},
        {"image": DIGEST, "scan_status": "DONE", "counts": {"high": 0, "medium": 0, "low": 0, "unknown": 0}},
        {"image": DIGEST, "scan_status": "COMPLETE", "counts": {"high": -1, "medium": 0, "low": 0, "unknown": 0}},
    ],
)
def test_a_release_order_with_evidence_the_gates_cannot_read_is_refused(world, evidence):
    """The worker takes a release order's evidence as it is: counts under a severity no gate reads, or
    fewer than the four the scan summary publishes, passed a scan gate as "no findings" (the fail-closed
    reading of ACR's evidence bypassed by the order). Such an order is refused, nothing deploys."""
    from eci_redeploy.execution.handoff import WorkOrder
    from eci_redeploy.gates.flow import replay_event
    from eci_redeploy.rules.model import load_rules

    w = world({"scan": {"max_severity": "medium"}})
    w.push(PUSH)
    held = store.read({t["Key"]: t["Value"] for t in w.backend.group("eci-0").spec["Tag"]})
    rule = load_rules(w.rules_path).rule("web-prod")
    order = WorkOrder.for_events([replay_event(rule, held)]).model_dump(mode="json")
    order["gates"] = {"evidence": [evidence]}
    result = events.handle_work(json.dumps(order).encode(), fc_context("worker"), default_rules=w.rules_path)
    assert not w.updates() and w.images() == {OLD}, "deployed on evidence no gate can read"
    assert result == {"ok": False, "error": "invalid work order"}


def test_a_rollout_released_by_its_signature_completes_over_later_time_slices(world, monkeypatch, mocker):
    """An update with no room for the tracking tags (ECI's 20) cannot drop a hold with its own tag list,
    nor can a restart: a release drops every group's hold up front. When the worker's time slice ends
    after the first group, the rest continues in a later slice as the same release order; there no hold
    is left and the order ran as a plain push, gated again without what it brought: the other group was
    held anew, waiting for a signature whose one SigningCompleted event was spent (the ACR API cannot
    tell a signature)."""
    w = world({"signed": True})
    for group in w.backend.groups.values():
        group.spec["Tag"] += [{"Key": f"team-{i}", "Value": "x"} for i in range(13)]
    doc = yaml.safe_load(w.rules_path.read_text())
    doc["rules"][0]["rollout"] = {"batch_size": 1, "poll_seconds": 0.01}
    w.rules_path.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_SLICE_SECONDS", "0")
    mocker.patch.object(common, "dispatcher_factory", side_effect=lambda *a: w.dispatcher)
    w.push(PUSH)
    assert not w.updates() and store.HELD in {t["Key"] for t in w.backend.group("eci-1").spec["Tag"]}
    w.push(json.loads((EVENTS / "acr-ee-signing-completed.json").read_text()))
    held = [gid for gid in ("eci-0", "eci-1") if store.HELD in {t["Key"] for t in w.backend.group(gid).spec["Tag"]}]
    # A group whose tags leave no room for the record of the tag gets the tag in its image, pinned to the
    # same digest (issue 28: the version stays known to the next push).
    images = {i.replace(":1.4.0@", "@") for i in w.images()}
    assert images == {NEW} and len(w.updates()) == 2 and held == [], f"{w.images()}; held again: {held}"


def test_an_approved_rollout_completes_over_later_time_slices_with_one_approval(world, monkeypatch, mocker):
    """The same with an approval: the later slice replays the approved hold (`held:<rule>:<since>`), so
    the approval the order carries counts for its groups whose hold was dropped up front; nobody is
    asked to approve the same change twice."""
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    for group in w.backend.groups.values():
        group.spec["Tag"] += [{"Key": f"team-{i}", "Value": "x"} for i in range(13)]
    doc = yaml.safe_load(w.rules_path.read_text())
    doc["rules"][0]["rollout"] = {"batch_size": 1, "poll_seconds": 0.01}
    w.rules_path.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_SLICE_SECONDS", "0")
    mocker.patch.object(common, "dispatcher_factory", side_effect=lambda *a: w.dispatcher)
    w.push(PUSH)
    reply = w.http("POST", f"/approvals/{held_id(w)}", headers={"Authorization": "Bearer al1ce-token"})
    assert reply["statusCode"] == 202
    held = [gid for gid in ("eci-0", "eci-1") if store.HELD in {t["Key"] for t in w.backend.group(gid).spec["Tag"]}]
    # A group whose tags leave no room for the record of the tag gets the tag in its image, pinned to the
    # same digest (issue 28: the version stays known to the next push).
    images = {i.replace(":1.4.0@", "@") for i in w.images()}
    assert images == {NEW} and len(w.updates()) == 2 and held == [], f"{w.images()}; held again: {held}"


def test_an_approval_still_counts_when_the_earliest_held_group_is_gone_before_the_worker_runs(world):
    """The approval is bound to the held change's earliest `held since`; when the groups held that early
    are gone by the time the worker runs it (scaled in), the change's earliest hold is a later one:
    the approval, matched on that exact time, changed nothing and the groups left stayed held."""
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    w.push(PUSH)
    w.now += timedelta(minutes=5)
    w.backend.seed(
        [
            {
                "ContainerGroupId": "eci-2",
                "ContainerGroupName": "web-2",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": OLD}],
            }
        ]
    )
    w.push(PUSH)
    run_now = w.dispatcher.work

    def scaled_in_first(order):
        for gid in ("eci-0", "eci-1"):
            del w.backend.groups[gid]
        return run_now(order)

    w.dispatcher.work = scaled_in_first
    reply = w.http("POST", f"/approvals/{held_id(w)}", headers={"Authorization": "Bearer al1ce-token"})
    assert reply["statusCode"] == 202
    assert w.images() == {NEW} and len(w.updates()) == 1, "the approved group left was not released"


# ---- evidence that arrives before its hold (EventBridge does not order events) ----

SIGNING = json.loads((EVENTS / "acr-ee-signing-completed.json").read_text())


class Queued:
    """The worker's async queue, held: orders wait until the test runs them (in any order), de-duplicated
    by task id like FC's async tasks."""

    def __init__(self, w) -> None:
        from eci_redeploy.execution.dispatch import Dispatched

        self.w, self.orders, self.seen, self.ran, self._done = w, [], set(), [], Dispatched

    def dispatch(self, order, delay=0):
        if order.task_id not in self.seen:
            self.seen.add(order.task_id)
            self.orders.append(order)
        return self._done(order.task_id, "queued")

    def run(self, index: int = 0) -> dict:
        order = self.orders.pop(index)
        self.ran.append(order)
        return events.handle_work(
            order.model_dump_json().encode(), fc_context("worker"), default_rules=self.w.rules_path
        )

    def drain(self) -> None:
        while self.orders:
            self.run()


def _queued(w, monkeypatch, mocker) -> Queued:
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    queue = Queued(w)
    mocker.patch.object(common, "dispatcher_factory", side_effect=lambda *a: queue)
    return queue


def _tags(w, gid: str = "eci-0") -> dict:
    return {t["Key"]: t["Value"] for t in w.backend.group(gid).spec["Tag"]}


def _held(w, gid: str = "eci-0"):
    return store.read(_tags(w, gid))


@pytest.mark.parametrize("worker_first", ["push", "signature"])
def test_a_signature_arriving_before_its_hold_is_recorded_releases_the_change_once(
    world, monkeypatch, mocker, worker_first
):
    """SigningCompleted reaches the push function while the PushCompleted it signs is still queued for
    the worker: nothing is held yet. Dropped there, the one signature ACR sends was lost (the API cannot
    show one), and the change waited forever. Whichever order the worker then runs them in, the change
    goes, once."""
    w = world({"signed": True})
    queue = _queued(w, monkeypatch, mocker)
    assert w.push(PUSH)["accepted"] is True and len(queue.orders) == 1  # queued, not yet held
    out = w.push(SIGNING)
    assert out["ok"] and not w.updates()
    assert len(queue.orders) == 2, "the early signature was not handed to the worker"
    if worker_first == "push":  # the hold is recorded, then the signature's order finds it
        queue.run(0)
        assert not w.updates() and _held(w) is not None
    else:  # the signature is recorded on the rule's groups, then the push finds it
        queue.run(1)
        assert not w.updates() and store.signed_in(_tags(w), DIGEST, "team/web")
    queue.drain()
    assert w.images() == {NEW} and len(w.updates()) == 2
    assert w.push(SIGNING)["ok"]  # a duplicate delivery, and the timer after it: nothing more
    queue.drain()
    assert _tick_ok(w)
    queue.drain()
    assert len(w.updates()) == 2 and _held(w) is None


def test_an_early_signature_is_seen_by_the_timer_when_the_hold_is_recorded_meanwhile(world, monkeypatch, mocker):
    """The worker recorded the hold while the signature's release order was still on its way: the next
    tick finds the recorded signature and hands the release over."""
    w = world({"signed": True, "soak": "15m"})
    queue = _queued(w, monkeypatch, mocker)
    w.push(PUSH)
    w.push(SIGNING)
    queue.run(1)  # the signature first: nothing held, recorded on the rule's groups
    queue.run(0)  # the push: signed, but soaking
    assert not w.updates() and _held(w) is not None and "signed" in _held(w).passed
    w.now += timedelta(minutes=20)
    assert _tick_ok(w)
    queue.drain()
    assert w.images() == {NEW} and len(w.updates()) == 2


def test_an_early_signature_is_recorded_without_a_worker_too(world):
    """The push function as its own writer (no worker function): the same, inline."""
    w = world({"signed": True})
    assert w.push(SIGNING)["ok"] and not w.updates()
    w.push(PUSH)
    assert w.images() == {NEW} and len(w.updates()) == 2


@pytest.mark.parametrize("status", ["FAILED", None])
def test_an_early_failed_or_unreadable_signing_releases_nothing(world, monkeypatch, mocker, status):
    w = world({"signed": True})
    queue = _queued(w, monkeypatch, mocker)
    w.push(PUSH)
    signing = {**SIGNING, "data": {**SIGNING["data"], "SigningStatus": status}}
    if status is None:
        del signing["data"]["SigningStatus"]
    w.push(signing)
    queue.drain()
    w.now += timedelta(hours=1)
    assert _tick_ok(w)
    queue.drain()
    assert not w.updates() and w.images() == {OLD} and _held(w) is not None
    assert not [t for t in w.backend.group("eci-0").spec["Tag"] if t["Key"].startswith(store.SIGNED)]


def test_an_early_signature_of_another_digest_releases_nothing(world, monkeypatch, mocker):
    """Bound to the digest: a signature of another image (same tag, same repository) lets nothing go."""
    w = world({"signed": True})
    queue = _queued(w, monkeypatch, mocker)
    w.push(PUSH)
    w.push({**SIGNING, "data": {**SIGNING["data"], "Digest": DIGEST2}})
    queue.drain()
    assert _tick_ok(w)
    queue.drain()
    assert not w.updates() and w.images() == {OLD} and _held(w).version == DIGEST


@pytest.mark.parametrize("value", ["1795745790123;team/other", "soon;team/web", "team/web", "1795745790123;"])
def test_a_signature_recorded_for_another_repository_or_unreadable_releases_nothing(world, monkeypatch, mocker, value):
    """A signature is of a digest in one repository: recorded for team/other, it does not sign team/web's;
    a value that does not read back is no signature (fail closed)."""
    w = world({"signed": True})
    queue = _queued(w, monkeypatch, mocker)
    for group in w.backend.groups.values():
        group.spec["Tag"] += [{"Key": store.signed_key(DIGEST), "Value": value}]
    w.push(PUSH)
    queue.drain()
    assert not w.updates() and _held(w) is not None


def test_early_signatures_are_bounded_on_each_group(world, monkeypatch, mocker):
    """At most MAX_SIGNED per group, the oldest evicted; never past ECI's 20 tags with room for a hold."""
    w = world({"signed": True})
    queue = _queued(w, monkeypatch, mocker)
    digests = [f"sha256:{n:02x}" + "ab" * 31 for n in range(store.MAX_SIGNED + 2)]
    for n, d in enumerate(digests):
        w.now += timedelta(seconds=1)
        w.push({**SIGNING, "id": f"sig-{n}", "data": {**SIGNING["data"], "Digest": d}})
        queue.drain()
    keys = [t["Key"] for t in w.backend.group("eci-0").spec["Tag"] if t["Key"].startswith(store.SIGNED)]
    assert sorted(keys) == sorted(store.signed_key(d) for d in digests[-store.MAX_SIGNED :])
    full = w.backend.groups["eci-1"]
    full.spec["Tag"] = [t for t in full.spec["Tag"] if not t["Key"].startswith(store.SIGNED)]
    full.spec["Tag"] += [{"Key": f"team-{i}", "Value": "x"} for i in range(20 - len(full.spec["Tag"]) - 4)]
    w.push(SIGNING)
    queue.drain()
    assert len(full.spec["Tag"]) <= 20 - 4 and store.signed_key(DIGEST) not in {t["Key"] for t in full.spec["Tag"]}
    assert store.signed_key(DIGEST) in {t["Key"] for t in w.backend.group("eci-0").spec["Tag"]}


def test_an_early_scan_result_is_read_again_from_the_acr_api(world, monkeypatch, mocker):
    """ScanCompleted before the hold is recorded finds nothing held and hands nothing over: the scan is
    not lost, the ACR API has it. The worker asks it when it holds the push; when ACR answers only later,
    the timer asks it again and releases."""
    w = world({"scan": {"max_severity": "medium"}})
    queue = _queued(w, monkeypatch, mocker)
    w.push(PUSH)
    scan = json.loads((EVENTS / "acr-ee-scan-completed.json").read_text())
    assert w.push(scan)["ok"] and len(queue.orders) == 1  # nothing to record: the API keeps the result
    queue.drain()  # the API has no result yet: held
    assert not w.updates() and _held(w) is not None
    w.acr.set_scan("cri-abc123", "team/web", "1.4.0", DIGEST, medium=1)
    assert _tick_ok(w)
    queue.drain()
    assert w.images() == {NEW} and len(w.updates()) == 2


def test_a_rollout_released_by_an_early_signature_completes_over_later_time_slices(world, monkeypatch, mocker):
    """The recorded signature stays on the groups (bounded, evicted by newer ones), so the rest of the
    rollout, planned again in a later time slice, still finds it and is not held again."""
    w = world({"signed": True})
    doc = yaml.safe_load(w.rules_path.read_text())
    doc["rules"][0]["rollout"] = {"batch_size": 1, "poll_seconds": 0.01}
    w.rules_path.write_text(yaml.safe_dump(doc))
    queue = _queued(w, monkeypatch, mocker)
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_SLICE_SECONDS", "0")
    w.push(PUSH)
    w.push(SIGNING)
    queue.run(1)
    queue.drain()
    held = [gid for gid in ("eci-0", "eci-1") if _held(w, gid) is not None]
    assert w.images() == {NEW} and len(w.updates()) == 2 and held == [], f"{w.images()}; held again: {held}"
    assert len(queue.ran) > 2  # the rollout did continue in a later slice


@pytest.mark.parametrize("signed", [False, None])
def test_an_evidence_order_without_a_signature_records_nothing_and_is_no_push(world, signed):
    """Fail closed in the worker too: an evidence order records only a `signed: true` for its event's
    digest, and is never planned as a push (it would deploy the digest it names)."""
    from eci_redeploy.events.model import PushEvent
    from eci_redeploy.execution.handoff import GateWork, WorkEvidence, WorkOrder
    from eci_redeploy.gates import EVIDENCE_SOURCE

    w = world({"signed": True})
    event = PushEvent("team/web", "1.4.0", DIGEST, EVIDENCE_SOURCE, "sig-1", signed=True, only_rule="web-prod")
    evidence = [WorkEvidence(image=DIGEST, signed=signed)] if signed is not None else []
    order = WorkOrder.for_events([event], gates=GateWork(evidence=evidence))
    result = events.handle_work(order.model_dump_json().encode(), fc_context("worker"), default_rules=w.rules_path)
    assert result["ok"] and not w.updates() and w.images() == {OLD}
    assert not [k for k in _tags(w) if k.startswith(store.SIGNED)] and _held(w) is None


def test_an_early_signature_is_not_written_on_a_frozen_group(world):
    """`eci-redeploy.freeze`: eci-redeploy never touches the group, a signature's tags included."""
    from eci_redeploy.planning import tracking

    w = world({"signed": True})
    frozen = w.backend.groups["eci-1"]
    frozen.spec["Tag"] += [{"Key": tracking.FREEZE, "Value": "true"}]
    before = list(frozen.spec["Tag"])
    assert w.push(SIGNING)["ok"]
    assert store.signed_in(_tags(w, "eci-0"), DIGEST, "team/web")
    assert frozen.spec["Tag"] == before, "a frozen group was tagged"


def test_signatures_of_tags_or_registries_a_rule_does_not_watch_do_not_evict_its_own(world):
    """A rule is told of a signature only for a push it would act on: signings of 2.x tags (another rule's
    line) or from another ACR instance are not recorded on ^1 groups, so they cannot evict the signature
    of the 1.4.0 push still on its way (MAX_SIGNED per group) and leave that push held for good."""
    w = world({"signed": True}, tags={"semver": "^1.0.0"})
    DIGEST3 = "sha256:" + "8b" * 32
    assert w.push(SIGNING)["ok"]  # 1.4.0, before its push: recorded
    others = [
        {**SIGNING, "id": "sig-2.0", "data": {**SIGNING["data"], "Tag": "2.0.0", "Digest": DIGEST2}},
        {**SIGNING, "id": "sig-2.1", "data": {**SIGNING["data"], "Tag": "2.1.0", "Digest": "sha256:" + "7a" * 32}},
        {**SIGNING, "id": "sig-x", "data": {**SIGNING["data"], "InstanceId": "cri-other", "Digest": DIGEST3}},
    ]
    for n, signing in enumerate(others, 1):
        w.now += timedelta(seconds=n)
        assert w.push(signing)["ok"]
    signed = sorted(k for k in _tags(w) if k.startswith(store.SIGNED))
    assert signed == [store.signed_key(DIGEST)], signed
    w.push(PUSH)
    assert w.images() == {NEW} and len(w.updates()) == 2
