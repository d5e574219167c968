"""The reconcile's own pick (a semver rule against Debian's docker-registry) goes through the gates
too: the wanted image is held, costs no ECI call per tick while it waits, and goes once it passed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from eci_redeploy.fake.models import FakeEci
from eci_redeploy.gates import store
from eci_redeploy.gates.flow import GateContext
from eci_redeploy.operations.reconcile import client_factory, reconcile
from reconcile_stage import gateway_on, seed, web_rule

T = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def test_reconcile_holds_its_pick_until_the_soak_passed(open_registry, make_rules):
    registry, digests, _ = open_registry
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.0.0")
    body = web_rule(registry.host, {"semver": "^1.0.0"})
    body["gates"] = {"soak": "15m"}
    rules = make_rules(body)
    now = [T]
    ctx = GateContext(now=lambda: now[0])

    first = reconcile(rules, gateway_on(backend), client_factory({}), {}, gate_context=ctx)
    assert first.report.outcomes == [] and not backend.mutating_calls()
    tags = {t["Key"]: t["Value"] for t in backend.group("eci-web").spec["Tag"]}
    assert tags[store.HELD] == digests["1.2.0/amd64"]
    writes = [c for c in backend.calls if c.action in ("TagResources", "UntagResources")]
    assert len(writes) == 1

    now[0] = T + timedelta(minutes=5)
    waiting = reconcile(rules, gateway_on(backend), client_factory({}), {}, gate_context=ctx)
    assert waiting.report.outcomes == [] and not backend.mutating_calls()
    assert len([c for c in backend.calls if c.action in ("TagResources", "UntagResources")]) == 1  # no rewrite

    now[0] = T + timedelta(minutes=15)
    done = reconcile(rules, gateway_on(backend), client_factory({}), {}, gate_context=ctx)
    assert [o.status for o in done.report.outcomes] == ["applied"]
    assert backend.group("eci-web").images() == [f"{registry.host}/team/web@{digests['1.2.0/amd64']}"]
    # released: the hold is written empty (store.read: no hold), whether Tag.N replaces or merges
    assert store.read({t["Key"]: t["Value"] for t in backend.group("eci-web").spec["Tag"]}) is None
    again = reconcile(rules, gateway_on(backend), client_factory({}), {}, gate_context=ctx)
    assert again.report.outcomes == [] and len(backend.mutating_calls()) == 1


def test_with_the_single_writer_the_timer_hands_holds_and_releases_to_the_worker(
    open_registry,
    tmp_path,
    monkeypatch,
    mocker,
):
    """As deployed (ECI_REDEPLOY_WORKER_FUNCTION): the timer decides on a dry run and changes nothing
    itself. Its pick held by the soak is handed to the worker, which records the hold; once the soak
    passed the timer hands the release over and the worker applies it, once."""
    import importlib.util
    import json

    from eci_redeploy.execution.dispatch import InlineDispatcher
    from eci_redeploy.functions import runtime as common
    from eci_redeploy.functions.push_worker import handle_work
    from eci_redeploy.gates import context
    from fcfixtures import fc_context

    from helpers import ROOT

    registry, digests, _ = open_registry
    body = web_rule(registry.host, {"semver": "^1.0.0"})
    body["gates"] = {"soak": "15m"}
    (tmp_path / "rules.yaml").write_text(json.dumps({"version": 1, "rules": [body]}))
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(tmp_path / "rules.yaml"))
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    now = [T]
    monkeypatch.setattr(context, "CLOCK", lambda: now[0])
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.0.0")
    mocker.patch.object(common, "gateway_factory", return_value=gateway_on(backend))
    orders = []

    def worker(order):
        orders.append(order)
        return handle_work(order.model_dump_json().encode(), fc_context("worker"), default_rules=tmp_path / "x")

    mocker.patch.object(common, "dispatcher_factory", return_value=InlineDispatcher(worker, background=False))
    spec = importlib.util.spec_from_file_location("fc_timer", ROOT / "functions" / "timer" / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def tick(at: str) -> dict:
        event = json.dumps({"triggerTime": at, "triggerName": "reconcile", "payload": "reconcile"})
        return module.handler(event.encode(), fc_context("timer"))

    def tags() -> dict:
        return {t["Key"]: t["Value"] for t in backend.group("eci-web").spec["Tag"]}

    first = tick("2026-11-29T12:00:00Z")
    assert first["ok"] is True and first["handed_off"]["accepted"] is True
    assert [s["reason"].split(" ")[0] for s in first["skipped"]] == ["held"]
    assert [[e.only_rule for e in o.events] for o in orders] == [["web"]]
    assert tags()[store.HELD] == digests["1.2.0/amd64"] and not backend.mutating_calls()  # the worker held it

    now[0] = T + timedelta(minutes=5)
    waiting = tick("2026-11-29T12:05:00Z")
    assert waiting["ok"] is True and not backend.mutating_calls()

    now[0] = T + timedelta(minutes=15)
    released = tick("2026-11-29T12:15:00Z")
    assert released["ok"] is True and released["released"]["handed_off"]["accepted"] is True
    assert [c.action for c in backend.mutating_calls()] == ["UpdateContainerGroup"]  # by the worker
    assert backend.group("eci-web").images() == [f"{registry.host}/team/web@{digests['1.2.0/amd64']}"]
    assert store.read(tags()) is None  # the hold written empty: gone whether Tag.N replaces or merges
    handed = len(orders)
    again = tick("2026-11-29T12:20:00Z")
    assert "handed_off" not in again and again.get("released") is None and len(orders) == handed
    assert len(backend.mutating_calls()) == 1
