"""Issue 23 item 5: no payload chooses a host the product connects to or sends credentials to.

Every value that becomes part of a host name (a region, an ACR EE instance id or name, a registry
host) is checked against its documented grammar where the payload is read and again where the host
is built (a work order crosses a trust boundary). Each attack is reproduced against a real loopback
listener, which must receive zero connections.

Grammars, from the public sources:
- region ids: Alibaba Cloud "Region IDs" (https://help.aliyun.com/en/drp/support/region-ids) and the
  Finance Cloud list (`cn-shanghai-finance-1`): lowercase letters and digits in hyphen-joined parts,
  the first part two letters;
- ACR EE instance ids: `cri-` and lowercase letters and digits (the ACR API's InstanceId samples,
  e.g. `cri-xkx6vujuhay0****` in GetRepoTagScanSummary, with the mask replaced);
- host names: RFC 1123 section 2.1 (labels of letters, digits and hyphens, at most 63 characters,
  neither starting nor ending with a hyphen; at most 253 in all), an optional `:port` of 1-65535.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fcfixtures import TOKEN, fc_context, http_event
from loopback import Listener

from helpers import EVENTS, described

DOMAIN = "registry.example.com"
ACR_WEBHOOK = json.loads((EVENTS / "acr-webhook.json").read_text())


@pytest.fixture
def listener():
    with Listener() as lst:
        yield lst


def gated_rules(tmp_path: Path) -> Path:
    """The webhook's `team/api` rule with a scan gate on an ACR EE instance: the worker asks the ACR API
    (GetRepository, GetRepoTagScanStatus) in the push's region."""
    path = tmp_path / "rules.yaml"
    rule = {
        "name": "api",
        "source": {"repository": "team/api", "tags": {"glob": "2.*"}},
        "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"name": "api"}},
        # A custom domain of the instance: its groups match a push from any region (planner.py)
        "pull": {"acr": {"instance_id": "cri-abc123", "instance_name": "acme", "domains": [DOMAIN]}},
        "gates": {"scan": {"max_severity": "high"}},
    }
    path.write_text(yaml.safe_dump({"version": 1, "rules": [rule]}))
    return path


def webhook(body):
    from eci_redeploy.functions import webhook as handler

    response = handler.handle(http_event(json.dumps(body), query={"token": TOKEN}), fc_context(), default_rules=EVENTS)
    return response["statusCode"], json.loads(response["body"])


def test_5_an_acr_webhook_region_cannot_point_the_acr_api_at_another_host(fc, tmp_path, monkeypatch, listener):
    # As reported: the region went into `cr.<region>.aliyuncs.com`, and `x@127.0.0.1:PORT/#` made the
    # host 127.0.0.1:PORT (userinfo before it, the real domain in the fragment after it).
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(gated_rules(tmp_path)))
    fc.backend.seed([described("eci-api", f"{DOMAIN}/team/api:2.3.0", name="api")])
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-test")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret-test")
    body = json.loads(json.dumps(ACR_WEBHOOK))
    body["repository"]["region"] = f"x@127.0.0.1:{listener.port}/#"
    status, reply = webhook(body)
    assert status == 400, reply
    assert "repository.region" in reply["error"] and "not a region id" in reply["error"], reply
    assert listener.accepted == 0
    assert fc.backend.calls == [] and fc.dispatcher.seen == set()


def hostile_region(port: int) -> str:
    return f"x@127.0.0.1:{port}/#"


def credentials(monkeypatch):
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-test")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret-test")


