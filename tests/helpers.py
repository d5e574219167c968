"""Builders shared by the test modules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from eci_redeploy.clients.eci_model import ContainerGroup, parse_groups
from eci_redeploy.events.model import PushEvent

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
EXAMPLES = ROOT / "examples"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
HOST = "reg.example.com"  # a self-hosted registry (`pull: {public: [HOST]}` in a rule)
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)

# Hypothesis profiles (registered and loaded in conftest.py): "ci" runs every property with the number
# of examples it was written with; "dev", the default, a tenth of them (at least 10), so a local run
# of test_fuzz.py takes seconds instead of about a minute. .ci/run sets HYPOTHESIS_PROFILE=ci.
HYPOTHESIS_PROFILES = {"ci": 100, "dev": 10}  # the profile's max_examples, in percent of a property's own


def hypothesis_profile() -> str:
    import os

    name = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    if name not in HYPOTHESIS_PROFILES:
        raise ValueError(f"HYPOTHESIS_PROFILE={name!r}: expected one of {sorted(HYPOTHESIS_PROFILES)}")
    return name


def examples(thorough: int) -> int:
    """The max_examples for a property written for `thorough` examples, under the loaded profile."""
    from hypothesis import settings

    return max(min(10, thorough), thorough * settings.default.max_examples // 100)


def rule(
    name: str = "r",
    repository: str = "team/web",
    *,
    tags: dict[str, Any] | None = None,
    action: str = "update",
    selector: dict[str, Any] | None = None,
    pull: dict[str, Any] | None = None,
    **target: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "source": {"repository": repository, "tags": tags or {"glob": "*"}},
        "target": {"region": "cn-hangzhou", "action": action, **target},
    }
    if action != "create":
        out["target"]["container_groups"] = selector or {"tags": {"app": "web"}}
    if pull is not None:
        out["pull"] = pull
    return out


def push(
    tag: str | None = "1.0.0",
    digest: str | None = DIGEST_A,
    *,
    repository: str = "team/web",
    minutes: float | None = 0,
    event_id: str | None = None,
    host: str | None = HOST,
    source: str = "distribution",
    **fields: Any,
) -> PushEvent:
    """One push as an adapter hands it to the planner: by default a Distribution notification from
    HOST, `minutes` after T0 (None: a payload without a time), event id `ev-<tag>`; `fields` are the
    rest of PushEvent (instance_id, region, signed, equivalent, ...)."""
    return PushEvent(
        repository,
        tag,
        digest,
        source,
        event_id or f"ev-{tag}",
        time=None if minutes is None else T0 + timedelta(minutes=minutes),
        registry_host=host,
        **fields,
    )


def group(
    gid: str,
    *images: str,
    name: str | None = None,
    status: str = "Running",
    tags: dict[str, str] | None = None,
    init: tuple[str, ...] = (),
) -> ContainerGroup:
    return parse_groups(
        [
            {
                "ContainerGroupId": gid,
                "ContainerGroupName": name or gid,
                "RegionId": "cn-hangzhou",
                "Status": status,
                "Tags": [{"Key": k, "Value": v} for k, v in (tags or {"app": "web"}).items()],
                "Containers": [{"Name": f"c{i}", "Image": img} for i, img in enumerate(images, 1)],
                "InitContainers": [{"Name": f"init{i}", "Image": img} for i, img in enumerate(init, 1)],
            }
        ]
    )[0]


def described(
    gid: str, image: str, *, name: str | None = None, app: str = "web", status: str = "Running", **extra: Any
) -> dict[str, Any]:
    """One container group as DescribeContainerGroups returns it (for seeding the fake or a state file)."""
    return {
        "ContainerGroupId": gid,
        "ContainerGroupName": name or gid,
        "RegionId": "cn-hangzhou",
        "Status": status,
        "Tags": [{"Key": "app", "Value": app}],
        "Containers": [{"Name": "app", "Image": image}],
        **extra,
    }


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the project's settings and credentials, plus `extra`."""
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "ECI_REDEPLOY_"))}
    return {**base, **extra}


def wait_for_url(url: str, timeout: float = 30) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


class Hook:
    """A generic JSON webhook channel (report/notify.py) on a loopback port that keeps what it receives."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeTime:
    """One clock for a rollout's health waits: sleeping moves it on, nothing really sleeps."""

    def __init__(self) -> None:
        from eci_redeploy.execution.clock import Clock

        self.now = 0.0
        self.clock = Clock(sleep=self.sleep, now=lambda: self.now)

    def sleep(self, seconds: float) -> None:
        self.now += seconds
