"""Slack incoming webhooks: one mrkdwn `text` (https://api.slack.com/messaging/webhooks)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .base import JSON, Message, Request, register


@register("slack")
def slack_request(config: Any, message: Message, env: Mapping[str, str]) -> Request | None:
    url = env.get(config.url_env) if config.url_env else None
    body = json.dumps({"text": message.text("slack")}, ensure_ascii=False).encode()
    return (url, body, dict(JSON)) if url else None
