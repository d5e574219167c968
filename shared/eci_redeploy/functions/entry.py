"""Function entry points (`functions/<name>/index.py` call these). The push function stays cheap
until it knows there is work: the fast path first, the full handler (pydantic, the SDKs) only when
an event may matter. Each then imports what its path needs and loads the rules with the collector
paused (`startup.warm`), once per instance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .startup import ECI, hand_off_modules, push_modules, warm

PUSH_WORKER = "eci_redeploy.functions.push_worker"


def rules_path(default_rules: Path) -> Path:
    return Path(os.environ.get("ECI_REDEPLOY_RULES") or default_rules)


def push(event: bytes, context: Any, *, default_rules: Path) -> dict[str, Any]:
    """EventBridge pushes: an unwatched repository is answered before anything heavy is imported."""
    from ..rules.watched import unwatched_reply

    reply = unwatched_reply(event, rules_path(default_rules))
    if reply is not None:
        return reply
    warm(PUSH_WORKER, *push_modules(), rules=rules_path(default_rules))
    from .push_worker import handle_push

    return handle_push(event, context, default_rules=default_rules)


def work(event: bytes, context: Any, *, default_rules: Path) -> dict[str, Any]:
    """Work orders: every one of them is applied, so the ECI SDK is always needed."""
    warm(PUSH_WORKER, *ECI, rules=rules_path(default_rules))
    from .push_worker import handle_work

    return handle_work(event, context, default_rules=default_rules)


def webhook(event: Any, context: Any, *, default_rules: Path) -> dict[str, Any]:
    """Webhooks: previewed against ECI (describe), then handed to the worker."""
    warm("eci_redeploy.functions.webhook", *ECI, *hand_off_modules(), rules=rules_path(default_rules))
    from .webhook import handle

    return handle(event, context, default_rules=default_rules)


def tick(event: bytes, context: Any, *, default_rules: Path) -> dict[str, Any]:
    """The timer: a reconcile against ECI, handed to the worker when one is configured."""
    warm("eci_redeploy.functions.timer", *ECI, *hand_off_modules(), rules=rules_path(default_rules))
    from .timer import handle_tick

    return handle_tick(event, context, default_rules=default_rules)
