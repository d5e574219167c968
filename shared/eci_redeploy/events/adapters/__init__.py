"""Trigger adapters: one module per wire format, each turning a payload into neutral events.

`parse_payload` finds the format; `parse_body` does the same for a webhook body alone.
"""

from __future__ import annotations

import json
from typing import Any, Union

from ...core.errors import EventError
from ..model import IgnoredEvent, PushEvent, RejectedEvent, TimerTick
from . import detect

Parsed = Union[PushEvent, IgnoredEvent, RejectedEvent, TimerTick]  # noqa: UP007 - a runtime alias on 3.10

MAX_BODY = 256 * 1024  # registry notifications are a few KiB; anything larger is not one of ours


def _module(name: str) -> Any:
    import importlib

    return importlib.import_module(f"{__name__}.{name}")


MAX_ENVELOPE = 8 * 1024 * 1024  # an FC HTTP event wraps the body (maybe base64): room to reply 413 ourselves


def decode_json(payload: bytes | str | Any, *, source: str, limit: int = MAX_BODY) -> Any:
    if isinstance(payload, (bytes, bytearray)):
        if len(payload) > limit:
            raise EventError(f"payload of {len(payload)} bytes is over the {limit}-byte limit", source=source)
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise EventError("payload is not UTF-8", source=source) from None
    if isinstance(payload, str):
        if len(payload) > limit:
            raise EventError(f"payload is over the {limit}-byte limit", source=source)
        try:
            return json.loads(payload)
        except json.JSONDecodeError as exc:
            raise EventError(
                f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", source=source
            ) from None
        except RecursionError:
            raise EventError("JSON nested too deeply", source=source) from None
    return payload


def parse_body(raw: Any, *, source: str = "event", content_type: str | None = None) -> list[Parsed]:
    """One webhook / event body (already decoded) to events. Arrays are batches.

    A batch is read item by item: an item that cannot be read becomes a `RejectedEvent` (its index
    and why) and the others proceed; only when no item can be read is the whole body an error.
    """
    from ...core import clock

    received, allowed = clock.now(), clock.skew()  # the product's clock bounds every push time in it
    if isinstance(raw, list):
        if not raw:
            raise EventError("an empty array holds no event", source=source)
        out: list[Parsed] = []
        for i, item in enumerate(raw):
            try:
                out.extend(_parse_one(item, source=source, content_type=content_type, at=(received, allowed)))
            except EventError as exc:
                out.append(RejectedEvent(_format_name(item), i, exc.one_line()))
        readable = [p for p in out if not isinstance(p, RejectedEvent)]
        if not readable:
            raise EventError(f"no event in the array could be read: {rejections(out)}", source=source)
        return out
    return _parse_one(raw, source=source, content_type=content_type, at=(received, allowed))


def _parse_one(raw: Any, *, source: str, content_type: str | None, at: tuple[Any, Any]) -> list[Parsed]:
    if detect.fc_timer(raw):
        try:
            return [_module("fc_timer").parse(raw)]
        except EventError as exc:
            raise EventError(str(exc), source=source) from None
    try:
        name = detect.identify(raw, content_type)
    except detect.Unidentified as exc:
        raise EventError(str(exc), source=source) from None
    try:
        result = _module(name).parse(raw)
    except EventError as exc:
        raise EventError(str(exc), source=source) from None
    out = [_in_time(p, j, *at) for j, p in enumerate(result if isinstance(result, list) else [result])]
    if out and all(isinstance(p, RejectedEvent) for p in out):
        # Nothing in this body (e.g. a Distribution envelope) could be read: the body is bad as a whole.
        raise EventError(f"no event could be read: {rejections(out)}", source=source)
    return out


def _in_time(parsed: Parsed, index: int, received: Any, allowed: Any) -> Parsed:
    """A push dated later than its receipt (beyond the skew) is refused, with an audit line saying so:
    its time would win every comparison by time and, recorded on a group, block every push after it."""
    from ...core.clock import ahead_of
    from ...core.log import log_event

    if not isinstance(parsed, PushEvent):
        return parsed
    why = ahead_of(parsed.time, received, allowed)
    if why is None:
        return parsed
    line = dict.fromkeys(AUDIT_FIELDS) | {"event_id": parsed.event_id, "event_source": parsed.source}
    line |= {"outcome": "refused", "digest_after": parsed.digest, "duration_ms": 0.0, "reason": why}
    log_event("audit", **line)
    return RejectedEvent(parsed.source, index, why)


# report.audit's stable fields (events sits below report: the line is built here from the same names)
AUDIT_FIELDS = (
    *("event_id", "event_source", "rule", "target", "group_id", "action", "outcome", "image_before"),
    *("image_after", "digest_before", "digest_after", "request_id", "rollback_request_id", "duration_ms", "reason"),
)


def _format_name(raw: Any) -> str:
    try:
        return detect.identify(raw).replace("_", "-")
    except detect.Unidentified:
        return "unknown"


def rejections(parsed: list[Any]) -> str:
    """`[0] reason; [2] reason` for the rejected events of a delivery."""
    return "; ".join(f"[{p.index}] {p.reason}" for p in parsed if isinstance(p, RejectedEvent))


def parse_payload(
    payload: bytes | str | Any, *, source: str = "event", content_type: str | None = None
) -> list[Parsed]:
    """Anything a function or the CLI receives: a CloudEvent, an FC HTTP or timer event, or a raw body."""
    raw = decode_json(payload, source=source, limit=MAX_ENVELOPE)
    if detect.fc_http(raw):
        try:
            request = _module("fc_http").parse(raw)
        except EventError as exc:
            raise EventError(str(exc), source=source) from None
        # The file or event is valid JSON; what is wrong is the body it carries: say so.
        where = f"{source}: body"
        return parse_body(
            decode_json(request.body, source=where),
            source=where,
            content_type=request.headers.get("content-type") or content_type,
        )
    return parse_body(raw, source=source, content_type=content_type)


__all__ = ["MAX_BODY", "MAX_ENVELOPE", "Parsed", "decode_json", "parse_body", "parse_payload", "rejections"]
