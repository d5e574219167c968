"""A stage for the gates tests: the fake ECI (and ACR) on the wire, the real ECI and ACR SDKs talking
to it, container groups on an ACR EE image, a rules file with gates, a clock the test moves, and a
local HTTP endpoint that receives the notifications (the generic webhook channel)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eci_redeploy.clients.eci import Credentials, RetryPolicy
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.executor import Executor
from eci_redeploy.execution.rollout import Clock
from eci_redeploy.fake.acr_gates import artifact_event, state
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.server import FakeEciServer
from eci_redeploy.functions.gate_endpoints import on_gate_events, run_release
from eci_redeploy.gates import flow
from eci_redeploy.gates.acr import AcrEvidence
from eci_redeploy.gates.flow import GateContext
from eci_redeploy.pipeline import run

INSTANCE = "cri-abc123"
HOST = "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
REPO = "team/web"
# Sunday 2026-11-29 12:00 UTC = 20:00 in Shanghai: outside a Monday 02:00-05:00 Asia/Shanghai window,
# which opens at 18:00 UTC the same day.
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def digest(n: int) -> str:
    return "sha256:" + f"{n:x}" * 64 if n < 16 else "sha256:" + f"{n:064x}"


class Collector:
    """Receives notifications over real HTTP."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def outcomes(self) -> list[str]:
        return [b["outcome"] for b in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Stage:
    def __init__(self, make_rules: Any, gates: dict[str, Any], *, groups: int = 2, tags: dict[str, Any] | None = None):
        self.server = FakeEciServer().start()
        self.backend = self.server.backend
        self.acr = state(self.backend)
        self.acr.repo_id(INSTANCE, REPO)
        self.gateway = gateway_for(self.server, retry=RetryPolicy(max_attempts=4, max_seconds=5, initial=0.001))
        self.backend.seed(
            [
                {
                    "ContainerGroupId": f"eci-{i}",
                    "ContainerGroupName": f"web-{i}",
                    "RegionId": "cn-hangzhou",
                    "Status": "Running",
                    "Tags": [{"Key": "app", "Value": "web"}],
                    "Containers": [{"Name": "app", "Image": f"{HOST}/{REPO}:1.0.0"}],
                }
                for i in range(groups)
            ]
        )
        self.hooks = Collector()
        self.env = {"HOOK_URL": self.hooks.url, "APPROVERS": "alice:al1ce-token,bob:b0b-token"}
        self.rules = make_rules_with(make_rules, gates, tags or {"semver": ">=1.0.0"})
        self.now = T0
        self.lookup = AcrEvidence(Credentials(*self.server.credentials), self.server.url)
        self.events = 0

    # ---- time ----

    def at(self, when: datetime) -> Stage:
        self.now = when
        return self

    def later(self, **delta: float) -> Stage:
        self.now += timedelta(**delta)
        return self

    def context(self, *, lookup: bool = True) -> GateContext:
        return GateContext(
            now=lambda: self.now, lookup=self.lookup if lookup else None, webhook_url="https://fc.example.com/hook"
        )

    # ---- what happens ----

    def push(self, tag: str, n: int, *, at: datetime | None = None) -> Any:
        self.events += 1
        event = PushEvent(
            REPO,
            tag,
            digest(n),
            "acr-eventbridge",
            f"push-{self.events}",
            time=at or self.now,
            instance_id=INSTANCE,
            instance_name="acme",
            region="cn-hangzhou",
            signed=True,
        )
        clock = Clock(sleep=lambda s: None)
        return run(
            [event],
            self.rules,
            self.gateway,
            self.env,
            gate_context=self.context(lookup=False),
            executor=Executor(clock=clock),
        )

    def event(self, kind: str, tag: str, n: int | None, **data: Any) -> dict[str, Any]:
        raw = artifact_event(kind, INSTANCE, REPO, tag, digest(n) if n is not None else None, when=self.now, **data)
        return on_gate_events([raw], self.rules, self.gateway, self.env, gate_context=self.context())

    def tick(self) -> Any:
        """The timer's release pass (the reconcile's own pick needs a registry: tested elsewhere)."""
        return run_release(self.rules, self.gateway, self.env, gate_context=self.context())

    # ---- what is there ----

    def images(self) -> dict[str, str]:
        return {gid: self.backend.group(gid).images()[0] for gid in sorted(self.backend.groups)}

    def updates(self) -> list[Any]:
        return self.backend.mutating_calls("UpdateContainerGroup")

    def tags(self, gid: str = "eci-0") -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.backend.group(gid).spec.get("Tag") or []}

    def status(self) -> dict[str, Any]:
        return flow.status(self.rules, self.gateway, now=self.now)

    def close(self) -> None:
        self.server.stop()
        self.hooks.close()


def make_rules_with(make_rules: Any, gates: dict[str, Any], tags: dict[str, Any]) -> Any:
    from helpers import rule

    body = rule(
        "web-prod",
        REPO,
        tags=tags,
        pull={"acr": {"instance_id": INSTANCE, "instance_name": "acme", "region": "cn-hangzhou"}},
    )
    body["source"]["registry"] = INSTANCE
    body["gates"] = gates
    body["notify"] = [{"webhook": {"url_env": "HOOK_URL"}}]
    return make_rules(body)


def image(n: int) -> str:
    return f"{HOST}/{REPO}@{digest(n)}"
