"""The generic "deploy this image" call for CI pipelines: `{"image": "...", "digest": "..."}`."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from ...core.errors import EventError
from ...core.imageref import ImageRef, ImageReferenceError
from ..model import PushEvent
from . import detect
from .base import WireModel, checked_digest, parse_time, validate
from .traits import Traits

NAME = "generic"
TRAITS = Traits(needs_hmac=True)  # names any image: the HMAC signature, not the token alone


class GenericCall(WireModel):
    image: str = Field(min_length=1)
    digest: str | None = None
    id: str | None = None
    time: str | None = None
    dry_run: bool = False


looks_like = detect.generic


def parse(raw: dict[str, Any]) -> PushEvent:
    body = validate(GenericCall, raw, source=NAME)
    try:
        ref = ImageRef.parse(body.image)
    except ImageReferenceError as exc:
        raise EventError(str(exc), source=NAME, field="image") from None
    digest = checked_digest(body.digest, source=NAME) or ref.digest
    if ref.digest and digest != ref.digest:
        raise EventError("the image's digest and the digest field differ", source=NAME, field="digest")
    basis = f"{ref.name}|{ref.tag}|{digest}|{body.time}"
    return PushEvent(
        repository=ref.repository,
        tag=ref.tag,
        digest=digest,
        source=NAME,
        event_id=body.id or "ci-" + hashlib.sha256(basis.encode()).hexdigest()[:24],
        time=parse_time(body.time),
        registry_host=ref.registry,
    )
