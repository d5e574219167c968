"""Tag keys and system tags, on the wire through the official SDK against the fake (issue 22 item 2,
issue 30 item 2).

Sources for the limits: CreateContainerGroupRequestTag in alibabacloud-eci20180808 ("The tag key ...
can be up to 64 characters in length ... cannot start with acs: or aliyun"; "The tag value ... up
to 128 characters"), and the ECI tags guide, https://www.alibabacloud.com/help/en/eci/user-guide/
use-tags-to-manage-elastic-container-instances (the same 64 / 128). System tags: `acs:tag:createdby`
(Resource Management's creator tag), `acs:rm:rgId` (the resource group) and
`acs:autoscaling:scalingGroupId` (Auto Scaling's instances, which a container-group rule leaves to their
scaling group: tests/execution/test_scaling_groups.py) are added by Alibaba Cloud; no request may name them.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from eci_redeploy.core.errors import EciApiError, PlanningError
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.apply import apply_plan
from eci_redeploy.fake import models as fake_models
from eci_redeploy.gates import store
from eci_redeploy.gates.evaluate import Approval
from eci_redeploy.planning import tracking
from eci_redeploy.planning.planner import plan_event

from helpers import DIGEST_A, DIGEST_B, group, rule

REGION = "cn-hangzhou"
HOST = "reg.example.com"
LONG = "r" * 40 + "-" + "s" * 22  # 63 characters: the longest rule name the rules file allows
# (not acs:autoscaling:scalingGroupId: a group a scaling group owns is left to it, planner.owned)
SYSTEM = {"acs:tag:createdby": "ram:1234:alice", "acs:rm:rgId": "rg-acfm2x"}
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _rule(name, **kw):
    return rule(name, pull={"public": [HOST]}, **kw)


def _seed(backend, gid="eci-1", tags=None, system=True):
    # Seeding is the fake's control path (what ECI itself put on the group): system tags included.
    backend.seed(
        [
            {
                "ContainerGroupId": gid,
                "ContainerGroupName": gid,
                "RegionId": REGION,
                "Containers": [{"Name": "app", "Image": f"{HOST}/team/web:1"}],
                "Tags": [
                    {"Key": k, "Value": v}
                    for k, v in {"app": "web", **(SYSTEM if system else {}), **(tags or {})}.items()
                ],
            }
        ]
    )


def _tags(eci, gid="eci-1"):
    (g,) = eci.gateway.describe(REGION, ids=[gid])
    return g.tag_map


def _push(tag="2", digest=DIGEST_A, time=T0, event_id="e1"):
    return PushEvent("team/web", tag, digest, "distribution", event_id, time=time, registry_host=HOST)


def _apply(eci, rules, event, only=None):
    groups = eci.gateway.describe(REGION)
    plan = plan_event(event, rules, groups, {}, only=only)
    report = apply_plan(plan, eci.gateway, rules=rules)
    eci.backend.settle()
    return plan, report


@pytest.mark.parametrize("action", ["CreateContainerGroup", "UpdateContainerGroup"])
def test_the_fake_refuses_a_key_past_64_naming_it(eci, action):
    _seed(eci.backend, system=False)
    key = "k" * 65
    body = {
        "RegionId": REGION,
        "Tag": [{"Key": "ok", "Value": "v"}, {"Key": key, "Value": "v"}],
        "Container": [{"Name": "app", "Image": f"{HOST}/team/web:2"}],
    }
    body.update(
        {"ContainerGroupName": "new"}
        if action == "CreateContainerGroup"
        else {"ContainerGroupId": "eci-1", "UpdateType": "IncrementalUpdate"}
    )
    with pytest.raises(EciApiError) as err:
        eci.gateway.call(action, body)
    assert err.value.code == "InvalidParameter.Tag" and key in str(err.value)
    ok = {**body, "Tag": [{"Key": "k" * 64, "Value": "v" * 128}]}
    eci.gateway.call(action, ok)  # 64 and 128 are allowed


def test_an_update_of_a_group_with_system_tags_goes_through_and_keeps_them(eci, make_rules):
    """Issue 30 item 2: the planner copied group.tags, system tags included, into every update."""
    _seed(eci.backend)
    rules = make_rules(_rule("web"))
    plan, report = _apply(eci, rules, _push())
    assert [o.status for o in report.outcomes] == ["applied"], report.outcomes
    (step,) = plan.steps
    for body in (step.body, step.rollback):
        assert not [t for t in body["Tag"] if t["Key"].startswith(("acs:", "aliyun"))]
    tags = _tags(eci)
    assert {k: tags[k] for k in SYSTEM} == SYSTEM and tags["app"] == "web"
    assert tracking.applied(tags, "web").digest == DIGEST_A
    eci.gateway.call("UpdateContainerGroup", step.rollback)  # the rollback goes through too
    eci.backend.settle()
    assert {k: _tags(eci)[k] for k in SYSTEM} == SYSTEM


def test_a_replace_does_not_copy_system_tags_into_the_successor(eci, make_rules):
    _seed(eci.backend)
    template = {"ContainerGroupName": "eci-1", "Container": [{"Name": "app", "Image": f"{HOST}/team/web:1"}]}
    rules = make_rules(_rule("web", action="replace", template="t.yaml"), templates={"t.yaml": template})
    _, report = _apply(eci, rules, _push())
    assert [o.status for o in report.outcomes] == ["applied", "applied"], report.outcomes
    (successor,) = eci.gateway.describe(REGION)
    assert successor.id != "eci-1" and successor.tag_map["app"] == "web"
    assert not [k for k in successor.tag_map if k.startswith("acs:")]


def test_a_63_character_rule_writes_keys_within_64_on_every_path(eci, make_rules):
    """The update's record, another rule's entry, a restart's record, a hold and an early signature."""
    _seed(eci.backend)
    rules = make_rules(_rule(LONG), _rule("other"), _rule("rst", action="restart"))
    _apply(eci, rules, _push(), only=LONG)
    _apply(eci, rules, _push(tag="3", digest=DIGEST_B, event_id="e2"), only="other")
    tags = _tags(eci)
    assert tracking.applied(tags, LONG).digest == DIGEST_A  # the long rule's record, now in its entry
    assert tracking.rule_key(tracking.ENTRY, LONG) in tags
    _, report = _apply(eci, rules, _push(tag="4", digest="sha256:" + "4" * 64, event_id="e3"), only="rst")
    assert [o.status for o in report.outcomes] == ["applied"], report.outcomes
    tags = _tags(eci)
    held = store.Held(LONG, "sha256:" + "5" * 64, "5", "held", 1, 2, ("scan",), Approval("ops@example.com", T0))
    writes, _ = store.writes(tags, held)
    signed, _ = store.signed_writes(tags, "sha256:" + "6" * 64, "team/web", 3)
    written = {**tags, **writes, **signed}
    assert all(len(k) <= 64 and len(v) <= 128 for k, v in written.items() if not k.startswith("acs:")), written
    assert store.read(written, LONG).version == "sha256:" + "5" * 64
    assert store.signed_in(written, "sha256:" + "6" * 64, "team/web")


