"""Each Function Compute entry point called as FC calls it: bytes in, an FC-shaped context, the
samples in events/. The ECI behind them is the fake (in-process), the worker runs inline."""

import json

import pytest

from fcfixtures import TOKEN, call_webhook, entry, fc_context, http_event, signed_headers

from helpers import EVENTS


def images(fc, gid):
    return [c["Image"] for c in fc.backend.group(gid).spec["Container"]]


def test_push_function_applies_the_sample_acr_ee_push(fc, monkeypatch):
    from helpers import EXAMPLES

    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(EXAMPLES / "rules.yaml"))
    fc.backend.seed(json.loads((EXAMPLES / "state.json").read_text())["ContainerGroups"])
    result = entry("push")((EVENTS / "acr-ee-push.json").read_bytes(), fc_context("push"))
    assert result["ok"] is True
    assert [(a["target"], a["status"]) for a in result["actions"]] == [
        ("eci-bp1web0000000000001", "applied"),
        ("eci-bp1web0000000000002", "applied"),
    ]
    assert [c.action for c in fc.mutations()] == ["UpdateContainerGroup"] * 2


def test_push_function_acknowledges_other_acr_event_types_without_ecI_calls(fc):
    result = entry("push")((EVENTS / "acr-ee-build-completed.json").read_bytes(), fc_context("push"))
    assert result["ok"] is True and result["actions"] == []
    assert "BuildCompleted" in result["skipped"][0]["reason"]
    assert fc.backend.calls == []


def test_push_function_bad_input_is_acknowledged_not_retried(fc):
    result = entry("push")(b"{not json", fc_context("push"))
    assert result["ok"] is False and "not valid JSON" in result["error"]
    assert fc.backend.calls == []


def test_push_function_raises_for_platform_retry_when_ecI_throttles(fc, monkeypatch):
    from eci_redeploy.core.errors import RetryLater

    from helpers import EXAMPLES

    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(EXAMPLES / "rules.yaml"))
    fc.backend.seed(json.loads((EXAMPLES / "state.json").read_text())["ContainerGroups"])
    fc.backend.faults.actions = ("UpdateContainerGroup",)
    fc.backend.faults.throttle_share = 1.0
    with pytest.raises(RetryLater, match="Throttling"):
        entry("push")((EVENTS / "acr-ee-push.json").read_bytes(), fc_context("push"))
    fc.backend.faults.throttle_share = 0.0
    result = entry("push")((EVENTS / "acr-ee-push.json").read_bytes(), fc_context("push"))  # the platform's retry
    assert result["ok"] is True and len(fc.mutations()) == 2


