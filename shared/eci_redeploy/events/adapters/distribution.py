"""CNCF Distribution (`registry:2`, Debian's docker-registry) notifications: only manifest pushes deploy."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ...core.errors import EventError
from ...core.hosts import host_problem
from ...core.imageref import canonical_registry
from ..model import IgnoredEvent, PushEvent, RejectedEvent
from . import detect
from .base import WireModel, checked_digest, checked_place, checked_tag, parse_time, validate

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
    events: list[dict[str, Any]]


looks_like = detect.distribution


def parse(raw: dict[str, Any]) -> list[PushEvent | IgnoredEvent | RejectedEvent]:
    """Every event of the envelope on its own: registries batch unrelated events in one notification
    (docs/content/about/notifications.md, "Envelope"), so one bad event must not lose the others."""
    envelope = validate(Envelope, raw, source=NAME)
    if not envelope.events:
        raise EventError("the notification holds no event", source=NAME, field="events")
    out: list[PushEvent | IgnoredEvent | RejectedEvent] = []
    for i, item in enumerate(envelope.events):
        try:
            out.append(_event(item, i))
        except EventError as exc:
            out.append(RejectedEvent(NAME, i, exc.one_line()))
    return out


def _event(raw: dict[str, Any], i: int) -> PushEvent | IgnoredEvent:
    where = f"events.{i}"
    event = validate(Event, raw, source=NAME, at=where)
    target = event.target
    if event.action != "push":
        return IgnoredEvent(NAME, event.id, f"action {event.action} is not a push")
    if target.mediaType not in MANIFEST_TYPES:
        return IgnoredEvent(NAME, event.id, f"{target.mediaType or 'unknown media type'} is not a manifest")
    if not target.repository:
        raise EventError("a manifest push needs target.repository", source=NAME, field=f"{where}.target")
    tag = checked_tag(target.tag, source=f"{NAME}: {where}.target")
    digest = checked_digest(target.digest, source=f"{NAME}: {where}.target")
    if not tag and not digest:
        return IgnoredEvent(NAME, event.id, "manifest push without tag or digest")
    host = checked_place(event.request.host, host_problem, source=NAME, field=f"{where}.request.host")
    return PushEvent(
        repository=target.repository.lower(),
        tag=tag,
        digest=digest,
        source=NAME,
        event_id=event.id,
        time=parse_time(event.timestamp),
        registry_host=canonical_registry(host) if host else None,
    )
