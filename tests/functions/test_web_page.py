"""GET / (functions/page.py) through `serve`'s WSGI app, in-process (werkzeug's test client): the
tokens, the security headers, escaping, and what the page lists. The real browser, the click and the
screenshot: tests/functions/test_web_page_browser.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from werkzeug.test import Client

from eci_redeploy.clients.registry_api import Resolved
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.fake.server import FakeEciServer
from eci_redeploy.functions import serve, webhook

from helpers import ROOT, clean_env, described

HOST = "reg.example.com"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
TOKEN, APPROVER = "v1ewer-token", "al1ce-token"


class StubRegistry:
    host, requests_made = HOST, 0

    def list_tags(self, repository):
        return ["1.0.0", "1.1.0"]

    def resolve(self, repository, tag, platform="linux/amd64"):
        return Resolved(tag, {"1.0.0": D1, "1.1.0": D2}[tag])


@pytest.fixture
def site(tmp_path, monkeypatch, mocker):
    for key in [k for k in __import__("os").environ if k.startswith(("ECI_REDEPLOY_", "ALIBABA_CLOUD_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_TOKEN", TOKEN)
    monkeypatch.setenv("APPROVERS", f"alice:{APPROVER}")
    monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "0")
    rules = tmp_path / "rules.yaml"
    rule = {
        "name": "web",
        "source": {"repository": "team/web", "registry": HOST, "tags": {"semver": "^1.0.0"}},
        "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"tags": {"app": "web"}}},
        "pull": {"public": [HOST]},
        "gates": {"approval": {"approvers_env": "APPROVERS", "expires": "24h"}},
    }
    rules.write_text(json.dumps({"version": 1, "rules": [rule]}))
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(rules))
    mocker.patch.object(webhook, "client_factory", return_value=lambda rule, host: StubRegistry())
    backend = FakeEci()
    # A hostile name from the API: the page must show it, not run it.
    backend.seed([described("eci-1", f"{HOST}/team/web:1.0.0", name='web-1"><img src=x onerror=alert(1)>')])
    with FakeEciServer(backend) as fake:
        app = serve.make_app(rules, gateway_for(fake))
        try:
            yield Client(app), backend, app
        finally:
            app.writer.stop()


def test_the_page_needs_a_token_and_carries_a_strict_policy(site):
    client, backend, _ = site
    assert client.get("/").status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    page = client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp and "'unsafe-inline'" not in csp
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert "<script" not in text and not re.search(r"(src|href)=\"(https?:)?//", text)  # no external asset
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text  # escaped
    assert f"1.1.0 (sha256:{'2' * 12})" in text  # the newest allowed tag
    # what the next reconcile would do: the 1.1.0 update, which the rule's approval gate holds
    assert re.search(r'<td class="held">held \([^)]+\) until approval', text)
    listed = client.get("/rules", headers={"Authorization": f"Bearer {TOKEN}"})
    assert listed.status_code == 200 and client.get("/rules").status_code == 401
    (web,) = json.loads(listed.get_data())["rules"]
    assert web["newest"] == {"tag": "1.1.0", "digest": D2} and web["groups"][0]["running"]["tag"] == "1.0.0"
    assert backend.mutating_calls() == []  # the page changes nothing


def test_held_changes_get_an_approve_button_for_approvers_only(site, capsys, tmp_path):
    client, backend, app = site
    push = {
        "events": [
            {
                "id": "ev-1",
                "timestamp": "2026-12-01T00:00:00Z",
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": D2,
                    "repository": "team/web",
                    "tag": "1.1.0",
                },
                "request": {"host": HOST},
            }
        ]
    }
    posted = client.post(f"/?token={TOKEN}", data=json.dumps(push), content_type="application/json")
    assert posted.status_code == 202, posted.get_data(as_text=True)
    assert app.writer.drain(30)
    held = json.loads(client.get("/status", headers={"Authorization": f"Bearer {TOKEN}"}).get_data())["held"]
    (hid,) = [h["id"] for h in held]  # the id as the gates API gives it
    viewer = client.get(f"/?token={TOKEN}").get_data(as_text=True)
    assert hid in viewer and "Approve" not in viewer
    approver = client.get(f"/?token={APPROVER}").get_data(as_text=True)
    assert "approver alice" in approver
    (action,) = re.findall(r'<form class="approve" method="post" action="([^"]+)"', approver)
    assert action.replace("&amp;", "&") == f"/approvals/{hid}?token={APPROVER}"
    clicked = client.post(action.replace("&amp;", "&"), content_type="application/x-www-form-urlencoded")
    assert clicked.status_code == 303 and clicked.headers["Location"] == f"/?token={APPROVER}"
    assert app.writer.drain(30)
    assert backend.group("eci-1").images() == [f"{HOST}/team/web@{D2}"]  # released by the writer
    api = client.post(f"/approvals/{hid}", headers={"Authorization": f"Bearer {APPROVER}"})
    assert api.status_code == 404  # an API call is answered as before (nothing held any more)

    # `history --group` of the group: who approved which version, then the release it caused
    log = tmp_path / "serve.log"
    log.write_text(capsys.readouterr().err)
    rules = __import__("os").environ["ECI_REDEPLOY_RULES"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "eci_redeploy.cli",
            "history",
            "--rules",
            rules,
            "--log",
            str(log),
            "--group",
            "eci-1",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    seen = [(e["cause"], e["outcome"], e["tag_after"], e["digest_after"]) for e in json.loads(out.stdout)]
    assert seen == [("approval", "approved", "1.1.0", D2), ("release", "applied", "1.1.0", D2)]  # before: no approval
    table = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", "history", "--rules", rules, "--log", str(log), "--rule", "web"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        timeout=60,
    ).stdout.splitlines()
    assert f"{hid}  approval  approved  approved by alice: 1.1.0 (sha256:{'2' * 12})" in table[0]
    other = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", "history", "--rules", rules, "--log", str(log), "--rule", "api"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        timeout=60,
    )
    assert other.returncode == 2 and "no rule named 'api'" in other.stderr
