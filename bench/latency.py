"""Push-to-API latency on this machine: from Debian's docker-registry creating the notification of a
manifest push to the UpdateContainerGroup call arriving at the fake ECI, through `eci-redeploy serve`.

The start is the notification's own `timestamp` (set by the registry when the event is created, read
back from serve's structured log); the end is the wall time the fake received the call.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import Result, report

PEERS = [
    ("Keel (webhook)", "immediate"),
    ("Keel (polling default)", "every 1 min"),
    ("Argo CD Image Updater", "polls every 2 min"),
    ("Flux image reflector", "scans every 1-5 min (interval)"),
    ("Watchtower", "polls every 24 h"),
    ("AWS App Runner", "about 5 min per automatic deployment"),
]


def run(pushes: int = 9) -> None:
    if not (shutil.which("docker-registry") and shutil.which("skopeo")):
        print("# latency skipped: docker-registry / skopeo not installed (bash .ci/install-system-deps)")
        return
    from eci_redeploy.fake.server import FakeEciServer
    from registry_tools import Registry, free_port, push, serve_live, write_layout

    root = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    registry_port, serve_port = free_port(), free_port()
    host = f"127.0.0.1:{registry_port}"
    (root / "rules.yaml").write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "name": "web",
                        "source": {"repository": "team/web", "registry": host, "tags": {"glob": "*"}},
                        "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"name": "web"}},
                        "pull": {"plain_http": [host]},
                        "rollout": {"poll_seconds": 0.05},
                    }
                ],
            }
        )
    )
    token = "bench-token"
    with FakeEciServer() as fake:
        fake.backend.seed(
            [
                {
                    "ContainerGroupId": "eci-web",
                    "ContainerGroupName": "web",
                    "RegionId": "cn-hangzhou",
                    "Status": "Running",
                    "Containers": [{"Name": "app", "Image": f"{host}/team/web:0"}],
                }
            ]
        )
        with serve_live(root / "rules.yaml", serve_port, fake, token, root / "serve.log"):
            latencies = []
            with Registry(
                root / "registry", notify_url=f"http://127.0.0.1:{serve_port}/", notify_token=token, port=registry_port
            ):
                for i in range(pushes):
                    tag = f"1.0.{i}"
                    digest = write_layout(root / f"img-{i}", tag, f"web {i}")
                    push(root / f"img-{i}", tag, f"{host}/team/web:{tag}")
                    arrived = _wait_for_update(fake, digest)
                    created = _event_time(root / "serve.log", digest)
                    if arrived and created:
                        latencies.append((arrived - created) * 1000)
    if not latencies:
        print("# latency: no measurement (see serve.log)")
        return
    median = statistics.median(latencies)
    report(
        Result(
            f"push-to-API latency, median of {len(latencies)}",
            median,
            "ms",
            "fastest (ms)",
            min(latencies),
            "median < 150 ms",
            median < 150,
        )
    )
    print("# peers' reaction time (their defaults): " + "; ".join(f"{n}: {v}" for n, v in PEERS))
    shutil.rmtree(root, ignore_errors=True)


def _wait_for_update(fake, digest: str, timeout: float = 30) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in fake.backend.calls:
            if (
                call.action == "UpdateContainerGroup"
                and call.status == 200
                and call.params.get("Container.1.Image", "").endswith(digest)
            ):
                return call.wall
        time.sleep(0.01)
    return None


def _event_time(log: Path, digest: str) -> float | None:
    for line in log.read_text().splitlines():
        if '"webhook.dispatched"' not in line:
            continue
        for event in json.loads(line).get("events", []):
            if event.get("digest") == digest and event.get("time"):
                return datetime.fromisoformat(event["time"]).timestamp()
    return None


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
