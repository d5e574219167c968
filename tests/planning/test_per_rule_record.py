"""Two rules on one container group, each changing its own container (rule `app`: team/app -> container
c1; rule `side`: team/sidecar -> container c2): the tracking record and the guards that read it are per
rule. With one record per group, (a) a push of one rule made before, but delivered after, the other
rule's last push was dropped as "older", and (b) once the other rule had recorded the group, a late
push of the first rule could roll its container back (by time, or by version for a digest deploy).
Planner, the real SDK to the in-process fake, and a signed CI call through the function entry point.
"""

import json
from datetime import datetime, timedelta, timezone

from eci_redeploy.clients.eci import EciGateway, RetryPolicy
from eci_redeploy.execution.executor import Executor
from eci_redeploy.fake.inprocess import inprocess_factory
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.pipeline import run
from eci_redeploy.planning import tracking
from eci_redeploy.planning.planner import plan_event

import helpers
from helpers import DIGEST_A, DIGEST_B, group, rule

HOST = "reg.example.com"
DIGEST_C = "sha256:" + "c" * 64
DIGEST_D = "sha256:" + "d" * 64
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
MS0 = str(tracking.millis(T0))


def push(repo, tag, digest, minutes=0, event_id=None, time=True):
    event_id = event_id or f"ev-{repo}-{tag}-{minutes}"
    return helpers.push(tag, digest, repository=repo, minutes=minutes if time else None, event_id=event_id)


def two_rules(make_rules, tags=None, action="update"):
    return make_rules(
        rule("app", "team/app", tags=tags, action=action, containers=["c1"], pull={"public": [HOST]}),
        rule("side", "team/sidecar", tags=tags, action=action, containers=["c2"], pull={"public": [HOST]}),
    )


def both(tags):
    return group("eci-1", f"{HOST}/team/app@{DIGEST_A}", f"{HOST}/team/sidecar@{DIGEST_B}", tags={"app": "web", **tags})


LEGACY_APP = {  # what earlier versions left: one record, rule `app`'s push of 10:00
    "eci-redeploy.digest": DIGEST_A,
    "eci-redeploy.event-time": MS0,
    "eci-redeploy.rule": "app",
    "eci-redeploy.tag": "2",
}


def reasons(plan):
    return [s.reason for s in plan.skipped]


# --- (a) a real push of another rule is not dropped -------------------------------------------------


def test_a_push_of_another_rule_made_earlier_is_not_dropped(make_rules):
    plan = plan_event(push("team/sidecar", "5", DIGEST_C, minutes=-1), two_rules(make_rules), [both(LEGACY_APP)], {})
    assert [s.action for s in plan.steps] == ["UpdateContainerGroup"], reasons(plan)
    assert [c["Name"] for c in plan.steps[0].body["Container"]] == ["c2"]


def test_the_legacy_record_still_guards_its_own_rule(make_rules):
    plan = plan_event(push("team/app", "1", DIGEST_C, minutes=-1), two_rules(make_rules), [both(LEGACY_APP)], {})
    assert plan.steps == [] and "nothing is downgraded" in reasons(plan)[0]


# --- (b) a late push of a rule is still refused after another rule recorded the group ----------------


def world():
    backend = FakeEci()
    backend.seed(
        [
            {
                "ContainerGroupId": "eci-1",
                "ContainerGroupName": "web-1",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [
                    {"Name": "c1", "Image": f"{HOST}/team/app:1.0.0"},
                    {"Name": "c2", "Image": f"{HOST}/team/sidecar:1.0.0"},
                ],
            }
        ]
    )
    return backend, EciGateway(inprocess_factory(backend), retry=RetryPolicy(max_attempts=2, initial=0.001))


def images(backend):
    return {c["Name"]: c["Image"] for c in backend.group("eci-1").spec["Container"]}


