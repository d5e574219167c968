"""The operator's load run of issue 12, against `serve`'s webhook app on a real HTTP port, the single
writer behind it, the real ECI SDK and the fake ECI with transition times:

  500 webhook pushes of 20 semver tags (1.1.0 ... 1.20.0, event times increasing with the version,
  25 copies each: a third exact redeliveries, the rest other pushes of the same image), shuffled,
  delivered 20 at a time to 50 container groups; optionally with throttling and 5xx from ECI.

Reports: deliveries, concurrency, mutating calls (bound: groups x tags; ideal: groups), ECI calls in
all, ClientTokens applied more than once, groups on the newest image, and the writer's counts.
`python bench/load.py [--pushes 500] [--groups 50] [--tags 20] [--concurrency 20] [--throttle 0.3]
[--server-errors 20] [--transition-seconds 0.2]`; `make bench` runs it once without faults.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import Result, report  # first: it puts shared/ and tests/ on sys.path

from loadstack import TOKEN, Stack, envelope, image, rules_file


def load_run(
    *,
    pushes: int = 500,
    groups: int = 50,
    tags: int = 20,
    concurrency: int = 20,
    throttle: float = 0.0,
    server_errors: int = 0,
    transition_seconds: float = 0.2,
    seed: int = 12,
) -> dict[str, object]:
    os.environ.update(
        {"ECI_REDEPLOY_WEBHOOK_TOKEN": TOKEN, "ECI_REDEPLOY_CONFIRM_DIGESTS": "0", "ECI_REDEPLOY_LOG_LEVEL": "WARNING"}
    )
    with tempfile.TemporaryDirectory() as tmp:
        rules = rules_file(Path(tmp) / "rules.yaml")
        os.environ["ECI_REDEPLOY_RULES"] = str(rules)
        stack = Stack(rules, groups, transition_seconds=transition_seconds).start()
        try:
            stack.backend.faults.throttle_share = throttle
            stack.backend.faults.server_error_count = server_errors
            rng = random.Random(seed)
            bodies = []
            for n in range(pushes):
                minor = n % tags + 1
                bodies.append(envelope(minor, event_id=f"ev-{minor}-{rng.randrange(3)}"))
            rng.shuffle(bodies)
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                statuses = list(pool.map(stack.deliver, bodies))
            stack.drain(600)
            seconds = time.perf_counter() - started
            images = stack.images()
            uses = stack.token_uses()
            with stack.backend._lock:
                all_calls = len(stack.backend.calls)
            return {
                "deliveries": pushes,
                "concurrency": concurrency,
                "groups": groups,
                "tags": tags,
                "throttle_share": throttle,
                "server_errors": server_errors,
                "transition_seconds": transition_seconds,
                "replies": {str(s): statuses.count(s) for s in sorted(set(statuses))},
                "mutating_calls": len(stack.mutations()),
                "bound": groups * tags,
                "eci_calls": all_calls,
                "failed_calls": dict(stack.failed_calls()),
                "tokens_applied_twice": sum(1 for n in uses.values() if n > 1),
                "groups_on_newest": sum(1 for i in images.values() if i == image(tags)),
                "final_versions": sorted({int(i.rsplit(":", 1)[1], 16) for i in images.values() if "@" in i}),
                "writer": dict(stack.writer.counts),
                "seconds": round(seconds, 1),
            }
        finally:
            stack.stop()


def process_run(
    *,
    pushes: int = 500,
    groups: int = 50,
    tags: int = 20,
    concurrency: int = 20,
    throttle: float = 0.0,
    server_errors: int = 0,
    transition_seconds: float = 0.2,
    seed: int = 12,
) -> dict[str, object]:
    """The same run as the operator did it: `eci-redeploy fake-eci --transition-seconds` and
    `eci-redeploy serve --live` as processes, faults through the fake's control API, and the outcome
    read from `/_fake/calls` and `/_fake/groups`."""
    import json
    import subprocess
    import urllib.request
    from collections import Counter

    from loadstack import seeded
    from registry_tools import free_port

    from helpers import ROOT, clean_env, wait_for_url

    with tempfile.TemporaryDirectory() as tmp:
        rules = rules_file(Path(tmp) / "rules.yaml")
        (Path(tmp) / "state.json").write_text(json.dumps({"ContainerGroups": seeded(groups)}))
        fake_port, serve_port = free_port(), free_port()
        fake_url = f"http://127.0.0.1:{fake_port}"
        env = {**clean_env(), "PYTHONPATH": str(ROOT / "shared"), "ECI_REDEPLOY_LOG_LEVEL": "WARNING"}
        cli = [sys.executable, "-m", "eci_redeploy.cli"]
        transition = ["--transition-seconds", str(transition_seconds)]
        fake = subprocess.Popen(
            [*cli, "fake-eci", "--port", str(fake_port), "--state", str(Path(tmp) / "state.json"), *transition],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        serve_env = {
            **env,
            "ECI_REDEPLOY_WEBHOOK_TOKEN": TOKEN,
            "ECI_REDEPLOY_CONFIRM_DIGESTS": "0",
            "ECI_REDEPLOY_ECI_ENDPOINT": fake_url,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "fake-access-key-id",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "fake-access-key-secret",
            "ECI_REDEPLOY_WORKER_RETRIES": "20",
            "ECI_REDEPLOY_WORKER_BACKOFF_SECONDS": "0.1",
        }
        serve = subprocess.Popen(
            [*cli, "serve", "--port", str(serve_port), "--rules", str(rules), "--live"],
            env=serve_env,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_url(f"{fake_url}/_fake/calls")
            wait_for_url(f"http://127.0.0.1:{serve_port}/healthz")
            faults = json.dumps({"throttle_share": throttle, "server_error_count": server_errors}).encode()
            urllib.request.urlopen(urllib.request.Request(f"{fake_url}/_fake/faults", data=faults), timeout=10)
            rng = random.Random(seed)
            bodies = [envelope(n % tags + 1, event_id=f"ev-{n % tags + 1}-{rng.randrange(3)}") for n in range(pushes)]
            rng.shuffle(bodies)

            def deliver(body: bytes) -> int:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{serve_port}/", data=body, headers={"Authorization": f"Bearer {TOKEN}"}
                )
                try:
                    with urllib.request.urlopen(request, timeout=120) as response:
                        return int(response.status)
                except urllib.error.HTTPError as exc:
                    return int(exc.code)

            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                statuses = list(pool.map(deliver, bodies))

            def read(path: str) -> object:
                with urllib.request.urlopen(f"{fake_url}{path}", timeout=30) as response:
                    return json.loads(response.read())

            deadline, quiet_since, seen = time.monotonic() + 300, time.monotonic(), -1
            while time.monotonic() < deadline:  # until no ECI call for 3 s: the writer is idle
                count = len(read("/_fake/calls"))  # type: ignore[arg-type]
                if count != seen:
                    seen, quiet_since = count, time.monotonic()
                elif time.monotonic() - quiet_since > 3:
                    break
                time.sleep(0.2)
            seconds = time.perf_counter() - started - 3
            calls = read("/_fake/calls")
            final = read("/_fake/groups")["ContainerGroups"]  # type: ignore[index]
        finally:
            serve.terminate()
            fake.terminate()
            serve.wait(10)
            fake.wait(10)
    mutating = [
        c for c in calls if c["status"] == 200 and c["action"].startswith(("Create", "Update", "Restart", "Delete"))
    ]  # type: ignore[union-attr, index]
    uses = Counter(c["params"].get("ClientToken") for c in mutating)
    images = [g["Containers"][0]["Image"] for g in final]
    return {
        "mode": "processes: fake-eci + serve --live",
        "deliveries": pushes,
        "concurrency": concurrency,
        "groups": groups,
        "throttle_share": throttle,
        "server_errors": server_errors,
        "replies": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "mutating_calls": len(mutating),
        "eci_calls": len(calls),  # type: ignore[arg-type]
        "failed_calls": dict(Counter(c["code"] for c in calls if c["status"] != 200)),  # type: ignore[union-attr, index]
        "tokens_applied_twice": sum(1 for n in uses.values() if n > 1),
        "groups_on_newest": sum(1 for i in images if i == image(tags)),
        "final_versions": sorted({int(i.rsplit(":", 1)[1], 16) for i in images if "@" in i}),
        "seconds": round(seconds, 1),
    }


def run() -> None:
    """For `make bench`: one run without faults, reported like the other benchmarks."""
    figures = load_run()
    report(
        Result(
            "load: 500 pushes, 50 groups, concurrency 20 -> mutating calls",
            float(figures["mutating_calls"]),  # type: ignore[arg-type]
            "calls",
            "groups",
            50,
            "<= 50 x 20, close to 50",
            figures["groups_on_newest"] == 50 and figures["tokens_applied_twice"] == 0,
        )
    )
    print(figures, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=500)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--throttle", type=float, default=0.0)
    parser.add_argument("--server-errors", type=int, default=0)
    parser.add_argument("--transition-seconds", type=float, default=0.2)
    parser.add_argument("--processes", action="store_true", help="fake-eci and serve --live as processes")
    args = parser.parse_args()
    import json

    figures = (process_run if args.processes else load_run)(
        pushes=args.pushes,
        groups=args.groups,
        tags=args.tags,
        concurrency=args.concurrency,
        throttle=args.throttle,
        server_errors=args.server_errors,
        transition_seconds=args.transition_seconds,
    )
    print(json.dumps(figures, indent=2))
    return 0 if figures["groups_on_newest"] == args.groups and figures["tokens_applied_twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
