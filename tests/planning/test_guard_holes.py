"""Issue 28, the no-downgrade guard's holes, through `plan` and on the wire (the real SDK against the
fake, in-process and over HTTP):

1. a group with no room for its record (ECI allows 20 tags: the Tag.N limit of CreateContainerGroup /
   UpdateContainerGroup, alibabacloud.com/help/en/eci/developer-reference/api-eci-2018-08-08-updatecontainergroup)
   must not lose the version it runs: tested at 16, 17, 19 and 20 tags of the group's own;
2. `updates` and the guard decide per targeted container (`containers: [sidecar]`), not per repository;
3. one delivery carrying 1.5.0 and 2.1.0 keeps 1.5.0 for a group on 1.x under `updates: minor`.

Expectations: the issue's cases (a push of 1.4.3 after 1.4.6 is "would downgrade 1.4.6 -> 1.4.3"),
Keel's policy names for `updates` (keel-hq/keel internal/policy/semver_test.go: policy minor takes
1.4.5 -> 1.5.5, not 2.0.0; policy patch takes 1.4.5 -> 1.4.6, not 1.5.0).
"""

from datetime import datetime, timedelta, timezone

import pytest

from eci_redeploy.events.model import PushEvent
from eci_redeploy.pipeline import run
from eci_redeploy.planning import tracking
from eci_redeploy.planning.coalesce import coalesce
from eci_redeploy.planning.planner import plan_event

from helpers import DIGEST_A, DIGEST_B, rule

HOST = "reg.example.com"
DIGEST_C = "sha256:" + "c" * 64
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def push(tag, digest=DIGEST_A, minutes=0):
    return PushEvent(
        "team/web", tag, digest, "distribution", f"ev-{tag}", time=T0 + timedelta(minutes=minutes), registry_host=HOST
    )


def web(tags, **target):
    return rule("web", tags=tags, pull={"public": [HOST]}, **target)


def seed(backend, containers, own_tags=1):
    """One group; `own_tags` tags of the user's own (the selector's app=web among them)."""
    tags = [{"Key": "app", "Value": "web"}] + [{"Key": f"team-{i}", "Value": "x"} for i in range(1, own_tags)]
    backend.seed(
        [
            {
                "ContainerGroupId": "eci-1",
                "ContainerGroupName": "web-1",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": tags,
                "Containers": [{"Name": n, "Image": i} for n, i in containers],
            }
        ]
    )


def image(backend, name="app"):
    return next(c["Image"] for c in backend.group("eci-1").spec["Container"] if c["Name"] == name)


# --- 1. no room for the record ---------------------------------------------------------------------


@pytest.mark.parametrize("own_tags", [16, 17, 19, 20])
def test_a_group_without_room_for_its_record_keeps_its_version_in_the_image(eci, make_rules, own_tags):
    seed(eci.backend, [("app", f"{HOST}/team/web:1.4.5")], own_tags)
    rules = make_rules(web({"semver": "^1.0.0"}))
    first = run([push("1.4.6", DIGEST_B)], rules, eci.gateway, {})
    assert [o.status for o in first.outcomes] == ["applied"]
    # The record's tag does not fit: the running image itself names the version, pinned to the digest.
    assert image(eci.backend) == f"{HOST}/team/web:1.4.6@{DIGEST_B}"
    tags = {t["Key"]: t["Value"] for t in eci.backend.group("eci-1").spec["Tag"]}
    assert len(tags) <= tracking.MAX_TAGS and tracking.TAG not in tags
    (step,) = first.plan.steps
    assert any("no room on the group to record tag 1.4.6" in n for n in step.notes)
    # The hotfix below it is then refused, not deployed 1.4.6 -> 1.4.3 (the hole).
    hotfix = run([push("1.4.3", DIGEST_C, minutes=5)], rules, eci.gateway, {})
    assert hotfix.outcomes == []
    assert [s.reason for s in hotfix.plan.skipped] == ["would downgrade 1.4.6 -> 1.4.3"]
    assert image(eci.backend) == f"{HOST}/team/web:1.4.6@{DIGEST_B}"
    # ... and a redelivery of 1.4.6 is already running, a higher push still goes.
    again = run([push("1.4.6", DIGEST_B, minutes=6)], rules, eci.gateway, {})
    assert again.outcomes == [] and again.plan.skipped[0].reason.startswith("already running")
    newer = run([push("1.4.7", DIGEST_C, minutes=7)], rules, eci.gateway, {})
    assert [o.status for o in newer.outcomes] == ["applied"]
    assert image(eci.backend) == f"{HOST}/team/web:1.4.7@{DIGEST_C}"


def test_with_room_the_image_stays_a_plain_digest_and_the_record_holds_the_tag(eci, make_rules):
    seed(eci.backend, [("app", f"{HOST}/team/web:1.4.5")], own_tags=15)  # 15 + 5 tracking tags = 20
    rules = make_rules(web({"semver": "^1.0.0"}))
    run([push("1.4.6", DIGEST_B)], rules, eci.gateway, {})
    assert image(eci.backend) == f"{HOST}/team/web@{DIGEST_B}"
    tags = {t["Key"]: t["Value"] for t in eci.backend.group("eci-1").spec["Tag"]}
    assert tags[tracking.TAG] == "1.4.6" and len(tags) == 20