def test_a_group_with_old_long_keys_is_still_understood(eci, make_rules):
    """Keys an earlier version wrote with the whole rule name (and the whole digest) past 64 characters."""
    old = {
        "eci-redeploy.digest": DIGEST_B,
        "eci-redeploy.rule": "web",
        "eci-redeploy.tag": "3",
        "eci-redeploy.applied." + LONG: f"{int(T0.timestamp() * 1000)};2;{DIGEST_A}",
        "eci-redeploy.held." + LONG: DIGEST_A,
        "eci-redeploy.held-rule": "web",
        "eci-redeploy.held-info." + LONG: "held;-;1;scan;2",
        "eci-redeploy.signed." + "6" * 64: "3;team/web",
    }
    assert max(len(k) for k in old) > 64
    assert tracking.applied(old, LONG).digest == DIGEST_A
    assert store.read(old, LONG).version == DIGEST_A and store.read(old, LONG).tag == "2"
    assert store.signed_in(old, "sha256:" + "6" * 64, "team/web")
    assert set(store.keys_of(old, LONG)) == {"eci-redeploy.held." + LONG, "eci-redeploy.held-info." + LONG}
    # through an update on the fake (which refuses keys past 64): carried under the new keys, still read
    # (TagResources, as the earlier version wrote them, allows 128: that is how they got there)
    _seed(eci.backend, tags=old)
    rules = make_rules(_rule("web"), _rule(LONG))
    _, report = _apply(eci, rules, _push(tag="4", digest="sha256:" + "4" * 64, event_id="e4"), only="web")
    assert [o.status for o in report.outcomes] == ["applied"], report.outcomes
    tags = _tags(eci)
    assert all(len(k) <= 64 for k in tags), tags
    assert tracking.applied(tags, LONG).digest == DIGEST_A and tracking.applied(tags, "web").digest.endswith("4")
    assert store.read(tags, LONG).version == DIGEST_A
    assert store.signed_in(tags, "sha256:" + "6" * 64, "team/web")


def _merging(have, sent):
    merged = {t["Key"]: t.get("Value", "") for t in have}
    merged.update({t["Key"]: t.get("Value", "") for t in sent})
    return [{"Key": k, "Value": v} for k, v in merged.items()]


