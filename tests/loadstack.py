"""`serve` as an operator runs it, in this process: the webhook app (the single writer behind it) on a
real HTTP port, the real ECI SDK, and the fake ECI over HTTP with transition times. Deliveries are
Distribution notification envelopes (the format `docker-registry` sends: distribution/distribution
docs/content/about/notifications.md, a `push` event of a manifest with `target.tag`), POSTed with the
bearer token the registry's `notifications.endpoints[].headers` would carry.

Shared by tests/system/test_concurrency.py and bench/load.py.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from werkzeug.serving import make_server

from eci_redeploy.clients.eci import RetryPolicy
from eci_redeploy.execution.writer import RetryBudget
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.server import FakeEciServer
from eci_redeploy.functions.serve import _QuietHandler, make_app

HOST = "reg.example.com"
TOKEN = "load-test-token"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def digest(minor: int) -> str:
    return f"sha256:{minor:064x}"


def image(minor: int) -> str:
    return f"{HOST}/team/web@{digest(minor)}"


def envelope(minor: int, *, event_id: str | None = None, minutes: float | None = None, tag: str | None = None) -> bytes:
    """One Distribution notification: a push of team/web:1.<minor>.0 at T0 + minutes (default: minor)."""
    at = T0 + timedelta(minutes=minor if minutes is None else minutes)
    return json.dumps(
        {
            "events": [
                {
                    "id": event_id or f"ev-{minor}",
                    "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "action": "push",
                    "target": {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "size": 407,
                        "digest": digest(minor),
                        "length": 407,
                        "repository": "team/web",
                        "url": f"https://{HOST}/v2/team/web/manifests/{digest(minor)}",
                        "tag": tag or f"1.{minor}.0",
                    },
                    "request": {"id": "r-1", "addr": "10.0.0.9:51234", "host": HOST, "method": "PUT"},
                    "actor": {},
                    "source": {"addr": "registry:5000", "instanceID": "i-1"},
                }
            ]
        }
    ).encode()


def rules_file(path: Path, *, semver: bool = True, **rollout: Any) -> Path:
    tags = {"semver": "^1.0.0"} if semver else {"glob": "*"}
    body = {
        "version": 1,
        "rules": [
            {
                "name": "web",
                "source": {"repository": "team/web", "registry": HOST, "tags": tags},
                "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"tags": {"app": "web"}}},
                "pull": {"public": [HOST]},
                "rollout": {"batch_size": 50, "poll_seconds": 0.02, "timeout_seconds": 20, **rollout},
            }
        ],
    }
    path.write_text(yaml.safe_dump(body))
    return path


def seeded(n: int, first: str = f"{HOST}/team/web:1.0.0") -> list[dict[str, Any]]:
    return [
        {
            "ContainerGroupId": f"eci-{i:03d}",
            "ContainerGroupName": f"web-{i:03d}",
            "RegionId": "cn-hangzhou",
            "Status": "Running",
            "Tags": [{"Key": "app", "Value": "web"}],
            "Containers": [{"Name": "app", "Image": first}],
        }
        for i in range(n)
    ]


class Stack:
    """Start with `Stack(...).start()`; `deliver()` POSTs; `drain()` waits for the writer; `stop()`."""

    def __init__(
        self,
        rules: Path,
        groups: int,
        *,
        transition_seconds: float = 0.1,
        budget: RetryBudget | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.fake = FakeEciServer()
        self.backend = self.fake.backend
        self.backend.startup_seconds = self.backend.update_seconds = transition_seconds
        self.backend.seed(seeded(groups))
        self.gateway = gateway_for(
            self.fake, retry=retry or RetryPolicy(max_attempts=10, max_seconds=20, initial=0.01, maximum=0.2)
        )
        self.app = make_app(
            rules, self.gateway, budget=budget or RetryBudget(retries=20, initial=0.05, maximum=0.5, max_age=120)
        )
        self.writer = self.app.writer
        self.http = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.http.port}/"

    def start(self) -> Stack:
        self.fake.start()
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.writer.stop()
        self.http.shutdown()
        self.http.server_close()
        self.fake.stop()

    def deliver(self, body: bytes) -> int:
        request = urllib.request.Request(
            self.url, data=body, headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def drain(self, timeout: float = 120) -> None:
        if not self.writer.drain(timeout):
            raise AssertionError(f"the writer did not finish within {timeout} s: {self.writer.counts}")

    # ---- what happened ----

    def images(self) -> dict[str, str]:
        with self.backend._lock:
            return {gid: g.spec["Container"][0]["Image"] for gid, g in sorted(self.backend.groups.items())}

    def mutations(self) -> list[Any]:
        with self.backend._lock:
            return list(self.backend.mutating_calls())

    def token_uses(self) -> Counter[str]:
        return Counter(c.params["ClientToken"] for c in self.mutations())

    def failed_calls(self) -> Counter[str]:
        with self.backend._lock:
            return Counter(c.code or "" for c in self.backend.calls if c.status != 200)