# --- 2. per targeted container ---------------------------------------------------------------------

SIDECAR = {"containers": ["sidecar"]}


def sidecar_group(backend, sidecar, app):
    seed(backend, [("app", f"{HOST}/team/web:{app}"), ("sidecar", f"{HOST}/team/web:{sidecar}")])


@pytest.mark.parametrize(
    ("updates", "sidecar", "app", "pushed", "moves"),
    [
        # the issue: the untargeted app container on 2.0.0 let the sidecar jump 1.2.0 -> 2.1.0 ...
        ("minor", "1.2.0", "2.0.0", "2.1.0", False),
        # ... and wrongly skipped 1.3.0 (2.0.0 -> 1.3.0 "would downgrade")
        ("minor", "1.2.0", "2.0.0", "1.3.0", True),
        # with patch and app on 1.4.5, the sidecar went 1.2.0 -> 1.4.6
        ("patch", "1.2.0", "1.4.5", "1.4.6", False),
        ("patch", "1.2.0", "1.4.5", "1.2.1", True),
        # no updates key: only the downgrade guard, also per targeted container
        (None, "1.2.0", "2.0.0", "1.3.0", True),
        (None, "1.4.0", "1.0.0", "1.3.0", False),
    ],
)
def test_updates_and_the_guard_judge_the_targeted_container_only(eci, make_rules, updates, sidecar, app, pushed, moves):
    sidecar_group(eci.backend, sidecar, app)
    tags = {"semver": "*", **({"updates": updates} if updates else {})}
    rules = make_rules(web(tags, **SIDECAR))
    report = run([push(pushed, DIGEST_B)], rules, eci.gateway, {})
    assert bool(report.outcomes) is moves, report.plan.skipped
    assert image(eci.backend, "app") == f"{HOST}/team/web:{app}"  # never targeted
    if moves:
        assert image(eci.backend, "sidecar") == f"{HOST}/team/web@{DIGEST_B}"
    else:
        assert image(eci.backend, "sidecar") == f"{HOST}/team/web:{sidecar}"
        assert report.plan.skipped[0].reason.startswith(("updates:", "would downgrade"))


def test_without_containers_each_container_of_the_repository_is_held_to_its_own_line(make_rules):
    from helpers import group

    rules = make_rules(web({"semver": "*", "updates": "minor"}))
    g = group("eci-1", f"{HOST}/team/web:1.2.0", f"{HOST}/team/web:2.0.0")
    (step,) = plan_event(push("2.1.0"), rules, [g], {}).steps
    assert [(c["Name"], c["Image"]) for c in step.body["Container"]] == [("c2", f"{HOST}/team/web@{DIGEST_A}")]
    assert any(n.startswith("c1: updates: minor") and "leaves 1.x" in n for n in step.notes)


def test_a_restart_is_held_when_any_targeted_container_says_no(make_rules):
    from helpers import group

    rules = make_rules(web({"semver": "*", "updates": "minor"}, action="restart"))
    g = group("eci-1", f"{HOST}/team/web:1.2.0", f"{HOST}/team/web:2.0.0")
    plan = plan_event(push("2.1.0"), rules, [g], {})
    assert plan.steps == []
    assert "restart moves the whole group" in plan.skipped[0].reason


# --- 3. coalescing respects each group's line ------------------------------------------------------


def test_one_delivery_with_two_lines_keeps_the_newest_of_each(eci, make_rules):
    eci.backend.seed(
        [
            {
                "ContainerGroupId": gid,
                "ContainerGroupName": gid,
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": f"{HOST}/team/web:{running}"}],
            }
            for gid, running in (("eci-one", "1.4.0"), ("eci-two", "2.0.0"))
        ]
    )
    rules = make_rules(web({"semver": "*", "updates": "minor"}))
    pushes = [push("1.5.0", DIGEST_B), push("2.1.0", DIGEST_C, minutes=1), push("1.4.9", DIGEST_A, minutes=2)]
    merged = coalesce(pushes, rules)
    assert [(s.event.tag, s.by.tag) for s in merged.superseded] == [("1.4.9", "1.5.0")]
    report = run(pushes, rules, eci.gateway, {})
    assert sorted(o.status for o in report.outcomes) == ["applied", "applied"]
    images = {g: eci.backend.group(g).spec["Container"][0]["Image"] for g in ("eci-one", "eci-two")}
    assert images == {"eci-one": f"{HOST}/team/web@{DIGEST_B}", "eci-two": f"{HOST}/team/web@{DIGEST_C}"}


def test_the_writer_never_supersedes_a_push_of_another_line(make_rules):
    from eci_redeploy.execution.writer import superseded

    rules = make_rules(web({"semver": "*", "updates": "minor"}))
    one, two = push("1.5.0"), push("2.1.0", minutes=1)
    assert superseded(one, [one, two], rules) is None
    same_line = make_rules(web({"semver": "*"}))
    assert superseded(one, [one, two], same_line) is two
