"""Unsigned payloads are confirmed with a real registry before anything is deployed."""

import json

import pytest

from eci_redeploy.clients.registry_api import RegistryClient
from eci_redeploy.events.model import PushEvent
from eci_redeploy.planning.confirm import confirm
from fcfixtures import TOKEN, fc_context, http_event
from registry_tools import Registry, push, write_layout

from helpers import EVENTS


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("confirm")
    with Registry(root) as reg:
        digest = write_layout(root / "img", "2.3.1", "api 2.3.1")
        push(root / "img", "2.3.1", f"{reg.host}/team/api:2.3.1")
        yield reg, digest


def rules_file(make_rules, host):
    return make_rules(
        {
            "name": "api",
            "source": {"repository": "team/api", "tags": {"glob": "2.*"}},
            "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"name": "api"}},
            "pull": {"plain_http": [host]},
        }
    )


def hint(host, tag="2.3.1", digest=None):
    return PushEvent("team/api", tag, digest, "acr-webhook", "e1", registry_host=host)


def clients(rule, host):
    return RegistryClient(host, scheme="http", timeout=3)


def test_confirmed_missing_digest_filled_in(registry, make_rules):
    reg, digest = registry
    result = confirm([hint(reg.host)], rules_file(make_rules, reg.host), [], clients)
    (event,) = result.events
    assert event.digest == digest and event.signed and "confirmed" in result.notes[0]


def test_disagreeing_digest_is_replaced_by_the_registry(registry, make_rules):
    reg, digest = registry
    result = confirm([hint(reg.host, digest="sha256:" + "9" * 64)], rules_file(make_rules, reg.host), [], clients)
    assert result.events[0].digest == digest and "the registry says" in result.notes[0]


def test_forged_tag_is_dropped(registry, make_rules):
    reg, _ = registry
    result = confirm([hint(reg.host, tag="2.9.9")], rules_file(make_rules, reg.host), [], clients)
    assert result.events == [] and "does not exist in the registry" in result.dropped[0].reason


def test_unreachable_registry_keeps_the_hint_and_says_so(make_rules):
    from registry_tools import free_port

    host = f"127.0.0.1:{free_port()}"
    result = confirm([hint(host)], rules_file(make_rules, host), [], clients)
    assert result.events[0].digest is None and "not confirmed" in result.notes[0]


def test_webhook_confirms_acr_payloads_before_deploying(fc, registry, monkeypatch, mocker):
    from eci_redeploy.functions import webhook

    reg, digest = registry
    monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "1")
    # The sample's registry is ACR's; point the check at the local registry instead.
    mocker.patch.object(
        webhook, "client_factory", return_value=lambda rule, host: RegistryClient(reg.host, scheme="http", timeout=3)
    )
    forged = json.loads((EVENTS / "acr-webhook.json").read_text())
    forged["push_data"]["tag"] = "2.9.9"
    response = webhook.handle(
        http_event(json.dumps(forged), query={"token": TOKEN}), fc_context(), default_rules=EVENTS
    )
    assert response["statusCode"] == 200 and "does not exist in the registry" in response["body"]
    assert fc.mutations() == []
    real = (EVENTS / "acr-webhook.json").read_bytes()
    response = webhook.handle(http_event(real, query={"token": TOKEN}), fc_context(), default_rules=EVENTS)
    assert response["statusCode"] == 202
    assert "the registry says" in response["body"]  # the sample's digest is not what the registry holds
    (call,) = fc.mutations()
    assert call.params["Container.1.Image"].endswith(f"team/api@{digest}")