@pytest.mark.parametrize("semantics", ["replace", "merge"])
def test_the_group_reads_the_same_whether_tag_n_replaces_or_merges(eci, make_rules, monkeypatch, semantics):
    """No public document settles whether UpdateContainerGroup's Tag.N replaces the group's tags or
    merges into them (docs/fake.md): the product's requests must leave the same record either way. A
    push without a time (the reconcile's) must not leave the earlier push's time behind: an older
    event would otherwise be refused against it."""
    if semantics == "merge":
        monkeypatch.setattr(fake_models, "replaced_tags", _merging)
    _seed(eci.backend, tags={"team": "payments"})
    rules = make_rules(_rule("web"))
    _apply(eci, rules, _push())
    assert tracking.applied(_tags(eci), "web").event_time_ms == int(T0.timestamp() * 1000)
    _, report = _apply(eci, rules, _push(tag="3", digest=DIGEST_B, time=None, event_id="e2"))
    assert [o.status for o in report.outcomes] == ["applied"], report.outcomes
    tags = _tags(eci)
    done = tracking.applied(tags, "web")
    assert (done.digest, done.event_time_ms, tags["team"], tags["acs:tag:createdby"]) == (
        DIGEST_B,
        None,
        "payments",
        SYSTEM["acs:tag:createdby"],
    )


@pytest.mark.parametrize("semantics", ["replace", "merge"])
def test_a_released_hold_is_gone_whether_tag_n_replaces_or_merges(make_rules, monkeypatch, semantics):
    """The release's update carries the group's tags without the rule's hold: left out, a merging
    Tag.N would keep the hold; written empty, it reads as no hold both ways (store.read)."""
    from gates_stage import INSTANCE, REPO, Stage, digest, image

    if semantics == "merge":
        monkeypatch.setattr(fake_models, "replaced_tags", _merging)
    s = Stage(make_rules, {"scan": {"max_severity": "medium"}})
    try:
        s.push("1.1.0", 1)
        assert store.read(s.tags()) is not None
        s.acr.set_scan(INSTANCE, REPO, "1.1.0", digest(1), medium=3, low=7)
        s.later(minutes=4)
        assert s.event("ScanCompleted", "1.1.0", 1)["ok"] and set(s.images().values()) == {image(1)}
        assert store.read(s.tags()) is None and s.status()["held"] == []
    finally:
        s.close()


@pytest.mark.parametrize("key", ["k" * 65, "acs:tag:createdby"])
@pytest.mark.parametrize("action", ["create", "replace"])
def test_a_template_tag_ecis_refuses_is_a_planning_error_naming_it(make_rules, key, action):
    """One clear error before anything is sent, not a CreateContainerGroup refused by ECI."""
    template = {
        "ContainerGroupName": "web",
        "Container": [{"Name": "app", "Image": f"{HOST}/team/web:1"}],
        "Tag": [{"Key": "app", "Value": "web"}, {"Key": key, "Value": "x"}],
    }
    rules = make_rules(_rule("web", action=action, template="t.yaml"), templates={"t.yaml": template})
    with pytest.raises(PlanningError, match=key[:20]):
        plan_event(_push(), rules, [group("eci-1", f"{HOST}/team/web:1")], {})


def test_docs_list_every_tag_key_the_product_writes():
    """docs/rules.md, "How the tracking keys are built", says every key eci-redeploy writes and its
    format (issue 22 item 2). The keys are the modules' constants; each must be in that table (the
    rollout's marks, the freeze and the scaling groups' records came after the table was written)."""
    import re

    from eci_redeploy.gates import store as gates_store
    from eci_redeploy.planning import batchmark, scaling

    from helpers import ROOT

    keys = {
        v
        for m in (tracking, batchmark, scaling, gates_store)
        for v in vars(m).values()
        if isinstance(v, str) and v.startswith(tracking.PREFIX) and v != tracking.PREFIX
    }
    text = (ROOT / "docs" / "rules.md").read_text()
    section = text[text.index("### How the tracking keys are built") :]
    section = section[: section.index("\n## ")] if "\n## " in section else section
    # a row's keys: `eci-redeploy.digest`, `.event-time` (the prefix written once), `eci-redeploy.held.<rule part>`
    shown = set()
    for cell in re.findall(r"`([^`]+)`", section):
        if cell.startswith(tracking.PREFIX):
            shown.add(re.sub(r"<[^>]*>$", "", cell))
        elif re.fullmatch(r"\.[a-z-]+", cell):
            shown.add(tracking.PREFIX + cell[1:])
    missing = sorted(k for k in keys if k not in shown)
    assert missing == [], missing
    assert all(len(k) <= 64 for k in keys)
