"""Which events each function takes: its own trigger's, and nothing else.

Every function could parse every format (the CLI does, on purpose), so a function reachable by one
trigger could be made to deploy what another trigger is there to authenticate: the EventBridge
function, handed an FC HTTP event that wraps an unsigned ACR webhook body, deployed it with no token.
Each function therefore checks the outer shape of what it was invoked with before parsing:

- push (EventBridge): a CloudEvent, or an array of them;
- webhook (HTTP trigger): an FC HTTP event (checked in functions/webhook.py, which then authenticates);
- worker (async, from the webhook): a work order (work.is_work_order);
- timer (timer trigger): a timer event.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import EventError
from .adapters import MAX_ENVELOPE, decode_json, detect


def describe(raw: Any) -> str:
    """What a decoded payload looks like, for the error that refuses it (never its content)."""
    if isinstance(raw, list):
        return f"a JSON array of {len(raw)} item(s)" if raw else "an empty JSON array"
    if not isinstance(raw, dict):
        return f"a JSON {type(raw).__name__}"
    if detect.fc_http(raw):
        return "a Function Compute HTTP trigger event"
    if detect.fc_timer(raw):
        return "a timer event"
    if raw.get("kind") == "eci-redeploy/work-order":
        return "a work order"
    if detect.acr_eventbridge(raw):
        return "a CloudEvent"
    for looks_like in detect.BODY_FORMATS:
        if looks_like(raw):
            return f"a {looks_like.__name__} webhook body"
    return "an unknown JSON object"


def _claims_cloudevent(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("specversion"), str)


def eventbridge_events(payload: bytes | str | Any) -> Any:
    """The push function: EventBridge CloudEvents (a batch is an array of them)."""
    raw = decode_json(payload, source="eventbridge", limit=MAX_ENVELOPE)
    items = raw if isinstance(raw, list) else [raw]
    # CloudEvents of any source (ACR EE, or a registry routed through an EventBridge bus); an item that
    # claims to be one but lacks attributes is rejected on its own by the adapters, the others proceed.
    if not items or not all(_claims_cloudevent(item) for item in items):
        shown = describe(next((i for i in items if not _claims_cloudevent(i)), raw)) if items else describe(raw)
        raise EventError(
            f"the push function takes EventBridge CloudEvents only, got {shown}; "
            "registry webhooks go to the webhook function",
            source="eventbridge",
        )
    return raw


def timer_event(payload: bytes | str | Any) -> dict[str, Any]:
    """The timer function: one timer-trigger event."""
    raw = decode_json(payload, source="timer", limit=MAX_ENVELOPE)
    if not detect.fc_timer(raw):
        raise EventError(f"the timer function takes timer-trigger events only, got {describe(raw)}", source="timer")
    return dict(raw)
