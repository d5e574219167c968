"""Token-authenticated pushes (every format) are confirmed with a real registry before anything is
deployed (issue 30 item 3): a claimed digest the tag does not point at is dropped, never replaced."""

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


def test_disagreeing_digest_is_dropped(registry, make_rules):
    reg, digest = registry
    result = confirm([hint(reg.host, digest="sha256:" + "9" * 64)], rules_file(make_rules, reg.host), [], clients)
    assert result.events == [] and result.retry == []
    assert f"the registry says 2.3.1 is {digest}, not sha256:{'9' * 64}" in result.dropped[0].reason


def test_forged_tag_is_dropped(registry, make_rules):
    reg, _ = registry
    result = confirm([hint(reg.host, tag="2.9.9")], rules_file(make_rules, reg.host), [], clients)
    assert result.events == [] and "does not exist in the registry" in result.dropped[0].reason


def test_a_notification_ahead_of_its_tag_is_asked_again_and_deploys(registry, make_rules, tmp_path):
    """Distribution sends a manifest's event from its Put and links the tag after it: the notification
    can reach the webhook before the tag exists (test_registry_e2e lost that race on a loaded machine).
    Here the tag is pushed to the real registry while confirm waits after its first HEAD."""
    reg, _ = registry
    digest = write_layout(tmp_path / "late", "2.4.0", "api 2.4.0")
    waits = []

    def sleep(seconds):
        if not waits:
            push(tmp_path / "late", "2.4.0", f"{reg.host}/team/api:2.4.0")
        waits.append(seconds)

    result = confirm([hint(reg.host, "2.4.0", digest)], rules_file(make_rules, reg.host), [], clients, sleep=sleep)
    assert [e.digest for e in result.events] == [digest] and result.dropped == []
    assert waits == [0.25]  # asked twice: before the tag existed, and once it did


def test_a_tag_that_never_appears_is_asked_four_times_then_dropped(registry, make_rules):
    reg, _ = registry
    waits = []
    result = confirm([hint(reg.host, tag="2.9.8")], rules_file(make_rules, reg.host), [], clients, sleep=waits.append)
    assert result.events == [] and result.retry == [] and waits == [0.25, 0.5, 1.0]
    assert "does not exist in the registry" in result.dropped[0].reason


def test_unreachable_registry_drops_the_push_and_asks_for_a_redelivery(make_rules):
    from registry_tools import free_port

    host = f"127.0.0.1:{free_port()}"
    result = confirm([hint(host)], rules_file(make_rules, host), [], clients)
    assert result.events == [] and "could not confirm it" in result.dropped[0].reason
    assert result.retry == [result.dropped[0].reason]


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
    assert response["statusCode"] == 200
    assert "the registry says 2.3.1 is" in response["body"]  # the sample's digest is not what the registry holds
    assert fc.mutations() == []
    told = json.loads(real)
    told["push_data"]["digest"] = digest
    response = webhook.handle(http_event(json.dumps(told), query={"token": TOKEN}), fc_context(), default_rules=EVENTS)
    assert response["statusCode"] == 202
    (call,) = fc.mutations()
    assert call.params["Container.1.Image"].endswith(f"team/api@{digest}")


# ---- issue 30 item 3: every format is confirmed; a claim the registry denies is dropped ---------------
# A token-holder names an older real digest of a tag (the attack as reported). The registry is Debian's
# docker-registry; the tag is pushed twice, so OLD is a digest the repository really held.


@pytest.fixture(scope="module")
def moved_tag(tmp_path_factory):
    root = tmp_path_factory.mktemp("moved")
    with Registry(root) as reg:
        old = write_layout(root / "old", "1.4.0", "web 1.4.0 (first build)")
        push(root / "old", "1.4.0", f"{reg.host}/team/web:1.4.0")
        new = write_layout(root / "new", "1.4.0", "web 1.4.0 (rebuilt)")
        push(root / "new", "1.4.0", f"{reg.host}/team/web:1.4.0")
        yield reg, old, new


def web_rules(tmp_path, host, *, registry=True):
    source = {"repository": "team/web", "tags": {"exact": "1.4.0"}}
    if registry:
        source["registry"] = host
    rule = {
        "name": "web",
        "source": source,
        "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"name": "web"}},
        "pull": {"plain_http": [host]},
    }
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps({"version": 1, "rules": [rule]}))
    return path


def distribution(host, digest, tag="1.4.0"):
    body = json.loads((EVENTS / "distribution-push.json").read_text())
    manifest = body["events"][1]
    manifest["target"].update(digest=digest, tag=tag)
    manifest["request"]["host"] = host
    return {"events": [manifest]}


def harbor(host, digest, tag="1.4.0"):
    body = json.loads((EVENTS / "harbor-push.json").read_text())
    body["event_data"]["resources"][0].update(digest=digest, tag=tag, resource_url=f"{host}/team/web:{tag}")
    return body


