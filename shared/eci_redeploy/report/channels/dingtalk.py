"""DingTalk custom robots: a markdown message, the URL signed when the robot has a secret
(https://open.dingtalk.com/document/robots/customize-robot-security-settings)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from .base import JSON, Message, Request, register


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """DingTalk custom robot signing: HMAC-SHA256 of "<timestamp>\\n<secret>" keyed by the secret."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    sign = base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={urllib.parse.quote_plus(sign)}"


@register("dingtalk")
def dingtalk_request(config: Any, message: Message, env: Mapping[str, str]) -> Request | None:
    url = env.get(config.url_env) if config.url_env else None
    if not url:
        return None
    secret = env.get(config.secret_env) if config.secret_env else None
    if secret:
        url = dingtalk_signed_url(url, secret, int(time.time() * 1000))
    markdown = {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.text("dingtalk")}}
    return url, json.dumps(markdown, ensure_ascii=False).encode(), dict(JSON)
