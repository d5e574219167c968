"""The gates through the functions' entry points, on the wire: a FakeEciServer (ECI and the ACR API) behind
the functions' gateway factory, two groups on team/web 1.3.0 of an ACR EE instance, a rules file with the
gates a test asks for, the gates' clock a test moves (`w.now`), and the worker run inline. `world(gates)`
builds one (a module takes the fixture with `world = gates_world.world`)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from eci_redeploy.clients.eci import RetryPolicy
from eci_redeploy.execution.dispatch import InlineDispatcher
from eci_redeploy.fake.acr_gates import state
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.server import FakeEciServer
from eci_redeploy.functions import push_worker as events
from eci_redeploy.functions import runtime as common
from eci_redeploy.functions import webhook
from eci_redeploy.gates import context, store
from fcfixtures import TOKEN, fc_context

from helpers import EVENTS, rule

PUSH = json.loads((EVENTS / "acr-ee-push.json").read_text())
DIGEST = PUSH["data"]["Digest"]
HOST = "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
OLD = f"{HOST}/team/web:1.3.0"
NEW = f"{HOST}/team/web@{DIGEST}"
PUSHED = datetime.fromisoformat(PUSH["time"])  # 2026-11-27T10:15:30.123+08:00


def held_id(w, gid: str = "eci-0") -> str:
    """The id of the hold on a group, as its notification shows it (rule, full digest, the hold's creation)."""
    held = store.read({t["Key"]: t["Value"] for t in w.backend.group(gid).spec["Tag"]})
    assert held is not None
    return held.id


class World:
    def __init__(self, tmp_path: Path, monkeypatch, mocker, gates: dict, tags: dict | None = None) -> None:
        self.server = FakeEciServer().start()
        self.backend = self.server.backend
        self.acr = state(self.backend)
        self.acr.repo_id("cri-abc123", "team/web")
        self.gateway = gateway_for(self.server, retry=RetryPolicy(max_attempts=3, max_seconds=5, initial=0.001))
        self.backend.seed(
            [
                {
                    "ContainerGroupId": f"eci-{i}",
                    "ContainerGroupName": f"web-{i}",
                    "RegionId": "cn-hangzhou",
                    "Status": "Running",
                    "Tags": [{"Key": "app", "Value": "web"}],
                    "Containers": [{"Name": "app", "Image": OLD}],
                }
                for i in range(2)
            ]
        )
        body = rule(
            "web-prod",
            "team/web",
            tags=tags or {"semver": ">=1.0.0"},
            pull={"acr": {"instance_id": "cri-abc123", "instance_name": "acme", "region": "cn-hangzhou"}},
        )
        body["source"]["registry"] = "cri-abc123"
        body["gates"] = gates
        self.rules_path = tmp_path / "rules.yaml"
        self.rules_path.write_text(yaml.safe_dump({"version": 1, "rules": [body]}))
        key, secret = self.server.credentials
        for k in [k for k in os.environ if k.startswith(("ECI_REDEPLOY_", "ALIBABA_CLOUD_"))]:
            monkeypatch.delenv(k)
        for k, v in {
            "ECI_REDEPLOY_RULES": str(self.rules_path),
            "ECI_REDEPLOY_WEBHOOK_TOKEN": TOKEN,
            "ECI_REDEPLOY_ACR_ENDPOINT": self.server.url,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": key,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
            "APPROVERS": "alice:al1ce-token, bob:b0b-token",
        }.items():
            monkeypatch.setenv(k, v)
        mocker.patch.object(common, "gateway_factory", side_effect=lambda env, ctx: self.gateway)
        self.now = PUSHED + timedelta(minutes=1)
        monkeypatch.setattr(context, "CLOCK", lambda: self.now)
        self.dispatcher = InlineDispatcher(
            lambda order: events.handle_work(
                order.model_dump_json().encode(), fc_context("worker"), default_rules=self.rules_path
            ),
            background=False,
        )

    def push(self, payload: dict) -> dict:
        return events.handle_push(json.dumps(payload).encode(), fc_context("push"), default_rules=self.rules_path)

    def http(self, method: str, path: str, headers: dict | None = None, query: dict | None = None) -> dict:
        event = {
            "version": "v1",
            "rawPath": path,
            "body": "",
            "isBase64Encoded": False,
            "headers": headers or {},
            "queryParameters": query or {},
            "requestContext": {"requestId": "r", "http": {"method": method, "path": path, "sourceIp": "127.0.0.1"}},
        }
        return webhook.handle(
            json.dumps(event).encode(), fc_context(), default_rules=self.rules_path, dispatcher=self.dispatcher
        )

    def images(self) -> set[str]:
        return {g.images()[0] for g in self.backend.groups.values()}

    def updates(self) -> list:
        return self.backend.mutating_calls("UpdateContainerGroup")


@pytest.fixture
def world(tmp_path, monkeypatch, mocker):
    made = []

    def build(gates, **kw):
        made.append(World(tmp_path, monkeypatch, mocker, gates, **kw))
        return made[-1]

    yield build
    for w in made:
        w.server.stop()
