"""Trigger adapters: one module per wire format, each turning a payload into neutral events.

`parse_payload` finds the format; `parse_body` does the same for a webhook body alone.
"""

from __future__ import annotations

import json
from typing import Any, Union

from ..errors import EventError
from ..pushevent import IgnoredEvent, PushEvent, TimerTick
from . import detect

Parsed = Union[PushEvent, IgnoredEvent, TimerTick]  # noqa: UP007 - a runtime alias on 3.10

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


def parse_body(raw: Any, *, source: str = "event") -> list[Parsed]:
    """One webhook / event body (already decoded) to events. Arrays are batches."""
    if isinstance(raw, list):
        out: list[Parsed] = []
        for item in raw:
            out.extend(parse_body(item, source=source))
        if not raw:
            raise EventError("an empty array holds no event", source=source)
        return out
    if not isinstance(raw, dict):
        raise EventError(f"expected a JSON object, got {type(raw).__name__}", source=source)
    if detect.fc_timer(raw):
        try:
            return [_module("fc_timer").parse(raw)]
        except EventError as exc:
            raise EventError(str(exc), source=source) from None
    for looks_like in detect.BODY_FORMATS:
        if looks_like(raw):
            try:
                result = _module(looks_like.__name__).parse(raw)
            except EventError as exc:
                raise EventError(str(exc), source=source) from None
            return list(result) if isinstance(result, list) else [result]
    keys = ", ".join(sorted(map(str, raw))[:6])
    raise EventError(f"unknown event format (keys: {keys})", source=source)


def parse_payload(payload: bytes | str | Any, *, source: str = "event") -> list[Parsed]:
    """Anything a function or the CLI receives: a CloudEvent, an FC HTTP or timer event, or a raw body."""
    raw = decode_json(payload, source=source, limit=MAX_ENVELOPE)
    if detect.fc_http(raw):
        try:
            request = _module("fc_http").parse(raw)
        except EventError as exc:
            raise EventError(str(exc), source=source) from None
        return parse_body(decode_json(request.body, source=source), source=source)
    return parse_body(raw, source=source)


__all__ = ["MAX_BODY", "MAX_ENVELOPE", "Parsed", "decode_json", "parse_body", "parse_payload"]