def deliver(body):
    from eci_redeploy.functions import webhook

    response = webhook.handle(
        http_event(json.dumps(body), headers={"Authorization": f"Bearer {TOKEN}"}), fc_context(), default_rules=EVENTS
    )
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def web_stack(fc, moved_tag, tmp_path, monkeypatch):
    reg, old, new = moved_tag
    monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "1")  # the default: the fixture turns it off
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(web_rules(tmp_path, reg.host)))
    fc.backend.seed(
        [
            {
                "ContainerGroupId": "eci-web",
                "ContainerGroupName": "web",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Containers": [{"Name": "web", "Image": f"{reg.host}/team/web:1.3.0"}],
            }
        ]
    )
    return fc, reg, old, new


@pytest.mark.parametrize("fmt", [distribution, harbor], ids=["distribution", "harbor"])
def test_30_3_a_token_holder_claiming_an_older_digest_is_dropped(web_stack, fmt, capsys):
    fc, reg, old, new = web_stack
    status, body = deliver(fmt(reg.host, old))
    assert status == 200 and body["accepted"] is False, body
    (skip,) = body["skipped"]
    assert f"the registry says 1.4.0 is {new}, not {old}; the push is dropped" in skip["reason"]
    assert fc.backend.calls == [] or all(c.action == "DescribeContainerGroups" for c in fc.backend.calls)
    assert fc.mutations() == [] and fc.dispatcher.seen == set()
    audit = [json.loads(line) for line in capsys.readouterr().err.splitlines() if '"kind": "audit"' in line]
    assert [(a["outcome"], a["digest_after"]) for a in audit] == [("refused", old)]
    # The registry's own digest is deployed.
    status, body = deliver(fmt(reg.host, new))
    assert status == 202, body
    (call,) = fc.mutations()
    assert call.params["Container.1.Image"] == f"{reg.host}/team/web@{new}"


def test_30_3_a_registry_that_cannot_be_reached_deploys_nothing_and_asks_for_a_redelivery(fc, tmp_path, monkeypatch):
    from registry_tools import free_port

    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "1")
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(web_rules(tmp_path, host)))
    fc.backend.seed(
        [
            {
                "ContainerGroupId": "eci-web",
                "ContainerGroupName": "web",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Containers": [{"Name": "web", "Image": f"{host}/team/web:1.3.0"}],
            }
        ]
    )
    status, body = deliver(distribution(host, "sha256:" + "4" * 64))
    assert status == 503, body
    assert "could not confirm it" in body["skipped"][0]["reason"] and "not deployed" in body["skipped"][0]["reason"]
    assert fc.mutations() == [] and fc.dispatcher.seen == set()


def test_30_3_a_push_naming_a_host_no_rule_or_group_names_is_not_asked_there(web_stack, tmp_path, monkeypatch):
    # The rule names no registry, so a push from any host is one it watches; the host to ask is the one
    # the group runs from, never the payload's: a listener at the payload's host gets no connection.
    from loopback import Listener

    fc, reg, old, _ = web_stack
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(web_rules(tmp_path, reg.host, registry=False)))
    with Listener() as listener:
        status, body = deliver(distribution(f"127.0.0.1:{listener.port}", old))
        assert listener.accepted == 0
    assert status == 200, body
    assert "a registry no rule or group names; not confirmed, not deployed" in body["skipped"][0]["reason"]
    assert fc.mutations() == [] and fc.dispatcher.seen == set()


def test_30_3_a_registry_refusing_the_rules_credentials_deploys_nothing_and_is_not_retried(fc, tmp_path, monkeypatch):
    import subprocess

    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "ci", "right-password"], check=True, capture_output=True)
    with Registry(tmp_path / "reg", htpasswd=htpasswd) as reg:
        digest = write_layout(tmp_path / "img", "1.4.0", "web 1.4.0")
        push(tmp_path / "img", "1.4.0", f"{reg.host}/team/web:1.4.0", creds="ci:right-password")
        path = web_rules(tmp_path, reg.host)
        rules = json.loads(path.read_text())
        rules["rules"][0]["pull"]["credentials"] = [{"server": reg.host, "username": "ci", "password_env": "REG_PW"}]
        path.write_text(json.dumps(rules))
        monkeypatch.setenv("REG_PW", "wrong-password")
        monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "1")
        monkeypatch.setenv("ECI_REDEPLOY_RULES", str(path))
        fc.backend.seed(
            [
                {
                    "ContainerGroupId": "eci-web",
                    "ContainerGroupName": "web",
                    "RegionId": "cn-hangzhou",
                    "Status": "Running",
                    "Containers": [{"Name": "web", "Image": f"{reg.host}/team/web:1.3.0"}],
                }
            ]
        )
        status, body = deliver(distribution(reg.host, digest))
    assert status == 200, body  # a redelivery cannot fix the credentials
    assert "refused the credentials" in body["skipped"][0]["reason"]
    assert "wrong-password" not in json.dumps(body)
    assert fc.mutations() == [] and fc.dispatcher.seen == set()
