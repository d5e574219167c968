"""Head-of-line delay (issue 25): how long an unrelated service's push waits while another service's
slow, health-gated rollout runs, with rollouts in steps (now) and with the waiting worker (before:
`ECI_REDEPLOY_WORKER_STEPS=0`, the same code path the writer ran until issue 25).

`serve`'s webhook app on a real port, the single writer behind it, the real ECI SDK, the fake ECI over
HTTP with transition times (tests/loadstack.Stack). Rule `web` rolls 10 groups one at a time, each
Updating for `transition` seconds before it is healthy; while it rolls, `services` unrelated rules
(`svc-0` ... each watching its own repository and group) get one push each, spread over the rollout.
A push's delay: from its delivery (the POST) to its UpdateContainerGroup arriving at the fake.

`python bench/headofline.py [--transition 2] [--services 15]`; `make bench` runs it with the defaults.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from common import Result, report  # first: it puts shared/ and tests/ on sys.path

from loadstack import HOST, TOKEN, Stack, digest, envelope, seeded

WEB_GROUPS = 10
BUDGET_S = 2.0  # issue 25: "applied within 2 s of its arrival"


def rules_file(path: Path, services: int) -> Path:
    def rule(name: str, repo: str, app: str) -> dict[str, Any]:
        return {
            "name": name,
            "source": {"repository": repo, "registry": HOST, "tags": {"semver": "^1.0.0"}},
            "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"tags": {"app": app}}},
            "pull": {"public": [HOST]},
            "rollout": {"batch_size": 1, "poll_seconds": 0.5, "timeout_seconds": 120},
        }

    rules = [rule("web", "team/web", "web")] + [rule(f"svc-{k}", f"team/svc-{k}", f"svc-{k}") for k in range(services)]
    path.write_text(yaml.safe_dump({"version": 1, "rules": rules}))
    return path


def service_groups(services: int) -> list[dict[str, Any]]:
    out = []
    for k in range(services):
        group = seeded(1, f"{HOST}/team/svc-{k}:1.0.0")[0]
        out.append(
            {
                **group,
                "ContainerGroupId": f"eci-svc-{k}",
                "ContainerGroupName": f"svc-{k}",
                "Tags": [{"Key": "app", "Value": f"svc-{k}"}],
            }
        )
    return out


def one_run(*, stepped: bool, transition: float, services: int) -> dict[str, Any]:
    os.environ.update(
        {"ECI_REDEPLOY_WEBHOOK_TOKEN": TOKEN, "ECI_REDEPLOY_CONFIRM_DIGESTS": "0", "ECI_REDEPLOY_LOG_LEVEL": "WARNING"}
    )
    os.environ["ECI_REDEPLOY_WORKER_STEPS"] = "1" if stepped else "0"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rules = rules_file(Path(tmp) / "rules.yaml", services)
            os.environ["ECI_REDEPLOY_RULES"] = str(rules)
            stack = Stack(rules, WEB_GROUPS, transition_seconds=transition).start()
            try:
                stack.backend.seed(service_groups(services))
                return _measure(stack, transition, services)
            finally:
                stack.stop()
    finally:
        os.environ.pop("ECI_REDEPLOY_WORKER_STEPS", None)


def _measure(stack: Stack, transition: float, services: int) -> dict[str, Any]:
    started = time.time()
    assert stack.deliver(envelope(5)) == 202
    span = WEB_GROUPS * transition * 0.9  # the pushes arrive while web's rollout runs
    sent: dict[str, float] = {}

    def push(k: int) -> None:
        time.sleep(max(0.0, started + 0.3 + k * span / services - time.time()))
        body = envelope(1, event_id=f"svc-{k}-1").replace(b"team/web", f"team/svc-{k}".encode())
        sent[f"eci-svc-{k}"] = time.time()
        assert stack.deliver(body) == 202

    threads = [threading.Thread(target=push, args=(k,)) for k in range(services)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stack.drain(600)
    applied: dict[str, float] = {}
    web_done = 0.0
    with stack.backend._lock:
        calls = list(stack.backend.calls)
    for call in calls:
        if call.action != "UpdateContainerGroup" or call.status != 200:
            continue
        gid = call.params["ContainerGroupId"]
        if gid.startswith("eci-svc-") and call.params.get("Container.1.Image", "").endswith(digest(1)):
            applied.setdefault(gid, call.wall)
        elif not gid.startswith("eci-svc-"):
            web_done = max(web_done, call.wall)
    delays = sorted(applied[g] - sent[g] for g in sent if g in applied)
    return {
        "delays": delays,
        "missing": len(sent) - len(delays),
        "web_last_update_s": web_done - started,
        "calls": len(calls),
        "web_on_new": sum(
            1 for g, i in stack.images().items() if not g.startswith("eci-svc") and i.endswith(digest(5))
        ),
    }


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(transition: float = 2.0, services: int = 15) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stepped in (False, True):
        result = one_run(stepped=stepped, transition=transition, services=services)
        label = "in steps (now)" if stepped else "waiting worker (before, ECI_REDEPLOY_WORKER_STEPS=0)"
        delays = result["delays"]
        out[label] = result
        if not delays:
            print(f"# head-of-line, {label}: no push applied ({result})")
            continue
        p50, p99 = percentile(delays, 50), percentile(delays, 99)
        name = f"head-of-line delay, {label}: {len(delays)} pushes while web rolls {WEB_GROUPS} x {transition:g} s"
        report(
            Result(
                name + ", p50",
                p50,
                "s",
                "web's last update at (s)",
                result["web_last_update_s"],
                f"<= {BUDGET_S:g} s",
                p50 <= BUDGET_S if stepped else None,
            )
        )
        report(
            Result(
                name + ", p99",
                p99,
                "s",
                "pushes never applied",
                result["missing"],
                f"<= {BUDGET_S:g} s",
                p99 <= BUDGET_S if stepped else None,
            )
        )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--transition", type=float, default=2.0)
    parser.add_argument("--services", type=int, default=15)
    args = parser.parse_args()
    for label, result in run(args.transition, args.services).items():
        print(
            f"# {label}: delays {[round(d, 2) for d in result['delays']]}, web on new {result['web_on_new']}, "
            f"ECI calls {result['calls']}"
        )
