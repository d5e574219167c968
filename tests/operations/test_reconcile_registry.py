"""The reconcile against a real registry (Debian's docker-registry): no auth, htpasswd basic auth, a
bearer-token flow, 429 with Retry-After; multi-arch indexes, prereleases, moving tags."""

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from eci_redeploy.clients.registry_api import RegistryAuthError, RegistryClient
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.operations.reconcile import client_factory, reconcile
from reconcile_stage import gateway_on, seed, web_rule
from registry_tools import Registry, push, write_layout


def rules_for(make_rules, host, tags, **pull):
    return make_rules(web_rule(host, tags, **pull))


def test_highest_allowed_tag_per_platform_digest_then_nothing(open_registry, make_rules):
    registry, digests, _ = open_registry
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.0.0")
    rules = rules_for(make_rules, registry.host, {"semver": "^1.0.0"})
    result = reconcile(rules, gateway_on(backend), client_factory({}), {})
    assert result.wanted["web"]["tag"] == "1.2.0"  # not 1.3.0-rc.1 (prerelease), not 2.0.0 (outside)
    assert result.wanted["web"]["digest"] == digests["1.2.0/amd64"] != digests["1.2.0"]
    assert (
        backend.group("eci-web").spec["Container"][0]["Image"] == f"{registry.host}/team/web@{digests['1.2.0/amd64']}"
    )
    assert len(backend.mutating_calls()) == 1
    # list (1 page) + HEAD (index) + GET (index body): within one HEAD per tag in question plus pages
    assert result.registry_requests[registry.host] <= 3
    again = reconcile(rules, gateway_on(backend), client_factory({}), {})
    assert again.report.outcomes == [] and len(backend.mutating_calls()) == 1  # converged: no mutating call
    assert again.report.plan.skipped[0].reason.startswith("already running")


def test_prereleases_when_asked_and_other_platforms(open_registry, make_rules):
    registry, digests, _ = open_registry
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.0.0")
    rules = rules_for(make_rules, registry.host, {"semver": "^1.0.0", "prerelease": True})
    result = reconcile(rules, gateway_on(backend), client_factory({}), {})
    assert result.wanted["web"]["tag"] == "1.3.0-rc.1"
    arm = reconcile(
        rules_for(make_rules, registry.host, {"semver": "~1.2.0"}),
        gateway_on(FakeEci()),
        client_factory({}),
        {},
        platform="linux/arm64",
    )
    assert arm.wanted["web"]["digest"] == digests["1.2.0/arm64"]


def test_moving_tag_is_picked_up_when_re_pushed(open_registry, make_rules, tmp_path):
    registry, _, _ = open_registry
    first = write_layout(tmp_path / "a", "latest", "latest one")
    push(tmp_path / "a", "latest", f"{registry.host}/team/web:latest")
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web@{first}")
    rules = rules_for(make_rules, registry.host, {"exact": "latest"})
    assert reconcile(rules, gateway_on(backend), client_factory({}), {}).report.outcomes == []
    second = write_layout(tmp_path / "b", "latest", "latest two")
    push(tmp_path / "b", "latest", f"{registry.host}/team/web:latest")
    result = reconcile(rules, gateway_on(backend), client_factory({}), {})
    assert [o.status for o in result.report.outcomes] == ["applied"]
    assert backend.group("eci-web").spec["Container"][0]["Image"] == f"{registry.host}/team/web@{second}"


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("basic")
    htpasswd = root / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "ci", "right-password"], check=True, capture_output=True)
    with Registry(root, htpasswd=htpasswd) as registry:
        digest = write_layout(root / "img", "1.5.0", "web 1.5.0")
        push(root / "img", "1.5.0", f"{registry.host}/team/web:1.5.0", creds="ci:right-password")
        yield registry, digest


