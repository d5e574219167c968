"""What a scaling-group rollout costs in calls (issue 26): a push rolled through a 50-instance ECI scaling
group on the wire (the official ECI and Auto Scaling SDKs against the fake over HTTP), every call counted
by the fake, by service and action. These are the calls ECI and ESS throttle, and the RAM actions the
worker's role needs (deploy/ram/worker.json).

The expected count of each write is the procedure's (docs/scaling-groups.md): with n instances in
batches of b (k = ceil(n / b) batches), 1 SuspendProcesses, 1 ModifyEciScalingConfiguration, k
EnterStandby, n UpdateContainerGroup, k ExitStandby, 1 ResumeProcesses, 1 + k TagResources and
1 + k UntagResources (the suspension record and one standby record per batch). Reads depend on how fast
the instances get Ready (the health polls), so they are reported, not predicted."""

from __future__ import annotations

import math
from collections import Counter

from common import Result, report

from eci_redeploy.clients.eci import RetryPolicy
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.server import FakeEciServer
from eci_redeploy.pipeline import run as apply_run
from eci_redeploy.rules.model import parse_rules
from ess_tools import HOST, push, rule, scaling_group

INSTANCES = 50
BATCH = 10


def expected(n: int, b: int) -> dict[str, int]:
    k = math.ceil(n / b)
    return {
        "ess:TagResources": 1 + k,
        "ess:SuspendProcesses": 1,
        "ess:ModifyEciScalingConfiguration": 1,
        "ess:EnterStandby": k,
        "eci:UpdateContainerGroup": n,
        "ess:ExitStandby": k,
        "ess:UntagResources": 1 + k,
        "ess:ResumeProcesses": 1,
    }


def run() -> None:
    with FakeEciServer() as server:
        handle = type("Handle", (), {})()
        handle.backend, handle.gateway = server.backend, gateway_for(server, retry=RetryPolicy(max_attempts=3))
        gid, _ = scaling_group(handle, instances=INSTANCES)
        before = len(server.backend.calls)
        body = rule(gid, rollout={"batch_size": BATCH, "poll_seconds": 0.01, "timeout_seconds": 60})
        rules = parse_rules({"version": 1, "rules": [body]}, source="bench")
        report_ = apply_run([push("1.1.0", "sha256:" + "1" * 64)], rules, handle.gateway, {"REG_PASSWORD": "pw"})
        calls = [c for c in server.backend.calls[before:] if c.status == 200]
        by_action = Counter(f"{c.service}:{c.action}" for c in calls)
        want = expected(INSTANCES, BATCH)
        moved = {
            iid
            for iid in server.backend.ess.instances[gid]
            if server.backend.group(iid).spec["Container"][0]["Image"].startswith(f"{HOST}/team/web@")
        }
        report(
            Result(
                f"instances moved by a {INSTANCES}-instance scaling-group rollout (batches of {BATCH})",
                len(moved),
                "instances",
                "instances",
                INSTANCES,
                "all",
                len(moved) == INSTANCES and not report_.failed,
            )
        )
        for action in sorted(set(by_action) | set(want)):
            known = action in want
            report(
                Result(
                    f"scaling-group rollout of {INSTANCES}: {action}",
                    by_action.get(action, 0),
                    "calls",
                    "the procedure's count" if known else "reads (depend on health polls)",
                    want.get(action),
                    "exactly" if known else "",
                    by_action.get(action, 0) == want[action] if known else None,
                )
            )
        report(
            Result(
                f"scaling-group rollout of {INSTANCES}: all calls",
                sum(by_action.values()),
                "calls",
                "writes",
                sum(want.values()),
                "",
                None,
            )
        )


if __name__ == "__main__":
    run()
