"""API economy, counted by the fake ECI (and by the registry client): what a rollout and a reconcile
cost in calls, the thing ECI throttles and registries rate-limit."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from common import Result, report

from eci_redeploy.clients.eci import RetryPolicy
from eci_redeploy.events.model import PushEvent
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.server import FakeEciServer
from eci_redeploy.pipeline import run as apply_run
from eci_redeploy.rules.model import parse_rules

from helpers import described

HOST = "reg.example.com"
GROUPS = 45


def rules_doc(host: str, *, tags: dict | None = None) -> dict:
    return {
        "version": 1,
        "rules": [
            {
                "name": "web",
                "source": {"repository": "team/web", "registry": host, "tags": tags or {"glob": "*"}},
                "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"tags": {"app": "web"}}},
                "pull": {"public": [host], "plain_http": [host]},
                "rollout": {"batch_size": 20, "poll_seconds": 0.01},
            }
        ],
    }


def seed(backend, host: str, n: int) -> None:
    backend.seed([described(f"eci-{i:03d}", f"{host}/team/web:1.0.0", name=f"web-{i}") for i in range(n)])
    # and groups the selection must not touch
    backend.seed([described(f"eci-x{i:03d}", f"{host}/team/api:1", name=f"api-{i}", app="api") for i in range(30)])


def rollout_costs() -> None:
    with FakeEciServer() as server:
        seed(server.backend, HOST, GROUPS)
        gateway = gateway_for(server, retry=RetryPolicy(max_attempts=3, initial=0.01))
        rules = parse_rules(rules_doc(HOST))
        event = [PushEvent("team/web", "1.1.0", "sha256:" + "1" * 64, "bench", "e1", registry_host=HOST)]
        apply_run(event, rules, gateway, {})
        calls = server.backend.calls
        observe = [c for c in calls if c.action == "DescribeContainerGroups" and "Tag.1.Key" in c.params]
        mutating = server.backend.mutating_calls()
        changed = {c.params["ContainerGroupId"] for c in mutating}
        report(
            Result(
                f"describe pages to select {GROUPS} of {GROUPS + 30} groups",
                len(observe),
                "pages",
                "ceil(groups / 20)",
                math.ceil(GROUPS / 20),
                "<= ceil(groups/20)",
                len(observe) <= math.ceil(GROUPS / 20),
            )
        )
        report(
            Result(
                "mutating calls per changed group",
                len(mutating) / max(len(changed), 1),
                "calls",
                "groups changed",
                len(changed),
                "exactly 1",
                len(mutating) == len(changed) == GROUPS,
            )
        )
        health = [c for c in calls if c.action == "DescribeContainerGroups" and "ContainerGroupIds" in c.params]
        report(
            Result(
                "describe calls for health checks and the report",
                len(health),
                "calls",
                "batches of 20",
                math.ceil(GROUPS / 20),
                "",
                None,
            )
        )
        before = len(server.backend.calls)
        apply_run(event, rules, gateway, {})  # the same push again
        again = server.backend.calls[before:]
        report(
            Result(
                "calls for a duplicate push (all groups converged)",
                len(again),
                "calls",
                "mutating",
                len([c for c in again if c.mutating]),
                "0 mutating",
                not any(c.mutating for c in again),
            )
        )


def reconcile_costs() -> None:
    try:
        from registry_tools import Registry, push, write_layout
    except ImportError:
        return
    import shutil

    if not (shutil.which("docker-registry") and shutil.which("skopeo")):
        print("# reconcile economy skipped: docker-registry / skopeo not installed (bash .ci/install-system-deps)")
        return
    from eci_redeploy.operations.reconcile import client_factory, reconcile

    root = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    with Registry(root) as registry, FakeEciServer() as server:
        for tag in ("1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1"):
            write_layout(root / tag, tag, f"web {tag}")
            push(root / tag, tag, f"{registry.host}/team/web:{tag}")
        seed(server.backend, registry.host, GROUPS)
        gateway = gateway_for(server, retry=RetryPolicy(max_attempts=3, initial=0.01))
        rules = parse_rules(rules_doc(registry.host, tags={"semver": "^1.0.0"}))
        first = reconcile(rules, gateway, client_factory({}), {})
        before = len(server.backend.mutating_calls())
        second = reconcile(rules, gateway, client_factory({}), {})
        after = len(server.backend.mutating_calls())
        report(
            Result(
                "registry requests per reconcile tick (1 rule)",
                second.registry_requests[registry.host],
                "requests",
                "1 tag list page + 1 HEAD",
                2,
                "<= HEADs per tag in question + list pages",
                second.registry_requests[registry.host] <= 2,
            )
        )
        report(
            Result(
                "mutating calls in a converged reconcile",
                after - before,
                "calls",
                "first tick changed",
                len(first.report.outcomes),
                "0",
                after == before,
            )
        )


def run() -> None:
    rollout_costs()
    reconcile_costs()


if __name__ == "__main__":
    run()
