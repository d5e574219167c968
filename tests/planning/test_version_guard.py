"""The no-downgrade guard and `updates`, for every source: pushes (planner and through the real SDK
to the fake), webhooks and signed CI calls through the function entry point. The reconcile's side is
in test_reconcile_registry.py (against Debian's docker-registry).

Expectations: the issue's wording (`would downgrade 1.4.5 -> 1.4.3`), and Keel's policy tests
(keel-hq/keel internal/policy/semver_test.go: "new lower, policy all" -> no update; "patch AND major
increase, policy patch" -> no update; "minor increase, policy minor" -> update).
"""

import json
from datetime import datetime, timedelta, timezone

import pytest

from eci_redeploy.clients.eci import EciGateway, RetryPolicy
from eci_redeploy.fake.inprocess import inprocess_factory
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.pipeline import run
from eci_redeploy.planning.planner import plan_event

from helpers import DIGEST_B, group, push, rule

HOST = "reg.example.com"
DIGEST_C = "sha256:" + "c" * 64
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def web(tags, **extra):
    return {**rule("web", tags=tags, pull={"public": [HOST]}), **extra}


def reasons(plan):
    return [s.reason for s in plan.skipped]


RANGE = {"semver": ">=1.0.0 <2.0.0"}


def test_issue_defect_5_a_hotfix_below_the_running_version_is_skipped(make_rules):
    rules = make_rules(web(RANGE))
    plan = plan_event(push("1.4.3"), rules, [group("eci-1", f"{HOST}/team/web:1.4.5")], {})
    assert plan.steps == []
    assert reasons(plan) == ["would downgrade 1.4.5 -> 1.4.3"]


def test_a_higher_version_deploys(make_rules):
    rules = make_rules(web(RANGE))
    plan = plan_event(push("1.4.6"), rules, [group("eci-1", f"{HOST}/team/web:1.4.5")], {})
    assert [s.action for s in plan.steps] == ["UpdateContainerGroup"]


def test_a_digest_deploy_is_known_by_its_tracking_tag(make_rules):
    rules = make_rules(web(RANGE))
    running = group(
        "eci-1",
        f"{HOST}/team/web@{DIGEST_B}",
        tags={"app": "web", "eci-redeploy.digest": DIGEST_B, "eci-redeploy.tag": "1.4.5"},
    )
    plan = plan_event(push("1.4.3"), rules, [running], {})
    assert plan.steps == [] and reasons(plan) == ["would downgrade 1.4.5 -> 1.4.3"]


def test_a_stale_tracking_tag_is_not_trusted(make_rules):
    # Someone moved the group to another digest by hand: the record no longer describes what runs, and
    # the image has no tag, so the version is unknown and event time decides (here: nothing recorded).
    rules = make_rules(web(RANGE))
    moved = group(
        "eci-1",
        f"{HOST}/team/web@{DIGEST_C}",
        tags={"app": "web", "eci-redeploy.digest": DIGEST_B, "eci-redeploy.tag": "1.4.5"},
    )
    plan = plan_event(push("1.4.3"), rules, [moved], {})
    assert [s.action for s in plan.steps] == ["UpdateContainerGroup"]


def test_the_running_image_tag_wins_over_an_old_record(make_rules):
    rules = make_rules(web(RANGE))
    rolled_back = group(
        "eci-1",
        f"{HOST}/team/web:1.4.0",  # rolled back by tag in the console after we deployed 1.4.5 by digest
        tags={"app": "web", "eci-redeploy.digest": DIGEST_B, "eci-redeploy.tag": "1.4.5"},
    )
    plan = plan_event(push("1.4.3"), rules, [rolled_back], {})
    assert [s.action for s in plan.steps] == ["UpdateContainerGroup"]


def test_allow_downgrade_is_the_explicit_way_out(make_rules):
    rules = make_rules(web(RANGE, allow_downgrade=True))
    plan = plan_event(push("1.4.3"), rules, [group("eci-1", f"{HOST}/team/web:1.4.5")], {})
    assert [s.action for s in plan.steps] == ["UpdateContainerGroup"]


def test_version_order_beats_event_time_and_time_still_orders_equal_versions(make_rules):
    rules = make_rules(web(RANGE))
    recorded = {"app": "web", "eci-redeploy.digest": DIGEST_B, "eci-redeploy.tag": "1.4.5"}
    recorded["eci-redeploy.event-time"] = str(int((T0 + timedelta(minutes=10)).timestamp() * 1000))
    g = group("eci-1", f"{HOST}/team/web@{DIGEST_B}", tags=recorded)
    # 1.5.0 pushed earlier than 1.4.5 but delivered later: the rule's order says it is newer
    newer = plan_event(push("1.5.0", minutes=5), rules, [g], {})
    assert [s.action for s in newer.steps] == ["UpdateContainerGroup"]
    # 1.4.5 rebuilt (same tag, another digest), an older event: event time decides, as before
    rebuilt = plan_event(push("1.4.5", DIGEST_C, minutes=5), rules, [g], {})
    assert rebuilt.steps == [] and "older than the one already applied" in reasons(rebuilt)[0]


def test_glob_rules_keep_following_pushes(make_rules):
    rules = make_rules(web({"glob": "*"}))
    plan = plan_event(push("1.4.3"), rules, [group("eci-1", f"{HOST}/team/web:1.4.5")], {})
    assert [s.action for s in plan.steps] == ["UpdateContainerGroup"]