def test_basic_auth(basic_registry, make_rules):
    registry, digest = basic_registry
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.0.0")
    creds = [{"server": registry.host, "username": "ci", "password_env": "REG_PW"}]
    rules = rules_for(make_rules, registry.host, {"semver": "^1.0.0"}, credentials=creds)
    result = reconcile(
        rules, gateway_on(backend), client_factory({"REG_PW": "right-password"}), {"REG_PW": "right-password"}
    )
    assert result.wanted["web"]["digest"] == digest and len(backend.mutating_calls()) == 1
    update = backend.mutating_calls()[0].params
    assert update["ImageRegistryCredential.1.Password"] == "right-password"  # ECI gets it; nobody else


def test_wrong_credentials_are_a_clear_error_and_no_deploy(basic_registry, make_rules, capsys):
    registry, _ = basic_registry
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.0.0")
    creds = [{"server": registry.host, "username": "ci", "password_env": "REG_PW"}]
    rules = rules_for(make_rules, registry.host, {"semver": "^1.0.0"}, credentials=creds)
    result = reconcile(
        rules, gateway_on(backend), client_factory({"REG_PW": "wrong-pw-123"}), {"REG_PW": "wrong-pw-123"}
    )
    assert backend.mutating_calls() == []
    reason = result.report.plan.skipped[0].reason
    assert "access to team/web denied" in reason and "pull.credentials" in reason
    assert "wrong-pw-123" not in json.dumps(result.to_json()) + capsys.readouterr().err
    with pytest.raises(RegistryAuthError):
        RegistryClient(registry.host, scheme="http").list_tags("team/web")  # anonymous


class _TokenAndRateLimitFront(BaseHTTPRequestHandler):
    """In front of the real registry: a bearer challenge + token endpoint, and one 429 with Retry-After."""

    upstream = ""
    issued = "tkn-" + "x" * 16
    seen: list = []
    throttle_next = 0

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        cls = type(self)
        cls.seen.append((self.command, self.path, self.headers.get("Authorization")))
        if self.path.startswith("/token"):
            if self.headers.get("Authorization") != "Basic Y2k6cmlnaHQ=":  # ci:right
                return self._send(401)
            return self._send(200, json.dumps({"token": cls.issued}).encode(), {"Content-Type": "application/json"})
        if self.headers.get("Authorization") != f"Bearer {cls.issued}":
            host = self.headers["Host"]
            return self._send(401, b"{}", {"WWW-Authenticate": f'Bearer realm="http://{host}/token",service="test"'})
        if cls.throttle_next > 0:
            cls.throttle_next -= 1
            return self._send(429, b"{}", {"Retry-After": "1"})
        if "/tags/list" in self.path and "n=" in self.path:
            return self._paginate()
        upstream = requests.request(
            self.command, cls.upstream + self.path, headers={"Accept": self.headers.get("Accept", "*/*")}, timeout=10
        )
        keep = {k: v for k, v in upstream.headers.items() if k in ("Content-Type", "Docker-Content-Digest", "Link")}
        self._send(upstream.status_code, upstream.content, keep)

    def _paginate(self):
        # Distribution 2.8 ignores `n`; newer registries page with `n`/`last` and a Link header.
        from urllib.parse import parse_qs, urlparse

        url = urlparse(self.path)
        query = parse_qs(url.query)
        n, last = int(query["n"][0]), query.get("last", [""])[0]
        tags = sorted(requests.get(type(self).upstream + url.path, timeout=10).json()["tags"])
        rest = [t for t in tags if t > last]
        page, more = rest[:n], len(rest) > n
        headers = {"Content-Type": "application/json"}
        if more:
            headers["Link"] = f'<{url.path}?n={n}&last={page[-1]}>; rel="next"'
        self._send(200, json.dumps({"name": "team/web", "tags": page}).encode(), headers)

    do_GET = do_HEAD = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def token_front(open_registry):
    registry, digests, _ = open_registry
    _TokenAndRateLimitFront.upstream = f"http://{registry.host}"
    _TokenAndRateLimitFront.seen = []
    _TokenAndRateLimitFront.throttle_next = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenAndRateLimitFront)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}", digests
    server.shutdown()


