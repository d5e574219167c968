"""Scale (issue 25): 1,000 rules and 10,000 container groups (10 per rule, rolled 5 at a time, health
gated), against ECI's published flow-control limits.

`serve`'s webhook app on a real port, the single writer behind it, the real ECI SDK, the fake ECI over
HTTP (tests/loadstack.Stack). It counts, by action, what the fake ECI receives:

- one push (one rule, 10 groups), with 0.3 s transitions so that the rollout takes several steps;
- one timer tick at 1,000 rules, converged (what the timer function asks before it hands anything
  to the worker: `reconcile(executor=DryRun())`), the registries an in-process stand-in that counts requests;
- how many pushes per minute one writer carries out, each for another rule, healthy at once: with
  the fake's own round trip (~ms, so the writer's own cost) and with `--rtt` seconds added to every
  ECI call (the fake's `Faults.delay_seconds`), a stand-in for the API's round trip from FC.

Budgets are ECI's published limits ("Flow control information", ECI API 2018-08-08,
https://help.aliyun.com/en/eci/developer-reference/api-eci-2018-08-08-quota): DescribeContainerGroups
2,000 / 60 s; UpdateContainerGroup, RestartContainerGroup, TagResources 1,000 / 60 s; Create /
DeleteContainerGroup a token bucket of 100, 20 / s ("Limits", https://help.aliyun.com/en/eci/product-overview/limits).
DescribeContainerGroups answers at most 20 groups a page (its `Limit`, the fake's PAGE_MAX).

`python bench/scale.py [--pushes 60] [--rtt 0.05] [--rtt-pushes 20]`; `make bench` runs the defaults.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from common import Result, report  # first: it puts shared/ and tests/ on sys.path

from loadstack import HOST, TOKEN, Stack, digest, envelope

RULES = 1_000
PER_RULE = 10
LIMITS_PER_MINUTE = {
    "DescribeContainerGroups": 2000,
    "UpdateContainerGroup": 1000,
    "RestartContainerGroup": 1000,
    "TagResources": 1000,
    "UntagResources": 1000,
    "CreateContainerGroup": 1000,
    "DeleteContainerGroup": 1000,
}


def rules_file(path: Path, *, poll: float = 0.2) -> Path:
    rules = [
        {
            "name": f"svc-{k}",
            "source": {"repository": f"team/svc-{k}", "registry": HOST, "tags": {"semver": "^1.0.0"}},
            "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"tags": {"app": f"svc-{k}"}}},
            "pull": {"public": [HOST]},
            "rollout": {"batch_size": 5, "poll_seconds": poll, "timeout_seconds": 120},
        }
        for k in range(RULES)
    ]
    path.write_text(yaml.safe_dump({"version": 1, "rules": rules}))
    return path


def groups(image_of: Any) -> list[dict[str, Any]]:
    return [
        {
            "ContainerGroupId": f"eci-{k:04d}-{i}",
            "ContainerGroupName": f"svc-{k}-{i}",
            "RegionId": "cn-hangzhou",
            "Status": "Running",
            "Tags": [{"Key": "app", "Value": f"svc-{k}"}],
            "Containers": [{"Name": "app", "Image": image_of(k)}],
        }
        for k in range(RULES)
        for i in range(PER_RULE)
    ]


def push_for(k: int, minor: int = 1) -> bytes:
    return envelope(minor, event_id=f"svc-{k}-{minor}").replace(b"team/web", f"team/svc-{k}".encode())


class _Env:
    def __enter__(self) -> _Env:
        self.saved = dict(os.environ)
        os.environ.update({"ECI_REDEPLOY_WEBHOOK_TOKEN": TOKEN, "ECI_REDEPLOY_CONFIRM_DIGESTS": "0"})
        os.environ["ECI_REDEPLOY_LOG_LEVEL"] = "WARNING"
        os.environ.pop("ECI_REDEPLOY_WORKER_STEPS", None)
        return self

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)


def _stack(tmp: str, transition: float) -> Stack:
    rules = rules_file(Path(tmp) / "rules.yaml")
    os.environ["ECI_REDEPLOY_RULES"] = str(rules)
    stack = Stack(rules, 0, transition_seconds=transition).start()
    stack.backend.seed(groups(lambda k: f"{HOST}/team/svc-{k}:1.0.0"))
    return stack


def _by_action(calls: list[Any]) -> Counter[str]:
    return Counter(c.action for c in calls if c.status == 200)


def one_push() -> Counter[str]:
    """Calls by action for one push that rolls one rule's 10 groups, 5 at a time, 0.3 s transitions."""
    with _Env(), tempfile.TemporaryDirectory() as tmp:
        stack = _stack(tmp, 0.3)
        try:
            assert stack.deliver(push_for(7)) == 202
            stack.drain(300)
            with stack.backend._lock:
                calls = list(stack.backend.calls)
            moved = {c.params["ContainerGroupId"] for c in calls if c.mutating}
            assert moved == {f"eci-0007-{i}" for i in range(PER_RULE)}, moved
            return _by_action(calls)
        finally:
            stack.stop()