FORMATS = {
    # sample file, query/header auth, group that must change, expected image on it
    "acr-webhook": ("acr-webhook.json", "eci-api", "registry-vpc.cn-hangzhou.aliyuncs.com/team/api@sha256:7d2f"),
    "distribution": ("distribution-push.json", "eci-self", "10.0.0.5:5000/team/web@sha256:2222"),
    "harbor": ("harbor-push.json", "eci-harbor", "harbor.example.com/team/web@sha256:3333"),
    "dockerhub": ("dockerhub-push.json", "eci-hub", "acme/web:1.4.0"),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_webhook_happy_path(fc, fmt):
    sample, gid, image = FORMATS[fmt]
    response = call_webhook((EVENTS / sample).read_bytes(), query={"token": TOKEN})
    body = json.loads(response["body"])
    assert response["statusCode"] == 202, body
    assert body["accepted"] is True and body["task_id"].startswith("er-")
    assert [(a["action"], a["target"]) for a in body["actions"]] == [("UpdateContainerGroup", gid)]
    assert images(fc, gid)[0].startswith(image)
    assert len(fc.mutations()) == 1
    if fmt in ("acr-webhook", "dockerhub"):
        assert "not confirmed" in body["notes"][0]


def test_webhook_bearer_token(fc):
    response = call_webhook(
        (EVENTS / "distribution-push.json").read_bytes(), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response["statusCode"] == 202


def test_generic_ci_call_signed(fc):
    body = (EVENTS / "generic-ci.json").read_bytes()
    response = call_webhook(body, headers=signed_headers(body))
    assert response["statusCode"] == 202, response["body"]
    assert images(fc, "eci-acr")[0].endswith(
        "team/web@sha256:3c0b4a5e1d2f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"
    )


def test_duplicate_webhook_is_dispatched_once(fc):
    body = (EVENTS / "distribution-push.json").read_bytes()
    held = []
    apply_now, fc.dispatcher.work = fc.dispatcher.work, held.append  # the worker has not run yet
    first = json.loads(call_webhook(body, query={"token": TOKEN})["body"])
    second = json.loads(call_webhook(body, query={"token": TOKEN})["body"])
    assert first["task_id"] == second["task_id"]
    assert len(held) == 1  # the platform drops the second task with the same id
    apply_now(held[0])
    assert len(fc.mutations()) == 1
    third = json.loads(call_webhook(body, query={"token": TOKEN})["body"])  # a late redelivery
    # The preview says so, but the decision is the single writer's: the same task id, de-duplicated.
    assert any(s["reason"].startswith("already running") for s in third["skipped"])
    assert third["task_id"] == first["task_id"] and len(held) == 1
    assert len(fc.mutations()) == 1


def acr_push(digit: str, pushed_at: str) -> bytes:
    body = json.loads((EVENTS / "acr-webhook.json").read_text())
    body["push_data"].update(digest="sha256:" + digit * 64, pushed_at=pushed_at, tag="2.3.1")
    return json.dumps(body).encode()


def test_a_push_back_to_what_runs_while_a_newer_one_waits_in_the_writer_ends_on_it(fc):
    """A, then B (still waiting in the writer's queue), then A again as the newest push: the webhook's
    preview sees A running, but only the writer may decide that. Before, it answered 200 "already
    running" and the groups ended on B (found by an independent load run against serve --live)."""
    held = []
    apply_now, fc.dispatcher.work = fc.dispatcher.work, held.append
    call_webhook(acr_push("a", "2026-11-27 10:20:00"), query={"token": TOKEN})
    apply_now(held.pop())
    assert fc.backend.group("eci-api").images() == ["registry-vpc.cn-hangzhou.aliyuncs.com/team/api@sha256:" + "a" * 64]
    b = json.loads(call_webhook(acr_push("b", "2026-11-27 10:21:00"), query={"token": TOKEN})["body"])
    again = json.loads(call_webhook(acr_push("a", "2026-11-27 10:22:00"), query={"token": TOKEN})["body"])
    assert b["accepted"] is True and again["accepted"] is True, again
    for order in held:  # the writer runs them in arrival order, each against a fresh describe
        apply_now(order)
    assert fc.backend.group("eci-api").images() == ["registry-vpc.cn-hangzhou.aliyuncs.com/team/api@sha256:" + "a" * 64]


BAD_AUTH = [
    ("missing token", "acr-webhook.json", {}, {}),
    ("wrong token", "acr-webhook.json", {"token": "guess"}, {}),
    ("wrong bearer", "distribution-push.json", {}, {"Authorization": "Bearer guess"}),
    ("harbor without token", "harbor-push.json", {}, {}),
    ("dockerhub wrong token", "dockerhub-push.json", {"token": TOKEN + "x"}, {}),
    ("generic unsigned", "generic-ci.json", {"token": TOKEN}, {}),
]


@pytest.mark.parametrize(("what", "sample", "query", "headers"), BAD_AUTH, ids=[b[0] for b in BAD_AUTH])
def test_unauthenticated_requests_get_401_and_nothing_happens(fc, what, sample, query, headers):
    response = call_webhook((EVENTS / sample).read_bytes(), query=query, headers=headers)
    assert response["statusCode"] == 401
    assert fc.backend.calls == [] and len(fc.dispatcher.seen) == 0


def test_forged_generic_signature(fc):
    body = (EVENTS / "generic-ci.json").read_bytes()
    headers = signed_headers(body, secret="not-the-secret")
    assert call_webhook(body, headers=headers)["statusCode"] == 401
    tampered = body.replace(b"1.4.0", b"1.9.0")
    assert call_webhook(tampered, headers=signed_headers(body))["statusCode"] == 401
    assert fc.backend.calls == []


def test_replayed_signed_request(fc):
    import time

    body = (EVENTS / "generic-ci.json").read_bytes()
    headers = signed_headers(body)
    assert call_webhook(body, headers=headers)["statusCode"] == 202
    replay = call_webhook(body, headers=headers)
    assert replay["statusCode"] == 401 and "replay" in replay["body"]
    stale = call_webhook(body, headers=signed_headers(body, at=time.time() - 3600))
    assert stale["statusCode"] == 401 and "replay window" in stale["body"]
    assert len(fc.mutations()) == 1


@pytest.mark.parametrize(
    "sample",
    ["acr-webhook.json", "distribution-push.json", "harbor-push.json", "dockerhub-push.json", "generic-ci.json"],
)
def test_oversized_body_gets_413(fc, sample):
    raw = json.loads((EVENTS / sample).read_bytes())
    raw["padding"] = "x" * (300 * 1024)
    body = json.dumps(raw).encode()
    response = call_webhook(body, query={"token": TOKEN}, headers=signed_headers(body))
    assert response["statusCode"] == 413
    assert fc.backend.calls == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"push_data": {"tag": "x y"}, "repository": {"name": "a", "namespace": "b"}}', "not a valid tag"),
        (b'{"events": [{"id": "1"}]}', "events.0.action"),
        (b'{"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"tag": "1"}]}}', "resource_url"),
        (b'{"callback_url": "x", "push_data": {}, "repository": {"repo_name": ""}}', "repository.repo_name"),
        (b'{"what": "ever"}', "unknown event format"),
    ],
)
def test_malformed_bodies_get_400_with_the_reason(fc, body, fragment):
    response = call_webhook(body, query={"token": TOKEN})
    assert response["statusCode"] == 400
    assert fragment in json.loads(response["body"])["error"]
    assert fc.backend.calls == []


