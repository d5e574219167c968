"""Notifications against local HTTP servers that check what DingTalk, Slack and a signed generic
webhook would check: signatures, bodies, one message per rollout, and that a dead endpoint never
breaks a deploy."""

import base64
import hashlib
import hmac
import json
import time
import urllib.parse

import pytest

from eci_redeploy.events.model import PushEvent
from eci_redeploy.pipeline import run
from notify_stage import DING_SECRET, HOOK_SECRET, Receiver, push, setup


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def dingtalk_accepts(request, secret, now_ms):
    """What DingTalk's robot endpoint checks."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(request["path"]).query)
    timestamp, sign = query["timestamp"][0], query["sign"][0]
    if abs(now_ms - int(timestamp)) > 3600_000:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest())
    return hmac.compare_digest(expected.decode(), sign) and query["access_token"] == ["robot-token"]


def test_one_signed_message_per_rollout_on_every_channel(make_rules, receiver, monkeypatch):
    import os

    rules, _backend, gateway = setup(make_rules, receiver, monkeypatch)
    report = run(push(), rules, gateway, os.environ)
    assert [o.status for o in report.outcomes] == ["applied"] * 3
    (ding,), (slack,), (hook,) = receiver.at("/robot/send"), receiver.at("/slack"), receiver.at("/hook")
    assert dingtalk_accepts(ding, DING_SECRET, int(time.time() * 1000))
    assert not dingtalk_accepts(ding, "another-secret", int(time.time() * 1000))
    markdown = json.loads(ding["body"])
    assert markdown["msgtype"] == "markdown" and "deployed" in markdown["markdown"]["title"]
    for text in (markdown["markdown"]["text"], json.loads(slack["body"])["text"]):
        assert "sha256:" + "a" * 64 in text and "eci-0" in text and "eci-2" in text and "ev-42" in text
    ts, sig = hook["headers"]["X-Eci-Redeploy-Timestamp"], hook["headers"]["X-Eci-Redeploy-Signature"]
    assert (
        sig == "sha256=" + hmac.new(HOOK_SECRET.encode(), ts.encode() + b"." + hook["body"], hashlib.sha256).hexdigest()
    )
    payload = json.loads(hook["body"])
    assert payload["outcome"] == "deployed" and payload["rule"] == "web" and len(payload["groups"]) == 3
    assert payload["event"]["id"] == "ev-42" and payload["digest"] == "sha256:" + "a" * 64


def test_ordinary_skips_send_nothing(make_rules, receiver, monkeypatch):
    import os

    rules, _backend, gateway = setup(make_rules, receiver, monkeypatch)
    run(push(), rules, gateway, os.environ)
    receiver.requests.clear()
    run(push(), rules, gateway, os.environ)  # already running: nothing to say
    assert receiver.requests == []


def test_a_rollback_is_announced(make_rules, receiver, monkeypatch):
    import os

    rules, backend, gateway = setup(make_rules, receiver, monkeypatch, batch_size=1, timeout_seconds=1)
    backend.update_seconds = 0.5
    backend.faults.broken_images = ["*sha256:" + "b" * 64]
    report = run(push("sha256:" + "b" * 64), rules, gateway, os.environ)
    assert report.outcomes[0].status == "rolled-back"
    payload = json.loads(receiver.at("/hook")[0]["body"])
    assert payload["outcome"] == "rolled-back"
    assert [g["status"] for g in payload["groups"]] == ["rolled-back", "not-attempted", "not-attempted"]


def test_a_planning_error_is_announced(make_rules, receiver, monkeypatch):
    import os

    from eci_redeploy.core.errors import PlanningError

    rules, backend, gateway = setup(make_rules, receiver, monkeypatch)
    event = [
        PushEvent("team/web", "1.4.0", "sha256:" + "c" * 64, "generic", "ev-9", registry_host="private.example.com")
    ]
    backend.seed(
        [
            {
                "ContainerGroupId": "eci-p",
                "ContainerGroupName": "p",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [{"Name": "app", "Image": "private.example.com/team/web:1"}],
            }
        ]
    )
    with pytest.raises(PlanningError):
        run(event, rules, gateway, os.environ)
    payload = json.loads(receiver.at("/hook")[0]["body"])
    assert payload["outcome"] == "error" and "private registry" in payload["detail"]


def test_deferred_too_long_is_announced(make_rules, receiver, monkeypatch):
    import os

    rules, backend, gateway = setup(make_rules, receiver, monkeypatch)
    for group in backend.groups.values():
        group.status, group.next_status = "Updating", None
    run(push(minutes_ago=1), rules, gateway, os.environ)
    assert receiver.requests == []  # deferred, but not for long
    run(push(minutes_ago=30), rules, gateway, os.environ)
    assert json.loads(receiver.at("/hook")[0]["body"])["outcome"] == "deferred"


def test_a_failing_endpoint_is_retried_and_never_fails_the_deploy(make_rules, receiver, monkeypatch, capsys):
    import os

    rules, backend, gateway = setup(make_rules, receiver, monkeypatch)
    receiver.fail_next = 1  # the first delivery (DingTalk) answers 500 once
    report = run(push(), rules, gateway, os.environ)
    assert not report.failed and len(backend.mutating_calls()) == 3
    assert len(receiver.at("/robot/send")) == 2  # retried once
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/hook")  # nothing listens there
    again = run(push("sha256:" + "d" * 64), rules, gateway, os.environ)
    assert not again.failed and len(backend.mutating_calls()) == 6
    err = capsys.readouterr().err
    assert '"kind": "notify.failed", "channel": "webhook"' in err
    assert DING_SECRET not in err and HOOK_SECRET not in err and "robot-token" not in err
