"""Hostile and broken input at the gates: mutated ScanCompleted / SigningCompleted payloads (from the
samples in events/), forged approval ids and tokens. Zero unhandled exceptions; nothing deployed
but the held digest; no tag written for a refused request."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gates_world
from eci_redeploy.functions.gate_endpoints import on_gate_events
from eci_redeploy.gates import store
from fuzzing import mutate
from gates_world import DIGEST, NEW, held_id

from helpers import EVENTS, examples

world = gates_world.world  # the fixture: a fake on the wire behind the functions' factories
GATE_SAMPLES = [json.loads((EVENTS / f"acr-ee-{n}-completed.json").read_text()) for n in ("scan", "signing")]


@st.composite
def mutated(draw):
    return mutate(draw, draw(st.sampled_from(GATE_SAMPLES)))


@pytest.fixture(scope="module")
def held_stage():
    """A change of the samples' digest held by `signed` (no patching: the stage calls the library)."""
    from eci_redeploy.events.model import PushEvent
    from eci_redeploy.pipeline import run
    from eci_redeploy.rules.model import parse_rules
    from gates_stage import INSTANCE, REPO, Stage

    stage = Stage(lambda body: parse_rules({"version": 1, "rules": [body]}, source="rules.yaml"), {"signed": True})
    event = PushEvent(
        REPO,
        "1.4.0",
        DIGEST,
        "acr-eventbridge",
        "p",
        time=stage.now,
        instance_id=INSTANCE,
        instance_name="acme",
        region="cn-hangzhou",
        signed=True,
    )
    run([event], stage.rules, stage.gateway, stage.env, gate_context=stage.context(lookup=False))
    assert stage.status()["held"]
    yield stage
    stage.close()


@settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=mutated())
def test_mutated_gate_events_never_crash_and_deploy_nothing_else(held_stage, payload):
    s = held_stage
    result = on_gate_events([payload], s.rules, s.gateway, {}, gate_context=s.context(lookup=False))
    assert isinstance(result, dict)
    from gates_stage import HOST, REPO

    before, held = f"{HOST}/{REPO}:1.0.0", f"{HOST}/{REPO}@{DIGEST}"
    assert set(s.images().values()) <= {before, held}  # at most the held digest, never one from the payload


@pytest.mark.parametrize(
    "path",
    [
        "/approvals/",
        "/approvals/web-prod.",
        "/approvals/.3c0b4a5e1d2f",
        "/approvals/../status",
        "/approvals/web-prod.3c0b4a5e1d2f/../../x",
        "/approvals/nope.3c0b4a5e1d2f",
        "/approvals/web-prod." + "f" * 5000,
        "/approvals/wéb-prod.3c0b4a5e1d2f",
    ],
)
def test_forged_approval_ids_are_refused_without_writing(world, path):
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    w.push(json.loads((EVENTS / "acr-ee-push.json").read_text()))
    before = [c for c in w.backend.calls if c.action == "TagResources"]
    reply = w.http("POST", path, headers={"Authorization": "Bearer al1ce-token"})
    assert reply["statusCode"] in (404, 405)
    assert [c for c in w.backend.calls if c.action == "TagResources"] == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic al1ce-token"},
        {"Authorization": "Bearer " + "x" * 10000},
        {"Authorization": "Bearer al1ce"},
        {"Authorization": "Bearer alice:al1ce-token"},
    ],
)
def test_wrong_approver_tokens_are_401_and_write_nothing(world, headers):
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    w.push(json.loads((EVENTS / "acr-ee-push.json").read_text()))
    reply = w.http("POST", f"/approvals/{held_id(w)}", headers=headers)
    assert reply["statusCode"] == 401 and "al1ce" not in reply["body"]
    assert store.APPROVED not in {t["Key"] for t in w.backend.group("eci-0").spec["Tag"]}


def test_an_approver_of_another_rule_cannot_approve(world, monkeypatch):
    w = world({"approval": {"approvers_env": "PROD_APPROVERS", "expires": "24h"}})
    monkeypatch.setenv("PROD_APPROVERS", "carol:c4rol")
    w.push(json.loads((EVENTS / "acr-ee-push.json").read_text()))
    assert (
        w.http("POST", f"/approvals/{held_id(w)}", headers={"Authorization": "Bearer al1ce-token"})["statusCode"] == 401
    )
    w.now += timedelta(minutes=1)
    assert w.http("POST", f"/approvals/{held_id(w)}", headers={"Authorization": "Bearer c4rol"})["statusCode"] == 202
    assert w.images() == {NEW}
