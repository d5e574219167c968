"""Gates: what holding costs in ECI calls (45 groups on the wire: the hold, a waiting tick, the
release) and in time per gate decision."""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta, timezone

from common import Result, report
from economy import GROUPS, HOST, rules_doc, seed

from eci_redeploy.clients.eci import RetryPolicy
from eci_redeploy.events.model import PushEvent
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.server import FakeEciServer
from eci_redeploy.functions.gate_endpoints import run_release
from eci_redeploy.gates.evaluate import Change, Evidence, evaluate
from eci_redeploy.gates.flow import GateContext
from eci_redeploy.pipeline import run as apply_run
from eci_redeploy.rules.gates import Gates
from eci_redeploy.rules.model import parse_rules

T = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
ALL = {
    "scan": {"max_severity": "medium"},
    "signed": True,
    "window": {"days": ["mon"], "hours": "02:00-05:00", "timezone": "Asia/Shanghai"},
    "soak": "15m",
    "approval": {"approvers_env": "APPROVERS", "expires": "24h"},
}


def calls_of_a_hold() -> None:
    with FakeEciServer() as server:
        seed(server.backend, HOST, GROUPS)
        gateway = gateway_for(server, retry=RetryPolicy(max_attempts=3, initial=0.01))
        doc = rules_doc(HOST)
        doc["rules"][0]["gates"] = {"soak": "15m"}
        rules = parse_rules(doc)
        now = [T]
        ctx = GateContext(now=lambda: now[0])
        event = PushEvent("team/web", "1.1.0", "sha256:" + "1" * 64, "generic", "e1", time=T, registry_host=HOST)

        def count(since: int) -> dict[str, int]:
            out: dict[str, int] = {}
            for c in server.backend.calls[since:]:
                out[c.action] = out.get(c.action, 0) + 1
            return out

        mark = len(server.backend.calls)
        apply_run([event], rules, gateway, {}, gate_context=ctx)
        held = count(mark)
        mark = len(server.backend.calls)
        now[0] = T + timedelta(minutes=5)
        run_release(rules, gateway, {}, gate_context=ctx)
        waiting = count(mark)
        mark = len(server.backend.calls)
        now[0] = T + timedelta(minutes=16)
        run_release(rules, gateway, {}, gate_context=ctx)
        released = count(mark)
    writes = held.get("TagResources", 0) + held.get("UntagResources", 0)
    report(
        Result(
            f"gates: tag writes to hold a change on {GROUPS} groups",
            writes,
            "calls",
            "ceil(groups/20)",
            -(-GROUPS // 20),
            "<= ceil(groups/20)",
            writes <= -(-GROUPS // 20),
        )
    )
    mutating = sum(v for k, v in waiting.items() if k != "DescribeContainerGroups")
    report(
        Result(
            "gates: ECI calls besides describe in a tick while held", mutating, "calls", "", None, "0", mutating == 0
        )
    )
    report(
        Result(
            "gates: updates when the soak passed",
            released.get("UpdateContainerGroup", 0),
            "calls",
            "groups",
            GROUPS,
            "exactly one per group",
            released.get("UpdateContainerGroup", 0) == GROUPS,
        )
    )


def decision_time() -> None:
    gates = Gates.model_validate(ALL)
    change = Change("r", "sha256:x", T, T)
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(2000):
            evaluate(gates, change, Evidence(), T)
        samples.append((time.perf_counter() - started) / 2000 * 1e6)
    value = statistics.median(samples)
    report(
        Result(
            "gates: one decision with all five gates",
            round(value, 1),
            "us",
            "",
            None,
            "< 100 us per group",
            value < 100,
        )
    )


def run() -> None:
    calls_of_a_hold()
    decision_time()


if __name__ == "__main__":
    run()
