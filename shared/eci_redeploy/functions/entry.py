"""Function entry points that stay cheap until they know there is work: the fast path first, the
full handlers (pydantic, the SDKs) only when an event may matter, imported with the collector paused
(`startup.warm`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .startup import APPLY, apply_modules, warm

PUSH_WORKER = "eci_redeploy.functions.push_worker"


def rules_path(default_rules: Path) -> Path:
    return Path(os.environ.get("ECI_REDEPLOY_RULES") or default_rules)


def push(event: bytes, context: Any, *, default_rules: Path) -> dict[str, Any]:
    """EventBridge pushes: an unwatched repository is answered before anything heavy is imported."""
    from ..rules.watched import unwatched_reply

    reply = unwatched_reply(event, rules_path(default_rules))
    if reply is not None:
        return reply
    warm(PUSH_WORKER, *apply_modules(), rules=rules_path(default_rules))
    from .push_worker import handle_push

    return handle_push(event, context, default_rules=default_rules)


def work(event: bytes, context: Any, *, default_rules: Path) -> dict[str, Any]:
    """Work orders: every one of them is applied, so the ECI SDK is always needed."""
    warm(PUSH_WORKER, *APPLY, rules=rules_path(default_rules))
    from .push_worker import handle_work

    return handle_work(event, context, default_rules=default_rules)
