"""Issue 23 items 1-4: nothing a payload says about time, identity or evidence is taken on faith.
Each attack as it was reported, through the function entry points, with ECI on the wire (the fake's
HTTP server, the real SDK): the refusal, and no ECI mutation or notification it should not cause.

Sources of the shapes used here:
- the Distribution notification: distribution/distribution docs/content/about/notifications.md
  ("Envelope": `events[].timestamp`, `target.digest`, `target.tag`), as events/distribution-push.json;
- ACR EE's ScanCompleted / SigningCompleted: the published data family (InstanceId, RepoNamespaceName,
  RepoName, Tag, Digest) of Alibaba Cloud's EventBridge "Container Registry events" page, built by
  eci_redeploy.fake.acr_gates.artifact_event (no result body is published: tests/payloads/SOURCES.md).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from eci_redeploy.execution.executor import Executor
from eci_redeploy.planning import tracking
from fcfixtures import TOKEN, fc_context, http_event

from helpers import EVENTS, ROOT

HOST = "10.0.0.5:5000"
TEMPLATE = json.loads((EVENTS / "distribution-push.json").read_text())["events"][1]
RULES = {
    "version": 1,
    "rules": [
        {
            "name": "web",
            "source": {"repository": "team/web", "registry": HOST, "tags": {"glob": "*"}},
            "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"name": "web-selfhosted"}},
            "pull": {"plain_http": [HOST]},
        }
    ],
}


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def distribution(*pushes: tuple[str, int, str]) -> dict:
    """An envelope of manifest pushes (tag, digest number, timestamp)."""
    events = []
    for tag, n, when in pushes:
        item = json.loads(json.dumps(TEMPLATE))
        item["id"] = f"ev-{tag}-{n}-{when}"
        item["timestamp"] = when
        item["target"].update({"tag": tag, "digest": digest(n)})
        events.append(item)
    return {"events": events}


@pytest.fixture
def wire(mocker, monkeypatch, tmp_path):
    """The webhook and worker functions with ECI on the wire: the fake's HTTP server, the real SDK."""
    from eci_redeploy.clients.eci import RetryPolicy
    from eci_redeploy.execution.dispatch import InlineDispatcher
    from eci_redeploy.fake.embedded import gateway_for
    from eci_redeploy.fake.server import FakeEciServer
    from eci_redeploy.functions import push_worker, webhook
    from eci_redeploy.functions import runtime as common

    for key in [k for k in __import__("os").environ if k.startswith(("ECI_REDEPLOY_", "ALIBABA_CLOUD_"))]:
        monkeypatch.delenv(key)
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(RULES))
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(rules))
    monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "0")
    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_TOKEN", TOKEN)
    server = FakeEciServer().start()
    server.backend.seed(
        [
            {
                "ContainerGroupId": "eci-self",
                "ContainerGroupName": "web-selfhosted",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Containers": [{"Name": "app", "Image": f"{HOST}/team/web:1.3.0"}],
            }
        ]
    )
    retry = RetryPolicy(max_attempts=3, initial=0.001, maximum=0.002)
    mocker.patch.object(common, "gateway_factory", side_effect=lambda env, ctx: gateway_for(server, retry=retry))

    def work(order):
        return push_worker.handle_work(order.model_dump_json().encode(), fc_context("worker"), default_rules=rules)

    dispatcher = InlineDispatcher(work, background=False)
    mocker.patch.object(common, "dispatcher_factory", return_value=dispatcher)
    webhook.GUARD.__init__()
    yield server.backend
    server.stop()


def send(body: dict) -> tuple[int, dict]:
    from eci_redeploy.functions import webhook

    response = webhook.handle(http_event(json.dumps(body), query={"token": TOKEN}), fc_context(), default_rules=ROOT)
    return response["statusCode"], json.loads(response["body"])


def image(backend) -> str:
    return backend.group("eci-self").spec["Container"][0]["Image"]


def tags(backend) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in backend.group("eci-self").spec.get("Tag") or []}


# ---- 1. a push dated in the future ---------------------------------------------------------------------