def test_sdk_a_late_push_is_refused_by_time_after_another_rule_applied_without_time(make_rules):
    backend, gateway = world()
    rules = two_rules(make_rules)
    assert [o.status for o in run([push("team/app", "2", DIGEST_C, minutes=0)], rules, gateway, {}).outcomes] == [
        "applied"
    ]
    # the reconcile (or a CI call) carries no push time: rule `side` now recorded the group without one
    side = run([push("team/sidecar", "7", DIGEST_D, time=False)], rules, gateway, {})
    assert [o.status for o in side.outcomes] == ["applied"]
    late = run([push("team/app", "1", DIGEST_B, minutes=-1)], rules, gateway, {})
    assert late.outcomes == [], "a late push of rule app rolled its container back"
    assert "nothing is downgraded" in reasons(late.plan)[0]
    assert images(backend) == {"c1": f"{HOST}/team/app@{DIGEST_C}", "c2": f"{HOST}/team/sidecar@{DIGEST_D}"}


def test_sdk_a_lower_version_is_refused_after_another_rule_applied(make_rules):
    backend, gateway = world()
    rules = two_rules(make_rules, tags={"semver": ">=1.0.0"})
    assert [o.status for o in run([push("team/app", "1.4.5", DIGEST_C)], rules, gateway, {}).outcomes] == ["applied"]
    side = run([push("team/sidecar", "1.1.0", DIGEST_D, minutes=2)], rules, gateway, {})
    assert [o.status for o in side.outcomes] == ["applied"]
    hotfix = run([push("team/app", "1.4.3", DIGEST_B, minutes=5)], rules, gateway, {})
    assert hotfix.outcomes == [], "rule app was downgraded 1.4.5 -> 1.4.3"
    assert reasons(hotfix.plan) == ["would downgrade 1.4.5 -> 1.4.3"]
    # and a push of `side` made before app's last one is not dropped
    early = run([push("team/sidecar", "1.2.0", DIGEST_A, minutes=-3)], rules, gateway, {})
    assert [o.status for o in early.outcomes] == ["applied"], reasons(early.plan)
    assert images(backend)["c2"] == f"{HOST}/team/sidecar@{DIGEST_A}"


def test_sdk_restarts_are_recognised_per_rule(make_rules):
    backend, gateway = world()
    rules = two_rules(make_rules, action="restart")
    first = push("team/app", "2", DIGEST_C, minutes=0, event_id="ev-app")
    assert [o.status for o in run([first], rules, gateway, {}).outcomes] == ["applied"]
    assert [o.status for o in run([push("team/sidecar", "7", DIGEST_D, minutes=1)], rules, gateway, {}).outcomes] == [
        "applied"
    ]
    again = run([first], rules, gateway, {})  # redelivered
    assert again.outcomes == []
    assert reasons(again.plan) == [f"already restarted for this push ({DIGEST_C})"]
    assert backend.group("eci-1").restart_count == 2


# --- through the function entry point: a signed CI call ----------------------------------------------

ACR = "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com"