def test_bearer_token_flow(token_front):
    host, digests = token_front
    client = RegistryClient(host, scheme="http", username="ci", password="right")
    assert client.resolve("team/web", "1.1.0").digest == digests["1.1.0"]
    token_calls = [s for s in _TokenAndRateLimitFront.seen if s[1].startswith("/token")]
    assert len(token_calls) == 1 and "scope=repository%3Ateam%2Fweb%3Apull" in token_calls[0][1]
    with pytest.raises(RegistryAuthError, match="token endpoint refused"):
        RegistryClient(host, scheme="http", username="ci", password="wrong").resolve("team/web", "1.1.0")


def test_429_with_retry_after_is_waited_out(token_front):
    host, digests = token_front
    _TokenAndRateLimitFront.throttle_next = 2
    slept = []
    client = RegistryClient(host, scheme="http", username="ci", password="right", sleep=slept.append)
    assert client.resolve("team/web", "1.0.0").digest == digests["1.0.0"]
    assert slept == [1.0, 1.0]
    _TokenAndRateLimitFront.throttle_next = 100
    client = RegistryClient(
        host, scheme="http", username="ci", password="right", sleep=slept.append, max_wait_seconds=3
    )
    with pytest.raises(Exception, match="rate limited"):
        client.resolve("team/web", "1.0.0")