def test_5_a_work_order_carrying_that_region_is_refused_by_the_worker(fc, tmp_path, monkeypatch, listener):
    # Whoever can invoke the worker skips the adapter: the order is checked again before anything runs.
    from eci_redeploy.functions import push_worker

    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(gated_rules(tmp_path)))
    fc.backend.seed([described("eci-api", f"{DOMAIN}/team/api:2.3.0", name="api")])
    credentials(monkeypatch)
    event = {"repository": "team/api", "tag": "2.3.1", "source": "acr-webhook", "event_id": "e1"}
    event["region"] = hostile_region(listener.port)
    order = {"kind": "eci-redeploy/work-order", "task_id": "er-x", "events": [event]}
    result = push_worker.handle_work(json.dumps(order).encode(), fc_context("worker"), default_rules=EVENTS)
    assert result == {"ok": False, "error": "invalid work order"}
    assert listener.accepted == 0 and fc.backend.calls == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("instance_id", "cri-abc@127.0.0.1:{port}/#"),
        ("instance_name", "acme.127.0.0.1:{port}/#"),
        ("registry_host", "evil@127.0.0.1:{port}"),
    ],
)
def test_5_every_host_forming_field_of_a_work_order_is_checked(fc, field, value, listener):
    from eci_redeploy.execution.handoff import WorkOrder

    event = {"repository": "team/api", "tag": "2.3.1", "source": "acr-webhook", "event_id": "e1"}
    event[field] = value.format(port=listener.port)
    with pytest.raises(ValueError, match=field):
        WorkOrder.model_validate({"kind": "eci-redeploy/work-order", "task_id": "er-x", "events": [event]})
    assert listener.accepted == 0


def test_5_the_acr_api_client_refuses_such_a_region_where_it_builds_the_host(monkeypatch, listener):
    # Behind every adapter and the work order: the evidence client itself, with real credentials and
    # the real ACR SDK, is handed a subject whose region came from somewhere unchecked.
    from eci_redeploy.clients.eci import Credentials
    from eci_redeploy.gates.acr import AcrEvidence
    from eci_redeploy.gates.evaluate import Subject
    from eci_redeploy.rules.model import parse_rules

    rules = parse_rules({"version": 1, "rules": [yaml.safe_load(gated_rules_text())]}, source="rules.yaml")
    evidence = AcrEvidence(Credentials("LTAI-test", "secret-test"))
    subject = Subject("team/api", "2.3.1", None, "cri-abc123", hostile_region(listener.port), None)
    assert evidence.scan(rules.rules[0], subject) is None  # not known: the change stays held
    assert listener.accepted == 0


def gated_rules_text() -> str:
    return yaml.safe_dump(
        {
            "name": "api",
            "source": {"repository": "team/api", "tags": {"glob": "2.*"}},
            "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"name": "api"}},
            "pull": {"acr": {"instance_id": "cri-abc123", "instance_name": "acme"}},
            "gates": {"scan": {"max_severity": "high"}},
        }
    )


def test_5_hosts_built_from_a_region_or_instance_are_checked_where_they_are_built(listener):
    from eci_redeploy.clients.acr_token import acr_token_provider
    from eci_redeploy.clients.eci import Credentials, parse_endpoint
    from eci_redeploy.clients.registry_api import RegistryClient, RegistryError
    from eci_redeploy.core.hosts import HostError
    from eci_redeploy.planning.registry_kinds import enterprise_host

    bad = hostile_region(listener.port)
    token = acr_token_provider(Credentials("LTAI-test", "secret-test"))
    with pytest.raises(HostError, match="not a region id"):
        token("cri-abc123", bad)
    with pytest.raises(HostError, match="not an ACR EE instance id"):
        token(f"cri-abc@127.0.0.1:{listener.port}/#", "cn-hangzhou")
    with pytest.raises(HostError, match="not a region id"):
        parse_endpoint(None, bad)
    with pytest.raises(HostError, match="not a region id"):
        enterprise_host("acme", bad)
    with pytest.raises(HostError, match="instance name"):
        enterprise_host(f"x@127.0.0.1:{listener.port}/#", "cn-hangzhou")
    with pytest.raises(RegistryError, match="registry host refused"):
        RegistryClient(f"evil.example@127.0.0.1:{listener.port}").resolve("team/api", "1.0")
    assert listener.accepted == 0
    assert parse_endpoint(None, "cn-shanghai-finance-1") == ("eci.cn-shanghai-finance-1.aliyuncs.com", "https")


