"""The reconcile's own pick (a semver rule against Debian's docker-registry) goes through the gates
too: the wanted image is held, costs no ECI call per tick while it waits, and goes once it passed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from eci_redeploy.fake.backend import FakeEci
from eci_redeploy.gates import store
from eci_redeploy.gates.flow import GateContext
from eci_redeploy.reconcile import client_factory, reconcile
from test_reconcile_registry import gateway_on, open_registry, seed, web_rule  # noqa: F401 - the fixture

T = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def test_reconcile_holds_its_pick_until_the_soak_passed(open_registry, make_rules):  # noqa: F811
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
    assert store.HELD not in {t["Key"] for t in backend.group("eci-web").spec["Tag"]}
    again = reconcile(rules, gateway_on(backend), client_factory({}), {}, gate_context=ctx)
    assert again.report.outcomes == [] and len(backend.mutating_calls()) == 1