def test_tag_pagination(token_front):
    host, _digests = token_front
    client = RegistryClient(host, scheme="http", username="ci", password="right")
    tags = client.list_tags("team/web", page_size=2)
    every = requests.get(f"{_TokenAndRateLimitFront.upstream}/v2/team/web/tags/list", timeout=10).json()["tags"]
    assert sorted(tags) == sorted(every) and len(every) >= 6
    pages = [s for s in _TokenAndRateLimitFront.seen if "/tags/list" in s[1] and s[2]]
    assert len(pages) == -(-len(every) // 2)


def test_request_budget_per_tick(token_front):
    host, _ = token_front
    client = RegistryClient(host, scheme="http", username="ci", password="right", max_requests=2)
    with pytest.raises(Exception, match="budget"):
        client.list_tags("team/web", page_size=1)


def test_timer_function_runs_a_reconcile(open_registry, make_rules, tmp_path, monkeypatch, mocker):
    import importlib.util

    from eci_redeploy.functions import runtime as common
    from fcfixtures import fc_context

    from helpers import ROOT

    registry, digests, _ = open_registry
    (tmp_path / "rules.yaml").write_text(
        json.dumps({"version": 1, "rules": [web_rule(registry.host, {"semver": "^1.0.0"})]})
    )
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(tmp_path / "rules.yaml"))
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.0.0")
    mocker.patch.object(common, "gateway_factory", return_value=gateway_on(backend))
    spec = importlib.util.spec_from_file_location("fc_timer", ROOT / "functions" / "timer" / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = json.dumps({"triggerTime": "2026-11-27T10:25:00Z", "triggerName": "reconcile", "payload": "reconcile"})
    result = module.handler(event.encode(), fc_context("timer"))
    assert result["ok"] is True and result["wanted"]["web"]["digest"] == digests["1.2.0/amd64"]
    assert len(backend.mutating_calls()) == 1
    started = time.monotonic()
    assert module.handler(event.encode(), fc_context("timer"))["actions"] == []
    assert time.monotonic() - started < 30


def test_reconcile_command_on_the_embedded_fake(open_registry, tmp_path):
    import sys

    from helpers import ROOT, clean_env

    registry, digests, _ = open_registry
    (tmp_path / "rules.yaml").write_text(
        json.dumps({"version": 1, "rules": [web_rule(registry.host, {"semver": "^1.0.0"}, selector={"name": "web"})]})
    )
    (tmp_path / "state.json").write_text(
        json.dumps(
            {
                "ContainerGroups": [
                    {
                        "ContainerGroupId": "eci-1",
                        "ContainerGroupName": "web",
                        "RegionId": "cn-hangzhou",
                        "Status": "Running",
                        "Containers": [{"Name": "app", "Image": f"{registry.host}/team/web:1.0.0"}],
                    }
                ]
            }
        )
    )
    env = clean_env()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "eci_redeploy.cli",
            "reconcile",
            "--rules",
            str(tmp_path / "rules.yaml"),
            "--state",
            str(tmp_path / "state.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    (action,) = report["actions"]
    assert action["status"] == "applied"
    assert action["result"]["images"]["app"] == f"{registry.host}/team/web@{digests['1.2.0/amd64']}"


def test_acr_enterprise_reconcile_uses_a_temporary_token(tmp_path, make_rules):
    """No password stored: GetAuthorizationToken (signed with the role) yields the registry login."""
    from eci_redeploy.clients.acr_token import AcrTokenError, acr_token_provider
    from eci_redeploy.clients.eci import Credentials
    from eci_redeploy.fake.server import FakeEciServer

    htpasswd = tmp_path / "htpasswd"
    subprocess.run(
        ["htpasswd", "-Bbc", str(htpasswd), "cr_temp_user", "temp-token-123"], check=True, capture_output=True
    )
    with Registry(tmp_path / "reg", htpasswd=htpasswd) as registry, FakeEciServer() as api:
        digest = write_layout(tmp_path / "img", "3.1.0", "ee")
        push(tmp_path / "img", "3.1.0", f"{registry.host}/team/web:3.1.0", creds="cr_temp_user:temp-token-123")
        api.backend.acr_tokens["cri-ee1"] = ("cr_temp_user", "temp-token-123")
        key, secret = api.credentials
        token = acr_token_provider(Credentials(key, secret), api.url)
        backend = FakeEci()
        seed(backend, f"{registry.host}/team/web:3.0.0")
        rules = rules_for(
            make_rules, registry.host, {"semver": "^3.0.0"}, acr={"instance_id": "cri-ee1", "domains": [registry.host]}
        )
        result = reconcile(rules, gateway_on(backend), client_factory({}, acr_token=token), {})
        assert result.wanted["web"]["digest"] == digest
        (call,) = backend.mutating_calls()
        assert call.params["AcrRegistryInfo.1.InstanceId"] == "cri-ee1"
        assert "ImageRegistryCredential.1.Password" not in call.params  # ECI pulls secret-free
        got = [c for c in api.backend.calls if c.action == "GetAuthorizationToken"]
        assert len(got) == 1 and got[0].params["InstanceId"] == "cri-ee1"
        with pytest.raises(AcrTokenError, match="cri-nope"):
            token("cri-nope", "cn-hangzhou")


def test_schedule_spreads_rules_deterministically(make_rules):
    from eci_redeploy.operations.reconcile import schedule

    rules = make_rules(*[{**rules_doc_rule(f"r{i}")} for i in range(6)])
    first = [(round(o, 6), r.name) for o, r in schedule(rules, 60)]
    again = [(round(o, 6), r.name) for o, r in schedule(rules, 60)]
    assert first == again and all(0 <= o <= 60 for o, _ in first)
    assert len({o for o, _ in first}) == 6  # not all on the same second
    assert [o for o, _ in schedule(rules, 0)] == [0.0] * 6


def rules_doc_rule(name):
    return {
        "name": name,
        "source": {"repository": f"team/{name}", "tags": {"semver": "^1.0.0"}},
        "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"name": name}},
    }


def test_timer_hands_its_decisions_to_the_worker_when_one_is_configured(
    open_registry, make_rules, tmp_path, monkeypatch, mocker
):
    """In FC the timer changes nothing itself: it asks the registry, then hands the rules with something
    to change to the worker (the single writer), which plans again against a fresh describe."""
    import importlib.util

    from eci_redeploy.execution.dispatch import InlineDispatcher
    from eci_redeploy.functions import runtime as common
    from eci_redeploy.functions.push_worker import handle_work
    from fcfixtures import fc_context

    from helpers import ROOT

    registry, digests, _ = open_registry
    (tmp_path / "rules.yaml").write_text(
        json.dumps({"version": 1, "rules": [web_rule(registry.host, {"semver": "^1.0.0"})]})
    )
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(tmp_path / "rules.yaml"))
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.0.0")
    mocker.patch.object(common, "gateway_factory", return_value=gateway_on(backend))
    orders = []

    def worker(order):
        orders.append(order)
        return handle_work(order.model_dump_json().encode(), fc_context("worker"), default_rules=tmp_path / "x")

    mocker.patch.object(common, "dispatcher_factory", return_value=InlineDispatcher(worker, background=False))
    spec = importlib.util.spec_from_file_location("fc_timer", ROOT / "functions" / "timer" / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = json.dumps({"triggerTime": "2026-11-27T10:25:00Z", "triggerName": "reconcile", "payload": "reconcile"})
    result = module.handler(event.encode(), fc_context("timer"))
    assert result["ok"] is True and result["handed_off"]["accepted"] is True
    assert result["dry_run"] is True and len(result["actions"]) == 1  # the timer itself applied nothing
    ((only,),) = [[e.only_rule for e in o.events] for o in orders]
    assert only == "web" and orders[0].events[0].digest == digests["1.2.0/amd64"]
    assert len(backend.mutating_calls()) == 1  # done by the worker
    again = module.handler(event.encode(), fc_context("timer"))
    assert "handed_off" not in again and len(orders) == 1  # converged: nothing to hand over


# --- issue 13: the reconcile honours the no-downgrade guard and updates --------------------------


def test_reconcile_never_moves_a_group_down(open_registry, make_rules):
    registry, digests, _ = open_registry
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:2.0.0")  # runs 2.0.0; the rule now allows only 1.x
    rules = rules_for(make_rules, registry.host, {"semver": "^1.0.0"})
    result = reconcile(rules, gateway_on(backend), client_factory({}), {})
    assert result.wanted["web"]["tag"] == "1.2.0"
    assert [s.reason for s in result.report.plan.skipped] == ["would downgrade 2.0.0 -> 1.2.0"]
    assert backend.mutating_calls() == []
    rollback = make_rules({**web_rule(registry.host, {"semver": "^1.0.0"}), "allow_downgrade": True})
    reconcile(rollback, gateway_on(backend), client_factory({}), {})
    assert backend.group("eci-web").spec["Container"][0]["Image"].endswith(digests["1.2.0/amd64"])


def test_reconcile_with_updates_converges_each_group_on_its_own_line(open_registry, make_rules):
    registry, digests, _ = open_registry
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.0.0", gid="eci-one")
    seed(backend, f"{registry.host}/team/web:2.0.0", gid="eci-two")
    rules = rules_for(make_rules, registry.host, {"semver": "*", "updates": "minor"})
    reconcile(rules, gateway_on(backend), client_factory({}), {})
    image = {gid: backend.group(gid).spec["Container"][0]["Image"] for gid in ("eci-one", "eci-two")}
    assert image["eci-one"] == f"{registry.host}/team/web@{digests['1.2.0/amd64']}"  # highest 1.x, not 2.0.0
    assert image["eci-two"] == f"{registry.host}/team/web@{digests['2.0.0']}"
    again = reconcile(rules, gateway_on(backend), client_factory({}), {})
    assert again.report.outcomes == []  # converged; the digest deploys are known by their tracking tags
    assert sorted(s.reason.split(" ")[0] for s in again.report.plan.skipped) == ["already", "already"]


def test_reconcile_judges_the_targeted_container_alone(open_registry, make_rules):
    """Issue 28: with `containers: [sidecar]`, an untargeted `app` container of the same repository on
    2.0.0 says nothing about the sidecar's line (before, the group's line was its highest container's:
    the sidecar on 1.0.0 was moved to 2.0.0)."""
    registry, digests, _ = open_registry
    backend = FakeEci()
    backend.seed(
        [
            {
                "ContainerGroupId": "eci-web",
                "ContainerGroupName": "eci-web",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Tags": [{"Key": "app", "Value": "web"}],
                "Containers": [
                    {"Name": "app", "Image": f"{registry.host}/team/web:2.0.0"},
                    {"Name": "sidecar", "Image": f"{registry.host}/team/web:1.0.0"},
                ],
            }
        ]
    )
    doc = web_rule(registry.host, {"semver": "*", "updates": "minor"})
    doc["target"]["containers"] = ["sidecar"]
    result = reconcile(make_rules(doc), gateway_on(backend), client_factory({}), {})
    assert result.wanted["web"]["tag"] == "1.2.0"
    images = {c["Name"]: c["Image"] for c in backend.group("eci-web").spec["Container"]}
    assert images == {
        "app": f"{registry.host}/team/web:2.0.0",
        "sidecar": f"{registry.host}/team/web@{digests['1.2.0/amd64']}",
    }


def test_reconcile_after_a_restart_push_of_a_multi_arch_index_restarts_nothing(open_registry, make_rules):
    """A restart push names the index's digest (ACR's PushCompleted for a multi-arch tag) and the worker
    records it; the timer resolves the same tag to the platform's manifest. Same content: the groups were
    restarted onto it already, so no tick restarts them again."""
    registry, digests, _ = open_registry
    backend = FakeEci()
    seed(backend, f"{registry.host}/team/web:1.2.0")
    backend.group("eci-web").spec["Tag"] += [
        {"Key": "eci-redeploy.digest", "Value": digests["1.2.0"]},
        {"Key": "eci-redeploy.event-time", "Value": "1795745790123"},
        {"Key": "eci-redeploy.rule", "Value": "web"},
        {"Key": "eci-redeploy.tag", "Value": "1.2.0"},
    ]
    rule = web_rule(registry.host, {"exact": "1.2.0"})
    rule["target"]["action"] = "restart"
    result = reconcile(make_rules(rule), gateway_on(backend), client_factory({}), {})
    assert result.wanted["web"]["digest"] == digests["1.2.0/amd64"]
    assert backend.mutating_calls("RestartContainerGroup") == [], result.report.plan.skipped
    assert result.report.plan.skipped[0].reason.startswith("already restarted")


def test_timer_with_a_worker_still_tells_when_a_registry_cannot_be_reached(tmp_path, monkeypatch, mocker):
    """Issue 24: in FC the timer's reconcile is a dry run (the worker writes); a registry it cannot reach
    must still make it answer ok: false and tell the rule's channels, naming the host."""
    import importlib.util

    from eci_redeploy.functions import runtime as common
    from fcfixtures import fc_context
    from registry_tools import free_port

    from helpers import ROOT, Hook

    dead = f"127.0.0.1:{free_port()}"
    rule = {**web_rule(dead, {"semver": "^1.0.0"}), "notify": [{"webhook": {"url_env": "HOOK"}}]}
    (tmp_path / "rules.yaml").write_text(json.dumps({"version": 1, "rules": [rule]}))
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(tmp_path / "rules.yaml"))
    monkeypatch.setenv("ECI_REDEPLOY_WORKER_FUNCTION", "eci-redeploy-worker")
    hook = Hook()
    monkeypatch.setenv("HOOK", hook.url)
    backend = FakeEci()
    seed(backend, f"{dead}/team/web:1.0.0")
    mocker.patch.object(common, "gateway_factory", return_value=gateway_on(backend))
    spec = importlib.util.spec_from_file_location("fc_timer", ROOT / "functions" / "timer" / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = json.dumps({"triggerTime": "2026-11-27T10:25:00Z", "triggerName": "reconcile", "payload": "reconcile"})
    try:
        result = module.handler(event.encode(), fc_context("timer"))
    finally:
        hook.close()
    assert result["ok"] is False and [(p["rule"], p["host"]) for p in result["problems"]] == [("web", dead)]
    (message,) = hook.received
    assert message["outcome"] == "error" and dead in message["detail"]