def test_1_a_push_dated_2099_is_refused_and_the_next_genuine_push_still_deploys(wire, capsys):
    now = datetime.now(timezone.utc)
    status, body = send(distribution(("1.5.0", 5, stamp(now - timedelta(minutes=1)))))
    assert status == 202, body
    assert image(wire) == f"{HOST}/team/web@{digest(5)}"
    before = len(wire.mutating_calls())
    capsys.readouterr()

    # The attack: an older real tag, dated 2099 (a glob rule: time alone orders its pushes).
    status, body = send(distribution(("1.4.0", 4, "2099-01-01T00:00:00Z")))
    assert status == 400, body
    assert "push time 2099-01-01T00:00:00+00:00 is later than its receipt" in body["error"]
    assert len(wire.mutating_calls()) == before and image(wire) == f"{HOST}/team/web@{digest(5)}"
    audit = [json.loads(line) for line in capsys.readouterr().err.splitlines() if '"audit"' in line]
    assert [(a["outcome"], a["event_source"]) for a in audit] == [("refused", "distribution")]
    assert "ECI_REDEPLOY_MAX_CLOCK_SKEW_SECONDS" in audit[0]["reason"]

    # Nothing recorded of 2099: the next genuine push deploys.
    assert int(tags(wire)[tracking.EVENT_TIME]) < int((now + timedelta(minutes=5)).timestamp() * 1000)
    status, body = send(distribution(("1.6.0", 6, stamp(datetime.now(timezone.utc)))))
    assert status == 202, body
    assert image(wire) == f"{HOST}/team/web@{digest(6)}"


def test_1_in_one_delivery_the_forged_push_is_refused_and_the_genuine_one_deploys(wire):
    now = datetime.now(timezone.utc)
    status, body = send(distribution(("1.5.0", 5, stamp(now)), ("1.4.0", 4, "2099-01-01T00:00:00Z")))
    assert status == 202, body
    rejected = [e for e in body["events"] if e.get("status") == "rejected"]
    assert [e["index"] for e in rejected] == [1] and "later than its receipt" in rejected[0]["reason"]
    assert image(wire) == f"{HOST}/team/web@{digest(5)}"
    assert len(wire.mutating_calls()) == 1


def test_1_within_the_skew_a_push_goes_as_before(wire):
    status, body = send(distribution(("1.5.0", 5, stamp(datetime.now(timezone.utc) + timedelta(minutes=4)))))
    assert status == 202, body
    assert image(wire) == f"{HOST}/team/web@{digest(5)}"


def test_1_a_group_recorded_as_2099_before_the_fix_no_longer_blocks_genuine_pushes(wire):
    group = wire.group("eci-self")
    poisoned = {tracking.DIGEST: digest(4), tracking.RULE: "web", tracking.TAG: "1.4.0"}
    poisoned[tracking.EVENT_TIME] = str(int(datetime(2099, 1, 1, tzinfo=timezone.utc).timestamp() * 1000))
    group.spec["Tag"] = [{"Key": k, "Value": v} for k, v in poisoned.items()]
    group.spec["Container"][0]["Image"] = f"{HOST}/team/web@{digest(4)}"
    status, body = send(distribution(("1.6.0", 6, stamp(datetime.now(timezone.utc)))))
    assert status == 202, body
    assert image(wire) == f"{HOST}/team/web@{digest(6)}"


def test_1_the_skew_setting_is_checked(wire, monkeypatch):
    monkeypatch.setenv("ECI_REDEPLOY_MAX_CLOCK_SKEW_SECONDS", "five minutes")
    status, body = send(distribution(("1.5.0", 5, stamp(datetime.now(timezone.utc)))))
    assert status == 500 and "ECI_REDEPLOY_MAX_CLOCK_SKEW_SECONDS must be a whole number" in body["error"]
    assert wire.mutating_calls() == []


def test_1_the_bound_is_receipt_plus_the_skew_exactly():
    from eci_redeploy.core import clock
    from eci_redeploy.core.errors import ConfigError

    received, skew = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc), timedelta(minutes=5)
    assert clock.ahead_of(received + skew, received, skew) is None  # at the bound: accepted
    assert clock.ahead_of(received - timedelta(days=3650), received, skew) is None  # the past is never refused
    assert "refused" in (clock.ahead_of(received + skew + timedelta(milliseconds=1), received, skew) or "")
    assert clock.skew({}) == skew and clock.skew({clock.SKEW_ENV: "0"}) == timedelta(0)
    for bad in ("-1", "1.5", "86401", "\uff13\uff10\uff10"):  # the last: 300 in fullwidth digits
        with pytest.raises(ConfigError, match=clock.SKEW_ENV):
            clock.skew({clock.SKEW_ENV: bad})
    ms = int(received.timestamp() * 1000)
    assert clock.trusted_ms(ms + 300_000, received) == ms + 300_000
    assert clock.trusted_ms(ms + 300_001, received) is None  # read back later than now + skew: no evidence


