"""Function entry points that stay cheap until they know there is work: the fast path first, the
full handlers (pydantic, the SDKs) only when an event may matter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def rules_path(default_rules: Path) -> Path:
    return Path(os.environ.get("ECI_REDEPLOY_RULES") or default_rules)


def push(event: bytes, context: Any, *, default_rules: Path) -> dict[str, Any]:
    from ..rules.watched import unwatched_reply

    reply = unwatched_reply(event, rules_path(default_rules))
    if reply is not None:
        return reply
    from .push_worker import handle_push

    return handle_push(event, context, default_rules=default_rules)
