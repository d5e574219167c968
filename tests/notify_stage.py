"""A stage for the notifications' tests: a local HTTP receiver standing for DingTalk, Slack and a signed
generic webhook (`Receiver`), a rule with all three channels over three groups on the in-process fake ECI
(`setup`), and the push that rolls them out (`push`)."""

from __future__ import annotations

import threading
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from eci_redeploy.clients.eci import EciGateway, RetryPolicy
from eci_redeploy.events.model import PushEvent
from eci_redeploy.fake.inprocess import inprocess_factory
from eci_redeploy.fake.models import FakeEci

from helpers import described, rule

HOST = "reg.example.com"
DING_SECRET = "SECdingtalk-secret-0123456789"
HOOK_SECRET = "hook-secret-abcdef"


class Receiver:
    def __init__(self):
        self.requests = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = 500 if receiver.fail_next > 0 else 200
                receiver.fail_next -= 1
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def at(self, path):
        return [r for r in self.requests if urllib.parse.urlparse(r["path"]).path == path]


def setup(make_rules, receiver, monkeypatch, **rollout):
    monkeypatch.setenv("DING_URL", f"{receiver.url}/robot/send?access_token=robot-token")
    monkeypatch.setenv("DING_SECRET", DING_SECRET)
    monkeypatch.setenv("SLACK_URL", f"{receiver.url}/slack")
    monkeypatch.setenv("HOOK_URL", f"{receiver.url}/hook")
    monkeypatch.setenv("HOOK_SECRET", HOOK_SECRET)
    doc_rule = {**rule("web", pull={"public": [HOST]}), "rollout": {"poll_seconds": 0.01, **rollout}}
    rules = make_rules(doc_rule)
    from eci_redeploy.rules.model import Channel

    rules.notify = [
        Channel.model_validate({"dingtalk": {"url_env": "DING_URL", "secret_env": "DING_SECRET"}}),
        Channel.model_validate({"slack": {"url_env": "SLACK_URL"}}),
        Channel.model_validate({"webhook": {"url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"}}),
    ]
    backend = FakeEci()
    backend.seed([described(f"eci-{i}", f"{HOST}/team/web:1", name=f"web-{i}") for i in range(3)])
    gateway = EciGateway(inprocess_factory(backend), retry=RetryPolicy(max_attempts=2, initial=0.001))
    return rules, backend, gateway


def push(digest="sha256:" + "a" * 64, minutes_ago=0):
    return [
        PushEvent(
            "team/web",
            "1.4.0",
            digest,
            "distribution",
            "ev-42",
            registry_host=HOST,
            time=datetime.now(timezone.utc) - timedelta(minutes=minutes_ago),
        )
    ]
