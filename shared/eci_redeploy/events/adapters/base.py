"""Helpers the adapters share: pydantic base models, time parsing, and readable validation errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ...core.errors import EventError
from ...core.imageref import ImageReferenceError, validate_digest, validate_tag


class WireModel(BaseModel):
    # Producers add fields over time; unknown keys are kept, never an error.
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


def validate(model: type[BaseModel], raw: Any, *, source: str, at: str = "") -> Any:
    """`at`: where `raw` sits in the body (e.g. `events.3`), so that the error names the full path."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in (at, *err["loc"]) if x != "") or "(body)"
        raise EventError(err["msg"], source=source, field=loc) from None


def lower_keys(value: Any) -> Any:
    """ACR's event keys are documented in PascalCase but not confirmed for every type: match any case."""
    if isinstance(value, dict):
        return {str(k).lower(): v for k, v in value.items()}
    return value


def checked_tag(tag: str | None, *, source: str) -> str | None:
    if tag in (None, ""):
        return None
    try:
        return validate_tag(str(tag))
    except ImageReferenceError as exc:
        raise EventError(str(exc).removeprefix(f"{exc.field}: "), source=source, field="tag") from None


def checked_digest(digest: str | None, *, source: str) -> str | None:
    if digest in (None, ""):
        return None
    try:
        return validate_digest(str(digest))
    except ImageReferenceError as exc:
        raise EventError(str(exc).removeprefix(f"{exc.field}: "), source=source, field="digest") from None


def checked_place(value: Any, problem: Callable[[object], str | None], *, source: str, field: str) -> str | None:
    """A region, instance id or host from a payload, checked against its grammar (core/hosts.py) before
    anything can build a host name from it: a refusal names the field; empty is absent."""
    if value in (None, ""):
        return None
    why = problem(value)
    if why:
        raise EventError(why, source=source, field=field)
    return str(value)


def lenient_digest(digest: Any) -> tuple[str | None, str | None]:
    """(digest, warning) for formats whose tag is what matters: a malformed digest must not lose the push
    (the tag is deployed, and the digest resolved from the registry where it can be), but it is said."""
    if digest in (None, ""):
        return None, None
    try:
        return validate_digest(str(digest)), None
    except ImageReferenceError as exc:
        return None, str(exc).removeprefix(f"{exc.field}: ")


def tag_unless_digest(tag: Any) -> Any:
    """Harbor puts the digest in `tag` for an artifact without a tag: that is no tag."""
    return None if isinstance(tag, str) and tag.startswith("sha256:") else tag


# ACR webhooks send region-local wall-clock times without a zone.
_REGION_OFFSETS = {
    "ap-northeast-1": 9,
    "ap-northeast-2": 9,
    "ap-southeast-5": 7,
    "ap-southeast-6": 8,
    "ap-southeast-7": 7,
    "ap-south-1": 5.5,
    "me-east-1": 4,
    "me-central-1": 3,
    "eu-central-1": 1,
    "eu-west-1": 0,
    "us-west-1": -8,
    "us-east-1": -5,
}


def parse_time(text: Any, *, region: str | None = None) -> datetime | None:
    if not text:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if not math.isfinite(text) or text < 0:
            return None  # before 1970 or not a number: no registry sends it, and it would sort first
        seconds = text / 1000 if text > 10**11 else text
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None  # not a time any registry sends: order by digest alone
    s = str(text).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    # Python 3.10's fromisoformat takes at most 6 fractional digits; registries send up to 9.
    if "." in s:
        head, _, tail = s.partition(".")
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        zone = tail[len(digits) :]
        s = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        value = datetime.fromisoformat(s.replace(" ", "T", 1))
    except (ValueError, OverflowError):
        return None
    if value.tzinfo is None:
        hours = _REGION_OFFSETS.get(region or "", 8)  # China and most Asia-Pacific regions are UTC+8
        value = value.replace(tzinfo=timezone(timedelta(hours=hours)))
    return value
