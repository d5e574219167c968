"""Function Compute as the handlers see it: bytes events, an FC-shaped context, a fake ECI behind the
gateway factory and an inline worker behind the dispatcher factory (both patched with pytest-mock)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from eci_redeploy.events.auth import sign

DATA = Path(__file__).with_name("data")
TOKEN = "t0ken-for-tests"
HMAC_SECRET = "hm4c-secret-for-tests"


def fc_context(name: str = "webhook") -> SimpleNamespace:
    return SimpleNamespace(
        request_id="1-6747a1b2-test",
        function=SimpleNamespace(name=name, handler="index.handler", memory=128, timeout=60),
        region="cn-hangzhou",
        account_id="1234567890123456",
        credentials=None,
        service=SimpleNamespace(name="", log_project="", log_store=""),
    )


def http_event(
    body: bytes | str,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    method: str = "POST",
) -> bytes:
    text = body.decode() if isinstance(body, bytes) else body
    event = {
        "version": "v1",
        "rawPath": "/",
        "body": text,
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "queryParameters": query or {},
        "requestContext": {
            "accountId": "1234567890123456",
            "requestId": "req-1",
            "http": {"method": method, "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        },
    }
    return json.dumps(event).encode()


def signed_headers(body: bytes, *, secret: str = HMAC_SECRET, at: float | None = None) -> dict[str, str]:
    ts = str(int(at if at is not None else time.time()))
    return {"X-Eci-Redeploy-Timestamp": ts, "X-Eci-Redeploy-Signature": sign(secret, ts, body)}


class FcHarness:
    def __init__(self, backend: Any, dispatcher: Any) -> None:
        self.backend = backend
        self.dispatcher = dispatcher

    def mutations(self) -> list[Any]:
        return self.backend.mutating_calls()
