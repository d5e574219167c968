"""The webhook answers from what it knows without ECI (issue 25, issue 22 item 6): authentication,
parsing, the rules. Its preview of the plan is optional (`?preview=1`), an ECI error never costs the
delivery, and a missing worker is a configuration error (500), not a "retry" (503). Through the FC
handlers, the real SDK hooked at its transport, the in-process fake ECI (the `fc` fixture)."""

from __future__ import annotations

import json
import logging

import pytest

from fcfixtures import DATA, TOKEN, fc_context, http_event

EVENTS = DATA.parent.parent / "events"


@pytest.fixture
def held(fc, monkeypatch):
    """The default webhook (no preview) with the worker held back: what the webhook alone costs."""
    monkeypatch.delenv("ECI_REDEPLOY_WEBHOOK_PREVIEW")
    queued: list = []
    fc.dispatcher.work, fc.run_worker = queued.append, fc.dispatcher.work
    fc.queued = queued
    return fc


def call(body: bytes, **query: str) -> tuple[int, dict]:
    from eci_redeploy.functions import webhook

    reply = webhook.handle(http_event(body, query={"token": TOKEN, **query}), fc_context(), default_rules=DATA / "x")
    return reply["statusCode"], json.loads(reply["body"])


def test_a_delivery_costs_the_webhook_no_eci_call_and_the_worker_a_describe_an_update_and_a_health_look(held):
    status, body = call((EVENTS / "distribution-push.json").read_bytes())
    assert status == 202 and body["accepted"] is True and len(held.queued) == 1
    assert held.backend.calls == []  # before: a DescribeContainerGroups for the preview on every delivery
    assert [r["rule"] for r in body["rules"]] == ["distribution"] and body["actions"] == []
    assert "?preview=1" in body["preview"]
    held.run_worker(held.queued[0])
    assert [c.action for c in held.backend.calls] == [
        "DescribeContainerGroups",
        "UpdateContainerGroup",
        "DescribeContainerGroups",
    ]  # the change, its health look


def test_a_throttled_preview_still_hands_the_push_off(held):
    """Before: the preview's describe, throttled past the gateway's retries, turned into a 503 although
    the hand-off alone would have succeeded (14 of 500 deliveries in issue 25's load run)."""
    held.backend.faults.throttle_share = 1.0
    status, body = call((EVENTS / "distribution-push.json").read_bytes(), preview="1")
    assert status == 202, body
    assert body["accepted"] is True and body["preview"].startswith("unavailable") and len(held.queued) == 1


def test_the_preview_on_request_shows_the_plan(held):
    status, body = call((EVENTS / "distribution-push.json").read_bytes(), preview="1")
    assert status == 202 and [a["target"] for a in body["actions"]] == ["eci-self"]
    assert [c.action for c in held.backend.calls] == ["DescribeContainerGroups"]


def test_no_worker_configured_is_a_500_logged_once(fc, mocker, caplog):
    """A configuration error no retry fixes: 500 (a registry retries a 503 for nothing), logged once."""
    from eci_redeploy.execution.dispatch import dispatcher_from_settings
    from eci_redeploy.functions import runtime as common
    from eci_redeploy.functions import webhook

    mocker.patch.object(
        common, "dispatcher_factory", side_effect=lambda settings, env, ctx: dispatcher_from_settings(settings, None)
    )
    webhook._LOGGED.clear()
    body = (EVENTS / "distribution-push.json").read_bytes()
    with caplog.at_level(logging.INFO, logger="eci_redeploy"):
        replies = [call(body), call(body.replace(b"1.4.0", b"1.4.1"))]
    assert [status for status, _ in replies] == [500, 500]
    assert "ECI_REDEPLOY_WORKER_FUNCTION is not set" in replies[0][1]["error"]
    assert sum("webhook.misconfigured" in r.getMessage() for r in caplog.records) == 1