def test_an_unknown_running_version_falls_back_to_event_time(make_rules):
    rules = make_rules(web(RANGE))
    plan = plan_event(push("1.4.3"), rules, [group("eci-1", f"{HOST}/team/web:latest")], {})
    assert [s.action for s in plan.steps] == ["UpdateContainerGroup"]


@pytest.mark.parametrize(
    ("within", "running", "pushed", "deploys"),
    [
        # keel-hq/keel internal/policy/semver_test.go, Test_shouldUpdate
        ("minor", "1.4.5", "1.5.5", True),  # "minor increase, policy minor"
        ("minor", "1.4.5", "1.4.6", True),  # "patch increase, policy minor"
        ("minor", "1.4.5", "2.0.0", False),  # the issue: only the running version's major
        ("patch", "1.4.5", "1.4.6", True),  # "patch increase, policy patch"
        ("patch", "1.4.5", "1.4.4", False),  # "patch decrease, policy patch"
        ("patch", "1.4.5", "2.4.6", False),  # "patch AND major increase, policy patch"
        ("patch", "1.4.5", "1.5.0", False),  # the issue: updates: patch keeps major.minor
    ],
)
def test_updates(make_rules, within, running, pushed, deploys):
    rules = make_rules(web({"semver": "*", "updates": within}))
    plan = plan_event(push(pushed), rules, [group("eci-1", f"{HOST}/team/web:{running}")], {})
    assert bool(plan.steps) is deploys
    if not deploys:
        assert reasons(plan)[0].startswith(("updates", "would downgrade"))


def test_ordered_regex_rules_never_move_to_an_older_build(make_rules):
    rules = make_rules(
        web({"regex": r"^main-(?P<build>\d+)-[0-9a-f]{7}$", "order": {"by": "numerical", "key": "build"}})
    )
    g = group("eci-1", f"{HOST}/team/web:main-1712345678-3f2a9c1")
    older = plan_event(push("main-999999999-aaaaaaa"), rules, [g], {})
    assert reasons(older) == ["would downgrade main-1712345678-3f2a9c1 -> main-999999999-aaaaaaa"]
    newer = plan_event(push("main-1712349999-bbbbbbb"), rules, [g], {})
    assert [s.action for s in newer.steps] == ["UpdateContainerGroup"]


def test_on_the_sdk_a_digest_deploy_records_its_tag_and_a_lower_push_is_then_skipped(make_rules):
    """Real SDK to the in-process fake: push 1.4.5 by digest, then the 1.4.3 hotfix."""
    backend = FakeEci()
    backend.seed(
        [
            {
                "ContainerGroupId": "eci-1",
                "ContainerGroupName": "web-1",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": f"{HOST}/team/web:1.4.0"}],
            }
        ]
    )
    gateway = EciGateway(inprocess_factory(backend), retry=RetryPolicy(max_attempts=2, initial=0.001))
    rules = make_rules(web(RANGE))
    first = run([push("1.4.5", DIGEST_B, minutes=0)], rules, gateway, {})
    assert [o.status for o in first.outcomes] == ["applied"]
    spec = backend.group("eci-1").spec
    assert spec["Container"][0]["Image"] == f"{HOST}/team/web@{DIGEST_B}"  # no tag left on the image
    assert {t["Key"]: t["Value"] for t in spec["Tag"]}["eci-redeploy.tag"] == "1.4.5"
    hotfix = run([push("1.4.3", DIGEST_C, minutes=5)], rules, gateway, {})
    assert hotfix.outcomes == []
    assert [s.reason for s in hotfix.plan.skipped] == ["would downgrade 1.4.5 -> 1.4.3"]
    assert len(backend.mutating_calls()) == 1


# --- webhooks and CI calls through the FC entry point ---------------------------------------------


def reseed(fc, gid, image, tags=()):
    fc.backend.seed(
        [
            {
                "ContainerGroupId": gid,
                "ContainerGroupName": {"eci-self": "web-selfhosted", "eci-acr": "web-acr"}[gid],
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": k, "Value": v} for k, v in tags],
                "Containers": [{"Name": "app", "Image": image}],
            }
        ]
    )


def test_webhook_push_below_the_running_version_is_skipped(fc):
    from fcfixtures import TOKEN, call_webhook

    from helpers import EVENTS

    reseed(fc, "eci-self", "10.0.0.5:5000/team/web:1.4.5")  # the sample pushes 1.4.0
    response = call_webhook((EVENTS / "distribution-push.json").read_bytes(), query={"token": TOKEN})
    body = json.loads(response["body"])
    # The preview says why; the single writer decides (again, against a fresh describe) and skips it.
    assert response["statusCode"] == 202 and body["accepted"] is True, body
    assert "would downgrade 1.4.5 -> 1.4.0" in [s["reason"] for s in body["skipped"]]
    assert fc.mutations() == []


def test_signed_ci_call_below_a_digest_deploy_is_skipped(fc):
    from fcfixtures import call_webhook, signed_headers

    from helpers import EVENTS

    body = (EVENTS / "generic-ci.json").read_bytes()
    pushed = json.loads(body)["image"].rsplit(":", 1)[1]
    reseed(
        fc,
        "eci-acr",
        f"acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com/team/web@{DIGEST_B}",
        tags=[("eci-redeploy.digest", DIGEST_B), ("eci-redeploy.tag", "1.9.0")],
    )
    response = call_webhook(body, headers=signed_headers(body))
    reply = json.loads(response["body"])
    assert response["statusCode"] == 202 and reply["accepted"] is True, reply  # the writer decides
    assert f"would downgrade 1.9.0 -> {pushed}" in [s["reason"] for s in reply["skipped"]]
    assert fc.mutations() == []
