"""Function Compute timer trigger events."""

from __future__ import annotations

from typing import Any

from ..model import TimerTick
from . import detect
from .base import WireModel, parse_time, validate

NAME = "fc-timer"


class TimerEvent(WireModel):
    triggerTime: str | None = None
    triggerName: str
    payload: str | None = ""


looks_like = detect.fc_timer


def parse(raw: dict[str, Any]) -> TimerTick:
    event = validate(TimerEvent, raw, source=NAME)
    return TimerTick(event.triggerName, parse_time(event.triggerTime), event.payload or "")