def test_malformed_generic_body(fc):
    body = b'{"image": "Not/Valid"}'
    response = call_webhook(body, headers=signed_headers(body))
    assert response["statusCode"] == 400 and "lowercase" in response["body"]
    assert fc.backend.calls == []


def test_get_is_refused(fc):
    # GET / is the operator's page (functions/page.py): without a token, refused before anything is read
    assert entry("webhook")(http_event(b"", method="GET"), fc_context())["statusCode"] == 401
    event = json.loads(http_event(b"", method="GET"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/deploy"
    assert entry("webhook")(json.dumps(event).encode(), fc_context())["statusCode"] == 405
    assert fc.backend.calls == []


def test_dry_run_plans_and_dispatches_nothing(fc):
    body = (EVENTS / "distribution-push.json").read_bytes()
    response = call_webhook(body, query={"token": TOKEN, "dry_run": "1"})
    payload = json.loads(response["body"])
    assert response["statusCode"] == 200 and payload["dry_run"] is True
    assert payload["actions"][0]["target"] == "eci-self"
    assert fc.mutations() == [] and len(fc.dispatcher.seen) == 0


def test_token_not_configured_fails_closed(fc, monkeypatch):
    monkeypatch.delenv("ECI_REDEPLOY_WEBHOOK_TOKEN")
    response = call_webhook((EVENTS / "acr-webhook.json").read_bytes(), query={"token": ""})
    assert response["statusCode"] == 401 and "not configured" in response["body"]


def test_worker_rejects_anything_but_a_work_order(fc):
    result = entry("worker")((EVENTS / "acr-ee-push.json").read_bytes(), fc_context("worker"))
    assert result["ok"] is False and fc.backend.calls == []


def test_push_function_defers_a_group_in_flight_for_the_platform_retry(fc, monkeypatch):
    from eci_redeploy.core.errors import RetryLater

    from helpers import EXAMPLES

    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(EXAMPLES / "rules.yaml"))
    groups = json.loads((EXAMPLES / "state.json").read_text())["ContainerGroups"]
    groups[0]["Status"] = "Updating"
    fc.backend.seed(groups)
    with pytest.raises(RetryLater, match="in flight on eci-bp1web0000000000001"):
        entry("push")((EVENTS / "acr-ee-push.json").read_bytes(), fc_context("push"))
    assert [c.params["ContainerGroupId"] for c in fc.mutations()] == ["eci-bp1web0000000000002"]
    fc.backend.groups["eci-bp1web0000000000001"].status = "Running"
    result = entry("push")((EVENTS / "acr-ee-push.json").read_bytes(), fc_context("push"))  # the retry
    assert result["ok"] and [a["target"] for a in result["actions"]] == ["eci-bp1web0000000000001"]
    assert len(fc.mutations()) == 2


def test_push_function_hands_pushes_to_the_worker_when_one_is_configured(fc, monkeypatch):
    """As deployed (s.yaml sets ECI_REDEPLOY_WORKER_FUNCTION): the push function changes nothing
    itself; the worker, the single writer, applies; a redelivery of the same push is one task."""
    from helpers import EXAMPLES

    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(EXAMPLES / "rules.yaml"))
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    fc.backend.seed(json.loads((EXAMPLES / "state.json").read_text())["ContainerGroups"])
    held = []
    apply_now, fc.dispatcher.work = fc.dispatcher.work, held.append
    first = entry("push")((EVENTS / "acr-ee-push.json").read_bytes(), fc_context("push"))
    second = entry("push")((EVENTS / "acr-ee-push.json").read_bytes(), fc_context("push"))  # EventBridge retry
    assert first["accepted"] is True and first["task_id"] == second["task_id"]
    assert fc.mutations() == [] and len(held) == 1  # nothing changed before the worker ran
    apply_now(held[0])
    assert [c.action for c in fc.mutations()] == ["UpdateContainerGroup"] * 2


def test_push_function_raises_for_platform_retry_when_the_hand_off_fails(fc, monkeypatch):
    from eci_redeploy.core.errors import RetryLater
    from eci_redeploy.execution.dispatch import DispatchError

    from helpers import EXAMPLES

    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(EXAMPLES / "rules.yaml"))
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")

    def refuse(order):
        raise DispatchError("async invocation of eci-redeploy-worker failed: ServiceUnavailable")

    monkeypatch.setattr(fc.dispatcher, "dispatch", refuse)
    with pytest.raises(RetryLater, match="hand-off to the worker failed"):
        entry("push")((EVENTS / "acr-ee-push.json").read_bytes(), fc_context("push"))
    assert fc.backend.calls == []
