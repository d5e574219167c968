"""Harbor webhooks (`PUSH_ARTIFACT`)."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from ..errors import EventError
from ..imageref import ImageRef, ImageReferenceError
from ..pushevent import IgnoredEvent, PushEvent
from . import detect
from ._common import WireModel, checked_digest, checked_tag, parse_time, validate

NAME = "harbor"


class Resource(WireModel):
    digest: str | None = None
    tag: str | None = None
    resource_url: str | None = None


class HarborRepository(WireModel):
    name: str | None = None
    namespace: str | None = None
    repo_full_name: str | None = None


class EventData(WireModel):
    resources: list[Resource] = Field(default_factory=list)
    repository: HarborRepository = Field(default_factory=HarborRepository)


class HarborWebhook(WireModel):
    type: str
    occur_at: int | float | str | None = None
    operator: str | None = None
    event_data: EventData


looks_like = detect.harbor


def parse(raw: dict[str, Any]) -> list[PushEvent | IgnoredEvent]:
    body = validate(HarborWebhook, raw, source=NAME)
    basis = hashlib.sha256(repr(sorted(raw.items(), key=str)).encode()).hexdigest()[:24]
    if body.type not in ("PUSH_ARTIFACT", "pushImage"):
        return [IgnoredEvent(NAME, f"harbor-{basis}", f"event type {body.type} is not a push")]
    out: list[PushEvent | IgnoredEvent] = []
    for i, res in enumerate(body.event_data.resources):
        if not res.resource_url:
            raise EventError("resource_url is required", source=NAME, field=f"event_data.resources.{i}")
        try:
            ref = ImageRef.parse(res.resource_url)
        except ImageReferenceError as exc:
            raise EventError(str(exc), source=NAME, field=f"event_data.resources.{i}.resource_url") from None
        out.append(
            PushEvent(
                repository=ref.repository,
                tag=checked_tag(res.tag or ref.tag, source=NAME),
                digest=checked_digest(res.digest or ref.digest, source=NAME),
                source=NAME,
                event_id=f"harbor-{basis}-{i}",
                time=parse_time(body.occur_at),
                registry_host=ref.registry,
            )
        )
    if not out:
        raise EventError("a push needs at least one resource", source=NAME, field="event_data.resources")
    return out
