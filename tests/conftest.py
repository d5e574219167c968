from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings

from eci_redeploy.rules.model import RuleSet, parse_rules

from helpers import HYPOTHESIS_PROFILES, hypothesis_profile

for _name, _percent in HYPOTHESIS_PROFILES.items():
    settings.register_profile(_name, max_examples=_percent, print_blob=_name == "ci")
settings.load_profile(hypothesis_profile())


@pytest.fixture
def make_rules(tmp_path: Path) -> Callable[..., RuleSet]:
    """Rules from plain dicts; `templates` are written beside the rules file."""

    def build(*rules: dict[str, Any], templates: dict[str, dict[str, Any]] | None = None) -> RuleSet:
        for name, body in (templates or {}).items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(yaml.safe_dump(body))
        return parse_rules({"version": 1, "rules": list(rules)}, source="rules.yaml", base_dir=tmp_path)

    return build


@pytest.fixture(params=["inprocess", pytest.param("wire", marks=pytest.mark.wire)])
def eci(request, mocker):
    """A fake ECI and a gateway on it: in-process (the real SDK, hooked at its transport) or on the wire (real HTTP)."""
    from eci_redeploy.clients.eci import EciGateway, RetryPolicy
    from eci_redeploy.fake.embedded import gateway_for
    from eci_redeploy.fake.inprocess import inprocess_factory
    from eci_redeploy.fake.models import FakeEci
    from eci_redeploy.fake.server import FakeEciServer

    backend = FakeEci()
    sleeps: list[float] = []
    retry = RetryPolicy(max_attempts=5, max_seconds=5.0, initial=0.01, maximum=0.05)
    if request.param == "inprocess":
        gateway = EciGateway(inprocess_factory(backend), retry=retry, sleep=sleeps.append, label="inprocess")
        yield FakeHandle(backend, gateway, None, sleeps)
    else:
        with FakeEciServer(backend) as server:
            gateway = gateway_for(server, retry=retry)
            gateway._sleep = sleeps.append
            yield FakeHandle(backend, gateway, server, sleeps)


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory):
    """Debian's docker-registry holding team/web at 1.0.0, 1.1.0, 1.2.0 (a two-platform index), 1.3.0-rc.1,
    2.0.0 and not-semver: (the registry, {tag or "tag/arch": digest}, its folder). The reconcile's tests
    use it (operations/, gates/, and the scaling groups'); tests/reconcile_stage.py has the rule."""
    import json

    from registry_tools import Registry, push, write_layout

    root = tmp_path_factory.mktemp("registry")
    with Registry(root) as registry:
        digests = {}
        for tag in ("1.0.0", "1.1.0", "1.3.0-rc.1", "2.0.0", "not-semver"):
            digests[tag] = write_layout(root / f"img-{tag}", tag, f"web {tag}")
            push(root / f"img-{tag}", tag, f"{registry.host}/team/web:{tag}")
        layout = root / "img-1.2.0"
        digests["1.2.0"] = write_layout(layout, "1.2.0", "web 1.2.0", platforms=("amd64", "arm64"))
        push(layout, "1.2.0", f"{registry.host}/team/web:1.2.0")
        index = json.loads((layout / "blobs" / "sha256" / digests["1.2.0"].split(":")[1]).read_text())
        for arch in ("amd64", "arm64"):
            digests[f"1.2.0/{arch}"] = next(
                m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == arch
            )
        yield registry, digests, root


@pytest.fixture
def fake_eci_process():
    """`eci-redeploy fake-eci` as a process on a free loopback port, seeded with examples/state.json: its URL."""
    import subprocess
    import sys

    from registry_tools import free_port

    from helpers import EXAMPLES, ROOT, clean_env, wait_for_url

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eci_redeploy.cli",
            "fake-eci",
            "--port",
            str(port),
            "--state",
            str(EXAMPLES / "state.json"),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    wait_for_url(f"http://127.0.0.1:{port}/_fake/calls")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


class FakeHandle:
    def __init__(self, backend, gateway, server, sleeps):
        self.backend, self.gateway, self.server, self.sleeps = backend, gateway, server, sleeps


@pytest.fixture
def fc(mocker, monkeypatch):
    """Handlers wired to an in-process fake ECI seeded with tests/data/webhook-state.json."""
    from eci_redeploy.clients.eci import EciGateway, RetryPolicy
    from eci_redeploy.execution.dispatch import InlineDispatcher
    from eci_redeploy.fake.inprocess import inprocess_factory
    from eci_redeploy.fake.models import FakeEci
    from eci_redeploy.functions import push_worker as events
    from eci_redeploy.functions import runtime as common
    from eci_redeploy.functions import webhook
    from fcfixtures import DATA, HMAC_SECRET, TOKEN, FcHarness, fc_context

    for key in [k for k in __import__("os").environ if k.startswith(("ECI_REDEPLOY_", "ALIBABA_CLOUD_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(DATA / "webhook-rules.yaml"))
    monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "0")  # tests of confirmation turn it on with a local registry
    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_TOKEN", TOKEN)
    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_HMAC_SECRET", HMAC_SECRET)
    # These tests read the webhook's plan in its reply: the preview is on here (off by default, issue 25;
    # tests/functions/test_webhook_economy.py covers the default)
    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_PREVIEW", "1")
    backend = FakeEci()
    backend.seed(__import__("json").loads((DATA / "webhook-state.json").read_text())["ContainerGroups"])
    retry = RetryPolicy(max_attempts=3, initial=0.001, maximum=0.002)
    mocker.patch.object(
        common, "gateway_factory", side_effect=lambda env, ctx: EciGateway(inprocess_factory(backend), retry=retry)
    )
    dispatcher = InlineDispatcher(
        lambda order: events.handle_work(
            order.model_dump_json().encode(), fc_context("worker"), default_rules=DATA / "webhook-rules.yaml"
        ),
        background=False,
    )
    mocker.patch.object(common, "dispatcher_factory", return_value=dispatcher)
    webhook.GUARD.__init__()
    return FcHarness(backend, dispatcher)
