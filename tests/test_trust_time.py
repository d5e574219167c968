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
from datetime import datetime, timedelta, timezone

import pytest
import yaml

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