ACR_EE_PUSH = json.loads((EVENTS / "acr-ee-push.json").read_text())
SCAN = json.loads((EVENTS / "acr-ee-scan-completed.json").read_text())


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("RegionId", "x@127.0.0.1:{port}/#", "data.RegionId"),
        ("InstanceId", "cri-abc123@127.0.0.1:{port}", "data.InstanceId"),
        ("InstanceName", "acme-registry.127.0.0.1:{port}/#", "data.InstanceName"),
    ],
)
def test_5_an_eventbridge_push_with_a_hostile_place_is_refused(fc, key, value, field, listener):
    from eci_redeploy.functions import push_worker

    body = json.loads(json.dumps(ACR_EE_PUSH))
    body["data"][key] = value.format(port=listener.port)
    result = push_worker.handle_push(json.dumps(body).encode(), fc_context("push"), default_rules=EVENTS)
    assert result["ok"] is False and field in result["error"], result
    assert listener.accepted == 0 and fc.backend.calls == []


@pytest.mark.parametrize(("key", "value"), [("RegionId", "x@127.0.0.1:1/#"), ("InstanceId", "cri-a@127.0.0.1:1")])
def test_5_a_scan_event_with_a_hostile_region_or_instance_names_no_image(fc, key, value):
    # A gate event without a result asks the ACR API in its region for that instance
    # (AcrEvidence.scan): one whose region or instance fails the grammar is acknowledged and ignored.
    from eci_redeploy.functions import push_worker
    from eci_redeploy.gates.acr import parse_gate_event

    body = json.loads(json.dumps(SCAN))
    body["data"][key] = value
    body["data"].pop("ScanStatus")
    assert parse_gate_event(body) is None
    result = push_worker.handle_push(json.dumps(body).encode(), fc_context("push"), default_rules=EVENTS)
    assert isinstance(result, dict) and fc.mutations() == []


@pytest.mark.parametrize(
    "host",
    [
        "evil.example@127.0.0.1:{port}",
        "127.0.0.1:{port}/#",
        "127.0.0.1:99999",
        "registry.example.com\n",
        "a" * 64 + ".example.com",
        "-bad.example.com",
    ],
)
def test_5_a_distribution_request_host_outside_rfc_1123_is_rejected(fc, host, listener):
    from eci_redeploy.functions import webhook as handler

    body = json.loads((EVENTS / "distribution-push.json").read_text())
    for item in body["events"]:
        item["request"]["host"] = host.format(port=listener.port)
    response = handler.handle(
        http_event(json.dumps(body), headers={"Authorization": f"Bearer {TOKEN}"}), fc_context(), default_rules=EVENTS
    )
    assert response["statusCode"] == 400, response
    assert "request.host" in response["body"] and "host[:port]" in response["body"]
    assert listener.accepted == 0 and fc.backend.calls == [] and fc.dispatcher.seen == set()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda r: r["target"].update(region="cn-hangzhou\n"), "target.region"),
        (lambda r: r["pull"]["acr"].update(region="x@127.0.0.1:1/#"), "pull.acr.region"),
        (lambda r: r["pull"]["acr"].update(instance_name="acme.127.0.0.1:1/#"), "pull.acr.instance_name"),
        (lambda r: r["pull"]["acr"].update(domains=["evil@127.0.0.1:1"]), "pull.acr.domains"),
        (lambda r: r["source"].update(registry="cri-x@127.0.0.1:1"), "source.registry"),
        (lambda r: r["pull"].update(plain_http=["h:99999"]), "pull.plain_http"),
        (
            lambda r: r["pull"].update(credentials=[{"server": "r.io\n", "username": "u", "password_env": "P"}]),
            "pull.credentials",
        ),
    ],
)
def test_5_the_rules_file_holds_its_hosts_to_the_same_grammar(edit, field):
    # Settings are trusted, but they also become host names: one grammar for both, named at validate.
    from eci_redeploy.core.errors import RulesError
    from eci_redeploy.rules.model import parse_rules

    body = yaml.safe_load(gated_rules_text())
    edit(body)
    with pytest.raises(RulesError, match=field.replace(".", r"\.")):
        parse_rules({"version": 1, "rules": [body]}, source="rules.yaml")