def test_entry_point_a_sidecar_push_made_earlier_is_applied(fc, tmp_path, monkeypatch):
    from fcfixtures import call_webhook, signed_headers

    rules = {
        "version": 1,
        "rules": [
            {
                "name": name,
                "source": {"repository": repo, "registry": "cri-abc123", "tags": {"glob": "*"}},
                "target": {
                    "region": "cn-hangzhou",
                    "action": "update",
                    "container_groups": {"name": "web-acr"},
                    "containers": [container],
                },
                "pull": {"acr": {"instance_id": "cri-abc123", "instance_name": "acme"}},
            }
            for name, repo, container in (("app", "team/app", "app"), ("side", "team/sidecar", "sidecar"))
        ],
    }
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps(rules))
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(path))
    fc.backend.seed(
        [
            {
                "ContainerGroupId": "eci-acr",
                "ContainerGroupName": "web-acr",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": k, "Value": v} for k, v in LEGACY_APP.items()],
                "Containers": [
                    {"Name": "app", "Image": f"{ACR}/team/app@{DIGEST_A}"},
                    {"Name": "sidecar", "Image": f"{ACR}/team/sidecar:1"},
                ],
            }
        ]
    )
    earlier = (T0 - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = json.dumps({"image": f"{ACR}/team/sidecar:5", "digest": DIGEST_C, "time": earlier}).encode()
    response = call_webhook(body, headers=signed_headers(body))
    reply = json.loads(response["body"])
    assert response["statusCode"] == 202 and reply["accepted"] is True, reply
    assert [(a["action"], a["target"]) for a in reply["actions"]] == [("UpdateContainerGroup", "eci-acr")], reply
    spec = fc.backend.group("eci-acr").spec
    assert {c["Name"]: c["Image"] for c in spec["Container"]}["sidecar"] == f"{ACR}/team/sidecar@{DIGEST_C}"


# --- the record itself: legacy read, ECI's limits, bounded growth -----------------------------------


def as_map(tags):
    return {t["Key"]: t["Value"] for t in tags}


def test_a_change_by_another_rule_moves_the_last_record_to_its_rule_entry():
    tags = as_map(tracking.record(LEGACY_APP, version=DIGEST_C, event_time=T0, rule="side", previous=None, tag="7"))
    assert tags["eci-redeploy.rule"] == "side" and tags["eci-redeploy.tag"] == "7"
    assert tags["eci-redeploy.applied.app"] == f"{MS0};2;{DIGEST_A}"
    assert tracking.applied(tags, "app") == tracking.Applied(DIGEST_A, int(MS0), "app", "2", tracking.ENTRY_VERSION)
    assert tracking.applied(tags, "side").digest == DIGEST_C
    assert tracking.applied(tags, "other").digest is None
    # back to `app`: its entry goes (the five keys hold it), `side` gets one
    back = as_map(tracking.record(tags, version=DIGEST_B, event_time=T0, rule="app", previous=DIGEST_A, tag="3"))
    assert "eci-redeploy.applied.app" not in back and back["eci-redeploy.applied.side"] == f"{MS0};7;{DIGEST_C}"


def test_one_rule_leaves_the_same_five_keys_as_before():
    tags = as_map(tracking.record({"app": "web"}, version=DIGEST_A, event_time=T0, rule="app", previous=None, tag="2"))
    again = as_map(tracking.record(tags, version=DIGEST_B, event_time=T0, rule="app", previous=DIGEST_A, tag="3"))
    assert sorted(again) == sorted(["app", *tracking.OURS, tracking.TAG])


def test_entries_stay_within_eci_limits():
    long_tag = "v" * 128
    name = "r" * 63
    last = {**LEGACY_APP, "eci-redeploy.rule": name, "eci-redeploy.tag": long_tag}
    tags = tracking.record(last, version=DIGEST_C, event_time=T0, rule="side", previous=None, live=None)
    # CreateContainerGroupRequestTag (alibabacloud-eci20180808): keys up to 64 characters, values 128.
    assert all(len(t["Key"]) <= 64 and len(t["Value"]) <= 128 for t in tags)
    entry = as_map(tags)[tracking.rule_key(tracking.ENTRY, name)]
    assert entry == f"{MS0};;{DIGEST_A}"  # the tag does not fit: left out, the digest kept whole
    long_version = ":" + "x" * 127
    cut = as_map(
        tracking.record(
            {**last, "eci-redeploy.digest": long_version}, version=DIGEST_C, event_time=T0, rule="side", previous=None
        )
    )
    done = tracking.applied(cut, name)
    entry = cut[tracking.rule_key(tracking.ENTRY, name)]
    assert len(entry) <= 128 and done.holds(long_version) and not done.holds(":x")


def test_entries_of_rules_no_longer_in_the_file_are_dropped():
    tags = {**LEGACY_APP, "eci-redeploy.applied.gone": f"{MS0};1;{DIGEST_B}"}
    kept = as_map(
        tracking.record(tags, version=DIGEST_C, event_time=T0, rule="side", previous=None, live={"app", "side"})
    )
    assert "eci-redeploy.applied.gone" not in kept and "eci-redeploy.applied.app" in kept


def test_no_room_for_the_other_rules_records_is_no_room():
    user = {f"k{i}": "v" for i in range(15)}  # 15 user tags and the last record's 3
    tags = {**user, **{k: v for k, v in LEGACY_APP.items() if k != "eci-redeploy.tag"}}
    assert tracking.record(tags, version=DIGEST_C, event_time=T0, rule="app", previous=None) is not None
    # another rule would need an entry for `app` too: 15 + 1 + 4 = 20 fits, without its tag
    fits = tracking.record(tags, version=DIGEST_C, event_time=T0, rule="side", previous=DIGEST_B, tag="7")
    assert len(fits) == 20 and "eci-redeploy.tag" not in as_map(fits)
    full = {**tags, "k15": "v"}
    assert tracking.record(full, version=DIGEST_C, event_time=T0, rule="side", previous=DIGEST_B) is None


def test_planner_without_room_for_both_records_restarts_nothing_and_says_why(make_rules):
    user = {f"k{i}": "v" for i in range(14)}  # with `app` and the record's 5: ECI's 20
    crowded = both({**user, **LEGACY_APP, "eci-redeploy.previous": DIGEST_B})
    plan = plan_event(
        push("team/sidecar", "7", DIGEST_D, minutes=1), two_rules(make_rules, action="restart"), [crowded], {}
    )
    assert plan.steps == [] and "no room for the tracking tags" in reasons(plan)[0]


def test_a_restart_writes_the_moved_entry_and_clears_its_own(make_rules):
    tags = {**LEGACY_APP, "eci-redeploy.applied.side": f"{MS0};6;{DIGEST_B}"}
    plan = plan_event(
        push("team/sidecar", "7", DIGEST_D, minutes=1), two_rules(make_rules, action="restart"), [both(tags)], {}
    )
    [step] = plan.steps
    assert step.record["eci-redeploy.applied.app"] == f"{MS0};2;{DIGEST_A}"
    assert step.record["eci-redeploy.applied.side"] == ""  # the five keys hold it now; empty reads as unset
    after = {**tags, **step.record}
    assert tracking.applied(after, "side").digest == DIGEST_D and tracking.applied(after, "app").digest == DIGEST_A


def test_a_hand_edited_rule_name_too_long_for_a_key_gets_no_entry():
    odd = {**LEGACY_APP, "eci-redeploy.rule": "x" * 120}
    tags = tracking.record(odd, version=DIGEST_C, event_time=T0, rule="side", previous=None)
    assert all(len(t["Key"]) <= 128 for t in tags) and as_map(tags)["eci-redeploy.rule"] == "side"


def test_gates_a_hold_is_not_dropped_as_stale_because_another_rule_applied_a_later_push(make_rules):
    from eci_redeploy.gates import flow, store

    rules = two_rules(make_rules)
    held = store.Held("app", DIGEST_C, "3", "held", int(MS0), int(MS0))
    later_side = {**LEGACY_APP, "eci-redeploy.rule": "side", "eci-redeploy.event-time": str(int(MS0) + 60_000)}
    writes = flow._Writes()
    side_group = both({**later_side, **held.tags()})
    assert flow._stale_holds(flow.HeldChange(held, rules.rule("app"), [side_group]), writes) is False
    # its own rule's later push does make it stale
    later_app = {**LEGACY_APP, "eci-redeploy.event-time": str(int(MS0) + 60_000), **held.tags()}
    assert flow._stale_holds(flow.HeldChange(held, rules.rule("app"), [both(later_app)]), writes) is True


# --- gates: a hold per rule ---------------------------------------------------------------------------
# Rule `app` soaks 15 minutes, rule `side` waits for an approval. With one hold per group, side's hold
# replaced app's (app's push dropped), and releasing one cleared the other.

APPROVAL = {"approvers_env": "APPROVERS", "expires": "24h"}


def gated_rules(make_rules, app_gates=None, side_gates=None):
    app = rule("app", "team/app", containers=["c1"], pull={"public": [HOST]})
    side = rule("side", "team/sidecar", containers=["c2"], pull={"public": [HOST]})
    app["gates"], side["gates"] = app_gates or {"soak": "15m"}, side_gates or {"approval": APPROVAL}
    return make_rules(app, side)


class GatedWorld:
    def __init__(self, rules):
        from eci_redeploy.execution.rollout import Clock
        from eci_redeploy.gates.flow import GateContext

        self.backend, self.gateway = world()
        self.rules, self.now, self.approvals = rules, T0, {}
        self.env = {"APPROVERS": "alice:al1ce-token"}
        self.clock = Clock(sleep=lambda s: None)
        self.ctx = GateContext(now=lambda: self.now, approvals=self.approvals)

    def push(self, event):
        return run(
            [event], self.rules, self.gateway, self.env, gate_context=self.ctx, executor=Executor(clock=self.clock)
        )

    def release(self):
        from eci_redeploy.gates import flow

        return flow.release(self.rules, self.gateway, self.env, context=self.ctx, executor=Executor(clock=self.clock))

    def held(self):
        from eci_redeploy.gates import flow

        return {h["rule"]: h for h in flow.status(self.rules, self.gateway, now=self.now)["held"]}

    def approve(self, rule_name, approver="alice"):
        from eci_redeploy.gates.evaluate import Approval

        h = self.held()[rule_name]
        since = int(datetime.fromisoformat(h["since"]).timestamp() * 1000)
        self.approvals[(h["id"], since)] = Approval(approver, self.now)

    def updates(self):
        return self.backend.mutating_calls("UpdateContainerGroup")

    def tags(self):
        return {t["Key"]: t["Value"] for t in self.backend.group("eci-1").spec.get("Tag") or []}


def test_gates_two_rules_hold_independently_and_each_is_released_once(make_rules):
    w = GatedWorld(gated_rules(make_rules))
    w.push(push("team/app", "2", DIGEST_C))
    w.now += timedelta(minutes=1)
    w.push(push("team/sidecar", "7", DIGEST_D, minutes=1))
    assert sorted(w.held()) == ["app", "side"]  # side's hold did not replace app's
    assert w.updates() == []
    w.approve("app")  # an approval of app's hold is not side's
    w.now += timedelta(minutes=5)
    w.release()
    assert w.updates() == [] and sorted(w.held()) == ["app", "side"]
    w.now += timedelta(minutes=11)  # app's soak is over
    w.release()
    assert images(w.backend) == {"c1": f"{HOST}/team/app@{DIGEST_C}", "c2": f"{HOST}/team/sidecar:1.0.0"}
    assert sorted(w.held()) == ["side"]  # app's release did not clear side's hold
    w.release()
    assert len(w.updates()) == 1
    w.approve("side")
    w.release()
    assert images(w.backend) == {"c1": f"{HOST}/team/app@{DIGEST_C}", "c2": f"{HOST}/team/sidecar@{DIGEST_D}"}
    w.release()
    w.push(push("team/sidecar", "7", DIGEST_D, minutes=1))  # redelivered
    assert len(w.updates()) == 2 and w.held() == {}
    held_keys = [k for k, v in w.tags().items() if k.startswith(("eci-redeploy.held", "eci-redeploy.approved")) and v]
    assert not held_keys  # released holds are written empty: gone whether Tag.N replaces or merges


def test_gates_the_other_order_side_released_first_keeps_apps_hold(make_rules):
    w = GatedWorld(gated_rules(make_rules, app_gates={"approval": APPROVAL}, side_gates={"soak": "15m"}))
    w.push(push("team/app", "2", DIGEST_C))
    w.push(push("team/sidecar", "7", DIGEST_D))
    assert sorted(w.held()) == ["app", "side"]
    w.now += timedelta(minutes=16)
    w.release()
    assert images(w.backend)["c2"] == f"{HOST}/team/sidecar@{DIGEST_D}"
    assert sorted(w.held()) == ["app"] and images(w.backend)["c1"] == f"{HOST}/team/app:1.0.0"
    w.approve("app")
    w.release()
    w.release()
    assert images(w.backend)["c1"] == f"{HOST}/team/app@{DIGEST_C}" and len(w.updates()) == 2 and w.held() == {}


def test_gates_a_new_push_of_one_rule_replaces_only_its_own_hold(make_rules):
    w = GatedWorld(gated_rules(make_rules, side_gates={"soak": "15m"}))
    w.push(push("team/app", "2", DIGEST_C))
    w.push(push("team/sidecar", "7", DIGEST_D))
    w.now += timedelta(minutes=1)
    w.push(push("team/app", "3", DIGEST_A, minutes=1))
    held = w.held()
    assert held["app"]["version"] == DIGEST_A and held["side"]["version"] == DIGEST_D
    w.now += timedelta(minutes=15)
    w.release()  # side soaked (pushed at 0), app's newer push not yet (pushed at 1)
    assert images(w.backend)["c2"] == f"{HOST}/team/sidecar@{DIGEST_D}" and sorted(w.held()) == ["app"]
    w.now += timedelta(minutes=1)
    w.release()
    assert images(w.backend)["c1"] == f"{HOST}/team/app@{DIGEST_A}" and len(w.updates()) == 2


def test_gates_one_rule_going_while_the_other_is_held_in_the_same_pass_keeps_the_hold(make_rules):
    w = GatedWorld(gated_rules(make_rules, side_gates={"soak": "15m"}))
    # app's push soaked already: first seen (held) 20 minutes ago, the soak counting from then (issue 23:
    # never from the payload's push time); side's is new
    w.push(push("team/app", "2", DIGEST_C))
    w.now += timedelta(minutes=20)
    w.push(push("team/sidecar", "6", DIGEST_B, minutes=19))
    w.run_both = run(
        [push("team/app", "2", DIGEST_C), push("team/sidecar", "7", DIGEST_D, minutes=20)],
        w.rules,
        w.gateway,
        w.env,
        gate_context=w.ctx,
        executor=Executor(clock=w.clock),
    )
    assert images(w.backend)["c1"] == f"{HOST}/team/app@{DIGEST_C}"
    assert w.held()["side"]["version"] == DIGEST_D  # the update's tag list did not undo the new hold
    w.now += timedelta(minutes=15)
    w.release()
    assert images(w.backend)["c2"] == f"{HOST}/team/sidecar@{DIGEST_D}" and len(w.updates()) == 2


def _hold(rule_name, version=DIGEST_C, tag="2"):
    from eci_redeploy.gates import store

    return store.Held(rule_name, version, tag, "held", int(MS0), int(MS0) + 1, ("scan",))


def _apply(tags, change):
    put, gone = change
    return {**{k: v for k, v in tags.items() if k not in gone}, **put}


def test_gates_one_rule_holds_with_the_same_four_keys_as_before_and_old_holds_read_as_their_rules():
    from eci_redeploy.gates import store

    legacy = _hold("app").tags()  # what earlier versions wrote
    assert set(legacy) == {store.HELD, store.HELD_RULE, store.HELD_INFO}
    assert store.writes({"app": "web"}, _hold("app"), {"app", "side"}) == (legacy, [])
    assert store.read(legacy, "app") == store.read(legacy) == _hold("app") and store.read(legacy, "side") is None
    assert store.writes(legacy, _hold("app"), {"app"}) == ({}, [])


def test_gates_a_second_rules_hold_gets_its_own_keys_within_eci_limits():
    from eci_redeploy.gates import store

    name = "s" * 63
    tags = _apply(_hold("app").tags(), store.writes(_hold("app").tags(), _hold(name, ":" + "t" * 127, "t" * 127), None))
    assert store.read(tags, "app") == _hold("app") and store.read(tags, name).version == ":" + "t" * 127
    assert all(len(k) <= 128 and len(v) <= 128 for k, v in tags.items())
    assert not any(v.lower().startswith(("aliyun", "acs:")) or "://" in v for v in tags.values())
    # the first rule's release leaves the second's hold; its next hold goes into the four keys
    rest = {k: v for k, v in tags.items() if k not in store.keys_of(tags, "app")}
    assert store.read(rest, name).version == ":" + "t" * 127 and store.read(rest, "app") is None


def test_gates_holds_of_rules_no_longer_in_the_file_are_dropped_on_the_next_write():
    from eci_redeploy.gates import store

    tags = _apply(_hold("gone").tags(), store.writes(_hold("gone").tags(), _hold("old"), None))
    put, gone = store.writes(tags, _hold("side", DIGEST_D), {"side"})
    after = _apply(tags, (put, gone))
    assert store.holders(after) == {"side"} and after[store.HELD_RULE] == "side"


def test_gates_no_room_for_a_hold_is_skipped_with_a_reason_and_keeps_the_other_rules_hold(make_rules):
    from eci_redeploy.gates import flow, store

    full = {**_hold("app").tags(), **{f"k{i}": "v" for i in range(17)}}
    assert store.writes(full, _hold("side", DIGEST_D), {"app", "side"}) is None
    rules = gated_rules(make_rules, side_gates={"soak": "15m"})
    plan = plan_event(push("team/sidecar", "7", DIGEST_D), rules, [both(full)], {})
    gating = flow._gate(plan, rules, [both(full)], flow.GateContext(now=lambda: T0))
    assert gating.out.steps == [] and not gating.writes.set and not gating.writes.unset
    assert any("no room on eci-1 for the hold" in s.reason for s in gating.out.skipped)


def test_gates_an_update_carrying_a_new_hold_of_another_rule_stays_within_eci_tag_limit(make_rules):
    # 13 tags: app's record (5 keys) and side's new hold (3 keys) fit one at a time, not together. The
    # update that carried the hold was refused (InvalidParameter.TagCount, not retried): app's push lost.
    # app's gate lets it go at once (a window open all day; a soak counts from when the push is first seen)
    w = GatedWorld(gated_rules(make_rules, app_gates={"window": {}}, side_gates={"soak": "15m"}))
    w.backend.group("eci-1").spec["Tag"] = [{"Key": "app", "Value": "web"}] + [
        {"Key": f"k{i}", "Value": "v"} for i in range(12)
    ]
    w.now += timedelta(minutes=20)
    out = run(
        [push("team/app", "2", DIGEST_C), push("team/sidecar", "7", DIGEST_D, minutes=20)],
        w.rules,
        w.gateway,
        w.env,
        gate_context=w.ctx,
        executor=Executor(clock=w.clock),
    )
    assert [o.status for o in out.outcomes] == ["applied"]
    assert images(w.backend)["c1"] == f"{HOST}/team/app@{DIGEST_C}"
    assert w.held()["side"]["version"] == DIGEST_D and len(w.tags()) <= 20


def test_sdk_a_renamed_rule_keeps_the_no_downgrade_guard_of_the_record_it_left(make_rules):
    # The record names the rule's old name: its version still describes what runs (a digest deploy has
    # no tag of its own), so the renamed rule does not roll 2.0.0 back to 1.0.0 (earlier versions did not).
    backend, gateway = world()
    within = {"semver": ">=1.0.0"}
    old = make_rules(rule("app", "team/app", tags=within, containers=["c1"], pull={"public": [HOST]}))
    assert [o.status for o in run([push("team/app", "2.0.0", DIGEST_C)], old, gateway, {}).outcomes] == ["applied"]
    renamed = make_rules(rule("app-web", "team/app", tags=within, containers=["c1"], pull={"public": [HOST]}))
    late = run([push("team/app", "1.0.0", DIGEST_B, minutes=-5)], renamed, gateway, {})
    assert late.outcomes == [] and reasons(late.plan) == ["would downgrade 2.0.0 -> 1.0.0"]
    assert images(backend)["c1"] == f"{HOST}/team/app@{DIGEST_C}"
