"""A generic JSON webhook: the message's payload, signed with HMAC-SHA256 over "<timestamp>.<body>"
when a secret is set (X-Eci-Redeploy-Timestamp / X-Eci-Redeploy-Signature, docs/notifications.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from .base import JSON, Message, Request, register


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@register("webhook")
def webhook_request(config: Any, message: Message, env: Mapping[str, str]) -> Request | None:
    url = env.get(config.url_env) if config.url_env else None
    if not url:
        return None
    body = json.dumps(message.payload(), ensure_ascii=False).encode()
    headers = dict(JSON)
    secret = env.get(config.secret_env) if config.secret_env else None
    if secret:
        ts = str(int(time.time()))
        headers.update(
            {"X-Eci-Redeploy-Timestamp": ts, "X-Eci-Redeploy-Signature": webhook_signature(secret, ts, body)}
        )
    return url, body, headers
