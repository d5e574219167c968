"""The operator's page in a real headless browser (Debian's chromium, installed by
.ci/install-system-deps), driven over the DevTools protocol (websocket-client): `eci-redeploy serve
--live` against a FakeEciServer, a real registry for the tags, a push held by an approval gate, the
Approve button clicked with the mouse, and the release checked on the fake. Screenshots go to
$ECI_REDEPLOY_ARTIFACTS (set by .ci/run, which prints the folder) or the test's tmp_path.

Protocol reference: https://chromedevtools.github.io/devtools-protocol/ (Page.navigate,
Page.captureScreenshot, Runtime.evaluate, Input.dispatchMouseEvent)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import websocket

from eci_redeploy.fake.models import FakeEci
from eci_redeploy.fake.server import FakeEciServer
from registry_tools import Registry, free_port, push, write_layout

from helpers import ROOT, clean_env, described, wait_for_url

TOKEN, APPROVER = "v1ewer-token-for-the-page", "al1ce-token-for-the-page"


class Browser:
    """One headless chromium page over the DevTools protocol."""

    def __init__(self, profile: Path) -> None:
        binary = shutil.which("chromium")
        assert binary, "chromium is missing: run .ci/install-system-deps"
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.ws.recv()))
        raise AssertionError(f"no {method} within {timeout} s")

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click at the element's centre (not a script's .click())."""
        box = self.js(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("ECI_REDEPLOY_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_page_in_chromium_with_the_approve_flow(tmp_path, browser):
    root = tmp_path / "registry"
    with Registry(root) as reg:
        digests = {}
        for tag in ("1.0.0", "1.1.0"):
            digests[tag] = write_layout(root / f"img-{tag}", tag, f"web {tag}")
            push(root / f"img-{tag}", tag, f"{reg.host}/team/web:{tag}")
        rules = tmp_path / "rules.yaml"
        rule = {
            "name": "web",
            "source": {"repository": "team/web", "registry": reg.host, "tags": {"semver": "^1.0.0"}},
            "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"tags": {"app": "web"}}},
            "pull": {"plain_http": [reg.host]},
            "gates": {"approval": {"approvers_env": "APPROVERS", "expires": "24h"}},
        }
        rules.write_text(json.dumps({"version": 1, "rules": [rule]}))
        backend = FakeEci()
        backend.seed([described(f"eci-{i}", f"{reg.host}/team/web:1.0.0", name=f"web-{i}") for i in (1, 2)])
        with FakeEciServer(backend) as fake:
            port = free_port()
            key, secret = fake.credentials
            env = clean_env(
                PYTHONPATH=str(ROOT / "shared"),
                ECI_REDEPLOY_WEBHOOK_TOKEN=TOKEN,
                APPROVERS=f"alice:{APPROVER}",
                ECI_REDEPLOY_ECI_ENDPOINT=fake.url,
                ALIBABA_CLOUD_ACCESS_KEY_ID=key,
                ALIBABA_CLOUD_ACCESS_KEY_SECRET=secret,
            )
            log = (tmp_path / "serve.log").open("wb")
            command = ["serve", "--port", str(port), "--rules", str(rules), "--live"]
            serve = subprocess.Popen(
                [sys.executable, "-m", "eci_redeploy.cli", *command],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                wait_for_url(f"{base}/healthz")
                _push_and_wait_for_the_hold(base, reg.host, digests["1.1.0"])
                _approve_in_the_browser(browser, base, backend, reg.host, digests, tmp_path)
            finally:
                serve.terminate()
                serve.wait(10)
                log.close()


def _push_and_wait_for_the_hold(base: str, host: str, digest: str) -> None:
    target = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "repository": "team/web",
        "tag": "1.1.0",
    }
    body = {
        "events": [
            {
                "id": "ev-page",
                "timestamp": "2026-12-01T00:00:00Z",
                "action": "push",
                "target": target,
                "request": {"host": host},
            }
        ]
    }
    request = urllib.request.Request(
        f"{base}/?token={TOKEN}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    assert urllib.request.urlopen(request, timeout=30).status == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = urllib.request.Request(f"{base}/status", headers={"Authorization": f"Bearer {TOKEN}"})
        if json.loads(urllib.request.urlopen(status, timeout=10).read())["held"]:
            return
        time.sleep(0.1)
    raise AssertionError("the push was not held")


def _approve_in_the_browser(browser: Browser, base: str, backend, host: str, digests: dict, tmp_path: Path) -> None:
    out = artifacts(tmp_path)
    browser.open(f"{base}/?token={APPROVER}")
    assert browser.js("document.title") == "eci-redeploy"
    # The stylesheet applied under the CSP (its hash allowed it): the header is dark, not the default white.
    assert browser.js("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(29, 35, 48)"
    rows = browser.js("[...document.querySelectorAll('section.rule tbody tr')].map(r => r.innerText)")
    assert len(rows) == 2 and all("1.0.0" in r and "1.1.0" in r for r in rows)  # running vs newest
    assert browser.js("document.querySelectorAll('form.approve button').length") == 1
    browser.screenshot(out / "web-page-held.png")
    browser.events.clear()
    browser.click("form.approve button")
    browser.wait_for("Page.loadEventFired")  # the 303 back to the page
    assert browser.js("location.pathname") == "/"
    wanted = f"{host}/team/web@{digests['1.1.0']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and {backend.group(g).images()[0] for g in ("eci-1", "eci-2")} != {wanted}:
        time.sleep(0.1)
    assert {backend.group(g).images()[0] for g in ("eci-1", "eci-2")} == {wanted}  # released by the click
    backend.settle()
    browser.open(f"{base}/?token={APPROVER}")
    assert "nothing is held" in browser.js("document.getElementById('held').nextElementSibling.innerText")
    timeline = browser.js("[...document.querySelectorAll('.timeline li')].map(li => li.innerText)")
    assert len(timeline) == 2 and all("1.1.0" in item for item in timeline)
    shot = browser.screenshot(out / "web-page.png")
    assert shot.stat().st_size > 10_000
    print(f"screenshots: {out / 'web-page-held.png'} {shot}")
