"""CNCF Distribution (`registry:2`, Debian's docker-registry) notifications: only manifest pushes deploy."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..errors import EventError
from ..imageref import canonical_registry
from ..pushevent import IgnoredEvent, PushEvent
from . import detect
from ._common import WireModel, checked_digest, checked_tag, parse_time, validate

NAME = "distribution"
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    }
)


class Target(WireModel):
    mediaType: str | None = None
    digest: str | None = None
    repository: str | None = None
    url: str | None = None
    tag: str | None = None


class Request(WireModel):
    id: str | None = None
    host: str | None = None
    method: str | None = None


class Event(WireModel):
    id: str = Field(min_length=1)
    timestamp: str | None = None
    action: str
    target: Target
    request: Request = Field(default_factory=Request)


class Envelope(WireModel):
    events: list[Event]


looks_like = detect.distribution


def parse(raw: dict[str, Any]) -> list[PushEvent | IgnoredEvent]:
    envelope = validate(Envelope, raw, source=NAME)
    if not envelope.events:
        raise EventError("the notification holds no event", source=NAME, field="events")
    out: list[PushEvent | IgnoredEvent] = []
    for event in envelope.events:
        target = event.target
        if event.action != "push":
            out.append(IgnoredEvent(NAME, event.id, f"action {event.action} is not a push"))
            continue
        if target.mediaType not in MANIFEST_TYPES:
            out.append(IgnoredEvent(NAME, event.id, f"{target.mediaType or 'unknown media type'} is not a manifest"))
            continue
        if not target.repository:
            raise EventError("a manifest push needs target.repository", source=NAME, field="events.target")
        tag = checked_tag(target.tag, source=NAME)
        digest = checked_digest(target.digest, source=NAME)
        if not tag and not digest:
            out.append(IgnoredEvent(NAME, event.id, "manifest push without tag or digest"))
            continue
        host = event.request.host
        out.append(
            PushEvent(
                repository=target.repository.lower(),
                tag=tag,
                digest=digest,
                source=NAME,
                event_id=event.id,
                time=parse_time(event.timestamp),
                registry_host=canonical_registry(host) if host else None,
            )
        )
    return out
