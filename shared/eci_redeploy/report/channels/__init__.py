"""Notification channels, one file each, behind one sender protocol (`base`), as keel keeps one package
per sender under `extension/notification`.

- `base`: the protocol, the registry and `request_for` (which channel a rules entry is, its request).
- `dingtalk`: DingTalk custom robots (markdown; signed when a secret is set).
- `slack`: Slack incoming webhooks (mrkdwn).
- `webhook`: a generic JSON webhook (HMAC-SHA256 over timestamp and body when a secret is set).

A new channel is a new file here with a `@register("<rules key>")` sender and its import below, plus
its key on `rules.model.Channel`; `report/notify.py` does not change.
"""

from __future__ import annotations

from . import dingtalk, slack, webhook  # noqa: F401  (each registers itself in base.SENDERS)
from .base import SENDERS, Request, Sender, kind_of, register, request_for

__all__ = ["SENDERS", "Request", "Sender", "kind_of", "register", "request_for"]
