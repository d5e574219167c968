from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eci_redeploy.rules import RuleSet, parse_rules


@pytest.fixture
def make_rules(tmp_path: Path) -> Callable[..., RuleSet]:
    """Rules from plain dicts; `templates` are written beside the rules file."""

    def build(*rules: dict[str, Any], templates: dict[str, dict[str, Any]] | None = None) -> RuleSet:
        for name, body in (templates or {}).items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(yaml.safe_dump(body))
        return parse_rules({"version": 1, "rules": list(rules)}, source="rules.yaml", base_dir=tmp_path)

    return build


@pytest.fixture(params=["inprocess", "wire"])
def eci(request, mocker):
    """A fake ECI and a gateway on it: in-process (SDK models, no socket) or on the wire (real HTTP)."""
    from eci_redeploy.fake.backend import FakeEci
    from eci_redeploy.fake.embedded import gateway_for
    from eci_redeploy.fake.inprocess import inprocess_factory
    from eci_redeploy.fake.server import FakeEciServer
    from eci_redeploy.gateway import EciGateway, RetryPolicy

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


class FakeHandle:
    def __init__(self, backend, gateway, server, sleeps):
        self.backend, self.gateway, self.server, self.sleeps = backend, gateway, server, sleeps