def sustained(pushes: int, rtt: float, parallel: int | None = None) -> tuple[float, Counter[str]]:
    """Pushes per minute the one writer carries out: `pushes` deliveries for as many rules, at once;
    the groups are healthy at once (no transition: what is measured is the writer and the API calls).
    `parallel`: a batch's calls in flight at once (execution.rollout.PARALLEL_CALLS; 1: before issue 25)."""
    from eci_redeploy.execution import rollout

    default = rollout.PARALLEL_CALLS
    rollout.PARALLEL_CALLS = parallel or default
    with _Env(), tempfile.TemporaryDirectory() as tmp:
        stack = _stack(tmp, 0.0)
        try:
            for k in range(pushes):  # queued first, so that the writer is never idle while we measure
                stack.writer.submit(_order(k))
            started = time.perf_counter()
            stack.backend.faults.delay_seconds = rtt
            stack.drain(1800)
            seconds = time.perf_counter() - started
            with stack.backend._lock:
                calls = list(stack.backend.calls)
            moved = {c.params["ContainerGroupId"] for c in calls if c.mutating}
            assert len(moved) == pushes * PER_RULE, len(moved)
            return pushes / seconds * 60, _by_action(calls)
        finally:
            stack.stop()
            rollout.PARALLEL_CALLS = default


def _order(k: int) -> Any:
    from eci_redeploy.events.model import PushEvent
    from eci_redeploy.execution.handoff import WorkOrder
    from loadstack import T0

    push = PushEvent(f"team/svc-{k}", "1.1.0", digest(1), "distribution", f"svc-{k}-1", time=T0, registry_host=HOST)
    return WorkOrder.for_events([push])


class StandInRegistry:
    """What the reconcile asks a registry (clients.registry_api.RegistryClient's two operations), counted."""

    def __init__(self) -> None:
        self.requests_made = 0

    def list_tags(self, repository: str, page_size: int = 100) -> list[str]:
        self.requests_made += 1
        return ["1.0.0", "1.1.0"]

    def resolve(self, repository: str, tag: str, platform: str = "linux/amd64") -> Any:
        from eci_redeploy.clients.registry_api import Resolved

        self.requests_made += 1
        return Resolved(tag, digest(1))


def one_tick() -> tuple[Counter[str], int, float, int]:
    """A converged timer tick at 1,000 rules: ECI calls by action, registry requests, seconds, steps planned."""
    from eci_redeploy.clients.eci import RetryPolicy
    from eci_redeploy.execution.executor import DryRun
    from eci_redeploy.fake.embedded import gateway_for
    from eci_redeploy.fake.server import FakeEciServer
    from eci_redeploy.operations.reconcile import reconcile
    from eci_redeploy.rules.model import load_rules

    with _Env(), tempfile.TemporaryDirectory() as tmp, FakeEciServer() as fake:
        rules = load_rules(rules_file(Path(tmp) / "rules.yaml"))
        fake.backend.seed(groups(lambda k: f"{HOST}/team/svc-{k}@{digest(1)}"))
        gateway = gateway_for(fake, retry=RetryPolicy(max_attempts=3, initial=0.01))
        registry = StandInRegistry()
        started = time.perf_counter()
        result = reconcile(rules, gateway, lambda rule, host: registry, {}, executor=DryRun())  # type: ignore[arg-type,return-value]
        seconds = time.perf_counter() - started
        with fake.backend._lock:
            calls = list(fake.backend.calls)
        return _by_action(calls), registry.requests_made, seconds, len(result.report.plan.steps)


def _limit_line(name: str, per_unit: Counter[str], unit: str, per_minute: float | None = None) -> None:
    for action, n in sorted(per_unit.items()):
        limit = LIMITS_PER_MINUTE.get(action)
        shown = f"{n} {action}"
        budget = f"ECI: {limit:,} / 60 s" if limit else ""
        if per_minute is not None and limit:
            budget += f" -> {limit / n:,.0f} {unit}/min at most"
        report(Result(f"{name}: {action}", n, "calls", shown, None, budget, None))


def run(pushes: int = 60, rtt: float = 0.05, rtt_pushes: int = 20) -> dict[str, Any]:
    out: dict[str, Any] = {}
    push = one_push()
    out["push"] = push
    _limit_line(f"one push, {PER_RULE} groups in batches of 5, in steps", push, "pushes", per_minute=1)
    tick, registry, seconds, planned = one_tick()
    out["tick"] = (tick, registry, seconds, planned)
    _limit_line(f"one converged timer tick, {RULES:,} rules / {RULES * PER_RULE:,} groups", tick, "ticks", 1)
    report(
        Result(
            f"one converged timer tick, {RULES:,} rules: registry requests",
            registry,
            "requests",
            "steps planned",
            planned,
            "0 steps",
            planned == 0,
        )
    )
    report(
        Result(
            f"one converged timer tick, {RULES:,} rules: seconds (fake's round trip)",
            seconds,
            "s",
            "",
            None,
            "< 300 s (the tick)",
            seconds < 300,
        )
    )
    for delay, n, parallel in ((0.0, pushes, None), (rtt, rtt_pushes, None), (rtt, rtt_pushes, 1)):
        rate, calls = sustained(n, delay, parallel)
        out[f"sustained@{delay}" + ("/sequential" if parallel else "")] = (rate, calls)
        how = ", a batch's calls one after another (before)" if parallel else ""
        per_push = {a: c / n for a, c in calls.items()}
        eci_bound = min(LIMITS_PER_MINUTE[a] / c for a, c in per_push.items() if a in LIMITS_PER_MINUTE)
        report(
            Result(
                f"pushes per minute one writer carries out ({n} rules x {PER_RULE} groups, "
                f"+{delay * 1000:.0f} ms per ECI call{how})",
                rate,
                "pushes/min",
                "ECI's limits allow (pushes/min)",
                eci_bound,
                "reaches ECI's limits",
                rate >= eci_bound,
            )
        )
        out[f"per_push@{delay}"] = per_push
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=60)
    parser.add_argument("--rtt", type=float, default=0.05)
    parser.add_argument("--rtt-pushes", type=int, default=20)
    args = parser.parse_args()
    for key, value in run(args.pushes, args.rtt, args.rtt_pushes).items():
        print(f"# {key}: {value}")