# ---- the gates: a stage with ECI (and ACR) on the wire and a notification endpoint -----------------------


@pytest.fixture
def stage(make_rules):
    from gates_stage import Stage

    made = []

    def build(gates, **kw):
        made.append(Stage(make_rules, gates, **kw))
        return made[-1]

    yield build
    for s in made:
        s.close()


def held(s, gid: str = "eci-0"):
    from eci_redeploy.gates import store

    return store.read(s.tags(gid))


# ---- 2. the soak gate and the payload's push time ------------------------------------------------------

Y2020 = datetime(2020, 1, 1, tzinfo=timezone.utc)


def test_2_a_push_dated_2020_waits_the_whole_soak_from_when_it_was_first_seen(stage):
    from gates_stage import image

    s = stage({"soak": "2h"})
    s.push("1.1.0", 1, at=Y2020)
    assert s.updates() == [] and s.hooks.outcomes() == ["held"]  # held and said so; nothing deployed
    assert held(s).since_ms == int(s.now.timestamp() * 1000)
    s.later(hours=1, minutes=59).tick()
    assert s.updates() == [] and s.hooks.outcomes() == ["held"]
    s.later(minutes=1).tick()
    assert set(s.images().values()) == {image(1)}


def test_2_re_sending_a_held_push_with_an_old_date_releases_nothing(stage):
    s = stage({"soak": "2h"})
    s.push("1.1.0", 1)
    first = held(s)
    s.later(minutes=1).push("1.1.0", 1, at=Y2020)  # the same push (same digest), dated 2020
    assert s.updates() == [] and s.hooks.outcomes() == ["held"]  # no release, no second notification
    again = held(s)
    assert (again.since_ms, again.pushed_ms) == (first.since_ms, first.pushed_ms)  # the first record stands
    assert s.status()["held"][0]["waiting_on"][0]["at"] == (s.now + timedelta(hours=2, minutes=-1)).isoformat()


# ---- 3. an approval is bound to the full digest, the rule and the hold's creation -----------------------


def acr_push(s, tag: str, digest_: str):
    """Stage.push with a digest of the test's choosing (ACR EE's PushCompleted, as the stage sends it)."""
    from eci_redeploy.events.model import PushEvent
    from eci_redeploy.execution.rollout import Clock
    from eci_redeploy.pipeline import run
    from gates_stage import INSTANCE, REPO

    s.events += 1
    event = PushEvent(
        REPO,
        tag,
        digest_,
        "acr-eventbridge",
        f"push-{s.events}",
        time=s.now,
        instance_id=INSTANCE,
        instance_name="acme",
        region="cn-hangzhou",
        signed=True,
    )
    clock = Clock(sleep=lambda _: None)
    return run([event], s.rules, s.gateway, s.env, gate_context=s.context(lookup=False), executor=Executor(clock=clock))


def approve(s, hid: str, token: str = "al1ce-token"):
    """POST /approvals/<id> as the webhook function routes it, the hand-off to the worker recorded."""
    from eci_redeploy.functions.gate_endpoints import http_route

    class Request:
        method, path = "POST", f"/approvals/{hid}"
        headers, query = {"authorization": f"Bearer {token}"}, {}

    class Dispatcher:
        def __init__(self):
            self.orders = []

        def dispatch(self, order):
            from eci_redeploy.execution.dispatch import Dispatched

            self.orders.append(order)
            return Dispatched(order.task_id, "test")

    dispatcher = Dispatcher()
    return http_route(Request(), None, s.rules, s.env, s.gateway, dispatcher, now=lambda: s.now), dispatcher.orders


