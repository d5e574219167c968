"""Apply: ordering and dependencies of steps, reporting, and that no-match events cost no ECI call."""

from eci_redeploy.events.adapters import parse_payload
from eci_redeploy.events.model import PushEvent
from eci_redeploy.pipeline import run

from helpers import DIGEST_A, rule

EE = "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
TEMPLATE = {"ContainerGroupName": "web", "Container": [{"Name": "app", "Image": f"{EE}/team/web:1"}]}


def seed(eci, *groups):
    eci.backend.seed(
        [
            {
                "ContainerGroupId": gid,
                "ContainerGroupName": name,
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": image}],
            }
            for gid, name, image in groups
        ]
    )


def push(tag="1.4.0", digest=DIGEST_A):
    return [
        PushEvent(
            "team/web",
            tag,
            digest,
            "acr-eventbridge",
            "ev-1",
            instance_id="cri-abc123",
            instance_name="acme",
            region="cn-hangzhou",
        )
    ]


def test_update_reports_request_ids_and_results(eci, make_rules):
    seed(eci, ("eci-1", "web-a", f"{EE}/team/web:1"), ("eci-2", "web-b", f"{EE}/team/web:1"))
    report = run(push(), make_rules(rule("web")), eci.gateway, {})
    assert [o.status for o in report.outcomes] == ["applied", "applied"]
    assert all(o.request_id and o.result["images"]["app"] == f"{EE}/team/web@{DIGEST_A}" for o in report.outcomes)
    assert len(eci.backend.mutating_calls()) == 2


def test_replace_keeps_the_old_group_when_the_successor_cannot_be_created(eci, make_rules):
    seed(eci, ("eci-1", "web", f"{EE}/team/web:1"))
    eci.backend.faults.actions = ("CreateContainerGroup",)
    eci.backend.faults.throttle_share = 1.0
    rules = make_rules(rule("web", action="replace", template="t.yaml"), templates={"t.yaml": TEMPLATE})
    report = run(push(), rules, eci.gateway, {})
    assert [(o.step.action, o.status) for o in report.outcomes] == [
        ("CreateContainerGroup", "failed"),
        ("DeleteContainerGroup", "not-attempted"),
    ]
    assert report.failed and "eci-1" in eci.backend.groups
    assert eci.backend.mutating_calls() == []


def test_an_event_no_rule_watches_makes_no_ecI_call(eci, make_rules):
    report = run(parse_payload(b'{"image": "reg.example.com/other/repo:1"}'), make_rules(rule("web")), eci.gateway, {})
    assert report.outcomes == [] and eci.backend.calls == []
    assert report.to_json()["skipped"][0]["reason"] == "no rule watches other/repo"


def test_failed_step_does_not_stop_the_others(eci, make_rules):
    seed(eci, ("eci-1", "web-a", f"{EE}/team/web:1"), ("eci-2", "web-b", f"{EE}/team/web:1"))
    eci.backend.groups["eci-1"].status = "Updating"  # changes between describe and update
    eci.backend.groups["eci-1"].next_status = None
    rules = make_rules(rule("web"))
    from eci_redeploy.execution.apply import apply_plan, observe
    from eci_redeploy.planning.decide import decide

    parsed = push()
    groups = observe(eci.gateway, parsed, rules)
    for g in groups:
        object.__setattr__(g, "status", "Running")  # as observed a moment earlier
    report = apply_plan(decide(parsed, rules, groups, {}), eci.gateway)
    assert [(o.step.target, o.status, o.code) for o in report.outcomes] == [
        ("eci-1", "failed", "IncorrectStatus"),
        ("eci-2", "applied", None),
    ]


def test_a_restart_is_recorded_in_one_tag_call_and_a_second_run_restarts_nothing(eci, make_rules):
    """In process and on the wire: the restarted groups share one TagResources call (same tags); then a
    push without a digest or a time, whose record clears the earlier push's time with an empty value."""
    import dataclasses
    from datetime import datetime, timezone

    from eci_redeploy.planning import tracking

    seed(eci, *((f"eci-{i}", f"web-{i}", f"{EE}/team/web:latest") for i in range(3)))
    rules = make_rules(rule("web", action="restart", tags={"exact": "latest"}))
    timed = dataclasses.replace(push("latest")[0], time=datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc))
    report = run([timed], rules, eci.gateway, {})
    assert [o.status for o in report.outcomes] == ["applied"] * 3
    (tagged,) = [c for c in eci.backend.calls if c.action == "TagResources"]
    assert sorted(v for k, v in tagged.params.items() if k.startswith("ResourceId.")) == ["eci-0", "eci-1", "eci-2"]
    again = run([timed], rules, eci.gateway, {})
    assert again.outcomes == [] and len(eci.backend.mutating_calls("RestartContainerGroup")) == 3
    untimed = dataclasses.replace(push("latest", None)[0], event_id="ev-2")
    assert [o.status for o in run([untimed], rules, eci.gateway, {}).outcomes] == ["applied"] * 3
    tags = {t["Key"]: t["Value"] for t in eci.backend.group("eci-0").spec["Tag"]}
    assert tags["eci-redeploy.digest"].startswith(":latest#") and tags["eci-redeploy.previous"] == DIGEST_A
    assert tags["eci-redeploy.event-time"] == "" and tracking.applied(tags).event_time_ms is None
    assert [o.status for o in run([untimed], rules, eci.gateway, {}).outcomes] == []
    assert [g.restart_count for g in eci.backend.groups.values()] == [2, 2, 2]
