"""Real deliveries (issue 14): a Distribution envelope of many pushes, and oversized bodies at `serve`.

- 200 pushes of one watched repository in one envelope, applied on the wire to 3 groups: mutating
  calls (coalesced: one per group; without coalescing: one per push per group) and planning time;
- `serve`'s peak RSS while four clients post 50 MB bodies at once (two chunked, two announced).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, Result, median_of, report

PUSHES, GROUPS = 200, 3
FIFTY_MB = 50 * 1024 * 1024


def envelope() -> bytes:
    versions = list(range(PUSHES))
    random.Random(14).shuffle(versions)
    events = [
        {
            "id": f"e{n}",
            "timestamp": "2026-11-27T10:30:01Z",
            "action": "push",
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + f"{v:064x}",
                "repository": "team/web",
                "tag": f"1.0.{v}",
            },
            "request": {"host": "reg.example.com"},
        }
        for n, v in enumerate(versions)
    ]
    return json.dumps({"events": events}).encode()


def coalescing() -> None:
    from economy import rules_doc, seed

    from eci_redeploy.clients.eci import RetryPolicy
    from eci_redeploy.events.adapters import parse_payload
    from eci_redeploy.fake.embedded import gateway_for
    from eci_redeploy.fake.server import FakeEciServer
    from eci_redeploy.pipeline import run as apply_run
    from eci_redeploy.planning.decide import decide
    from eci_redeploy.rules.model import parse_rules

    rules = parse_rules(rules_doc("reg.example.com", tags={"semver": "^1.0.0"}))
    parsed = parse_payload(envelope())
    with FakeEciServer() as server:
        seed(server.backend, "reg.example.com", GROUPS)
        gateway = gateway_for(server, retry=RetryPolicy(max_attempts=3, initial=0.01))
        groups = list(gateway.describe("cn-hangzhou", tags={"app": "web"}))
        samples = []
        for _ in range(9):
            started = time.perf_counter()
            decide(parsed, rules, groups, {})
            samples.append(time.perf_counter() - started)
        apply_run(parsed, rules, gateway, {})
        mutating = len(server.backend.mutating_calls())
    report(
        Result(
            f"mutating calls for {PUSHES} pushes of one repository in one delivery, {GROUPS} groups",
            mutating,
            "calls",
            "one per push per group",
            PUSHES * GROUPS,
            f"{GROUPS} (one per group)",
            mutating == GROUPS,
        )
    )
    report(Result(f"planning a {PUSHES}-push delivery (coalesced)", median_of(samples) * 1000, "ms"))


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def body_limits() -> None:
    from registry_tools import free_port

    from helpers import wait_for_url

    port, token = free_port(), "bench-token"
    env = {**os.environ, "ECI_REDEPLOY_WEBHOOK_TOKEN": token, "PYTHONPATH": str(ROOT / "shared")}
    rules = ROOT / "tests" / "data" / "webhook-rules.yaml"
    serve = subprocess.Popen(
        [sys.executable, "-m", "eci_redeploy.cli", "serve", "--port", str(port), "--rules", str(rules)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_url(f"http://127.0.0.1:{port}/healthz")
        idle = _peak_rss_kib(serve.pid)

        def chunked() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            blocks = (b" " * 65536 for _ in range(FIFTY_MB // 65536))
            try:
                conn.request("POST", f"/?token={token}", body=blocks, encode_chunked=True)
                conn.getresponse().read()
            except OSError:
                pass  # closed by the server at the limit

        def announced() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.putrequest("POST", f"/?token={token}")
            conn.putheader("Content-Length", str(FIFTY_MB))
            conn.endheaders()
            conn.getresponse().read()

        threads = [threading.Thread(target=f) for f in (chunked, chunked, announced, announced)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        peak = _peak_rss_kib(serve.pid)
    finally:
        serve.terminate()
        serve.wait(10)
    report(
        Result(
            "serve peak RSS, four concurrent 50 MB posts",
            peak / 1024,
            "MB",
            "idle serve",
            idle / 1024,
            "< 100 MB",
            peak < 100 * 1024,
        )
    )


def run() -> None:
    coalescing()
    body_limits()