def test_3_an_approval_of_what_was_shown_never_deploys_a_digest_sharing_its_first_12_digits(stage, monkeypatch):
    from eci_redeploy.gates import store

    s = stage({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}}, tags={"glob": "1.*"})
    shown_digest, twin = "sha256:" + "ab" * 32, "sha256:" + "ab" * 6 + "cd" * 26
    assert twin[:19] == shown_digest[:19] and twin != shown_digest  # the first 12 hex digits alike
    acr_push(s, "1.4.0", shown_digest)
    [shown] = s.hooks.bodies
    hid = held(s).id
    assert f"/approvals/{hid}" in shown["detail"] and len(hid.rpartition(".")[2]) == 32  # 128 bits
    # The attack: the same tag pushed again with the twin digest; then the shown id is approved.
    acr_push(s.later(minutes=1), "1.4.0", twin)
    assert held(s).version == twin and held(s).id != hid  # a new hold: a new id, told in a new notification
    tagged = [c for c in s.backend.calls if c.action == "TagResources"]
    answer, orders = approve(s, hid)
    assert answer["statusCode"] == 404, answer
    assert orders == [] and s.updates() == [] and [c for c in s.backend.calls if c.action == "TagResources"] == tagged
    assert store.APPROVED not in s.tags()
    # What the second notification showed is what its id approves.
    link = re.search(r"POST \S+/approvals/(\S+) ", s.hooks.bodies[-1]["detail"])
    assert link is not None and link.group(1) == held(s).id
    answer, orders = approve(s, link.group(1))
    assert answer["statusCode"] == 202, answer
    assert [e.digest for o in orders for e in o.push_events()] == [twin]


def test_3_an_approval_recorded_for_another_hold_counts_for_nothing():
    from eci_redeploy.gates import store
    from eci_redeploy.gates.evaluate import Approval

    digest_ = "sha256:" + "ab" * 32
    alice = Approval("alice", datetime(2026, 1, 1, tzinfo=timezone.utc))
    first = store.Held("web", digest_, "1.4.0", "held", None, 1_000, (), alice)
    again = first.with_(since_ms=2_000, approval=None)  # the same digest held again later
    assert first.id != again.id and first.id.startswith("web.")
    tags = {**again.tags(), store.APPROVED: first.tags()[store.APPROVED]}  # the first hold's approval
    assert store.read(tags).approval is None
    assert store.read(first.tags()).approval == first.approval
    assert store.read({**first.tags(), store.APPROVED: "alice;1700000000000"}).approval is None  # unbound (older)
    # the id binds the whole digest: any other digest, however close, another id
    assert store.approval_id("web", digest_, 1_000) != store.approval_id("web", digest_[:-1] + "c", 1_000)
    assert store.approval_id("web", digest_, 1_000) != store.approval_id("api", digest_, 1_000)


# ---- 4. evidence releases only holds on the digest it names -------------------------------------------


@pytest.mark.parametrize(
    ("kind", "result"),
    [
        ("SigningCompleted", {"SigningStatus": "SUCCESS"}),
        (
            "ScanCompleted",
            {"ScanStatus": "COMPLETE", "HighSeverity": 0, "MediumSeverity": 0, "LowSeverity": 0, "UnknownSeverity": 0},
        ),
    ],
    ids=["signing", "scan-zero-counts"],
)
def test_4_a_tag_only_scan_or_signing_event_releases_no_hold_on_a_digest(stage, kind, result):
    gate = {"signed": True} if kind == "SigningCompleted" else {"scan": {"max_severity": "medium"}}
    s = stage(gate)
    s.push("1.4.0", 0xD)
    assert held(s).digest == f"sha256:{'d' * 64}"
    notified = list(s.hooks.bodies)
    calls = len(s.backend.calls)
    out = s.event(kind, "1.4.0", None, **result)  # names tag 1.4.0 and no digest
    assert out["ok"] and "by its digest" in out["note"] and len(s.backend.calls) == calls  # not even a describe
    assert s.updates() == [] and held(s).version == f"sha256:{'d' * 64}"
    assert "scan" not in held(s).passed and "signed" not in held(s).passed
    assert s.hooks.bodies == notified  # nobody told of a release
    # the same evidence naming the held digest does release it
    s.event(kind, "1.4.0", 0xD, **result)
    assert len(s.updates()) == 2
