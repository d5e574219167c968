"""Harbor webhooks in each payload format a Harbor policy can choose (Harbor >= 2.10 lets the project
admin pick one per webhook policy):

- Default: `{"type": "PUSH_ARTIFACT", "occur_at", "operator", "event_data": {"resources", "repository"}}`
  (goharbor/website, configure-webhooks.md; `pushImage` in Harbor 1.x);
- CloudEvents: `Content-Type: application/cloudevents+json`, `type: harbor.artifact.pushed`,
  `source: /projects/<p>/webhook/policies/<w>`, `data` = the default format's `event_data`
  (goharbor/harbor src/pkg/notifier/formats/cloudevents.go);
- CDEvents: the same envelope with `type: dev.cdevents.artifact.published.<version>` (older notes
  show `harbor.artifact.pushed`) and the push under `data.customData`
  (src/pkg/notifier/formats/cdevents.go and its test).

Each resource is one push; a resource that cannot be read is rejected on its own.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from ...core.errors import EventError
from ...core.imageref import ImageRef, ImageReferenceError
from ..model import IgnoredEvent, PushEvent, RejectedEvent
from . import detect
from .base import WireModel, checked_digest, checked_tag, parse_time, tag_unless_digest, validate

NAME = "harbor"
PUSH_TYPES = frozenset({"PUSH_ARTIFACT", "pushImage"})
CLOUDEVENT_PUSH = "harbor.artifact.pushed"
CDEVENT_PUBLISHED = "dev.cdevents.artifact.published."

Parsed = PushEvent | IgnoredEvent | RejectedEvent


class Resource(WireModel):
    digest: str | None = None
    tag: str | None = None
    resource_url: str | None = None


class HarborRepository(WireModel):
    name: str | None = None
    namespace: str | None = None
    repo_full_name: str | None = None


class EventData(WireModel):
    resources: list[dict[str, Any]] = Field(default_factory=list)
    repository: HarborRepository = Field(default_factory=HarborRepository)


class HarborWebhook(WireModel):
    type: str
    occur_at: int | float | str | None = None
    operator: str | None = None
    event_data: EventData


class HarborCloudEvent(WireModel):
    id: str = Field(min_length=1)
    source: str
    type: str
    time: str | None = None
    data: dict[str, Any] | None = None


looks_like = detect.harbor


def parse(raw: dict[str, Any]) -> list[Parsed]:
    if detect.cloudevent(raw):
        return _cloudevent(raw)
    body = validate(HarborWebhook, raw, source=NAME)
    basis = hashlib.sha256(repr(sorted(raw.items(), key=str)).encode()).hexdigest()[:24]
    if body.type not in PUSH_TYPES:
        return [IgnoredEvent(NAME, f"harbor-{basis}", f"event type {body.type} is not a push")]
    return _resources(body.event_data, f"harbor-{basis}", body.occur_at, "event_data")


def _cloudevent(raw: dict[str, Any]) -> list[Parsed]:
    event = validate(HarborCloudEvent, raw, source=NAME)
    cdevent = event.type.startswith(CDEVENT_PUBLISHED)
    if event.type != CLOUDEVENT_PUSH and not cdevent:
        return [IgnoredEvent(NAME, event.id, f"event type {event.type} from {event.source} is not a push")]
    data = event.data or {}
    field = "data"
    if cdevent or "customData" in data:
        # CDEvents carry Harbor's event data as customData (cdevents.go: SetCustomData(..., EventData)).
        data, field = data.get("customData") or {}, "data.customData"
    if not isinstance(data, dict) or not data.get("resources"):
        raise EventError("a push needs at least one resource", source=NAME, field=f"{field}.resources")
    event_data = validate(EventData, data, source=NAME)
    return _resources(event_data, event.id, event.time, field)


def _resources(data: EventData, event_id: str, when: Any, field: str) -> list[Parsed]:
    if not data.resources:
        raise EventError("a push needs at least one resource", source=NAME, field=f"{field}.resources")
    single = len(data.resources) == 1
    out: list[Parsed] = []
    for i, raw in enumerate(data.resources):
        try:
            out.append(_push(raw, f"{field}.resources.{i}", event_id if single else f"{event_id}-{i}", when))
        except EventError as exc:
            out.append(RejectedEvent(NAME, i, exc.one_line()))
    return out


def _push(raw: dict[str, Any], where: str, event_id: str, when: Any) -> PushEvent:
    res = validate(Resource, raw, source=NAME)
    if not res.resource_url:
        raise EventError("resource_url is required", source=NAME, field=where)
    try:
        ref = ImageRef.parse(res.resource_url)
    except ImageReferenceError as exc:
        raise EventError(str(exc), source=NAME, field=f"{where}.resource_url") from None
    return PushEvent(
        repository=ref.repository,
        tag=checked_tag(tag_unless_digest(res.tag) or ref.tag, source=f"{NAME}: {where}"),
        digest=checked_digest(res.digest or ref.digest, source=f"{NAME}: {where}"),
        source=NAME,
        event_id=event_id,
        time=parse_time(when),
        registry_host=ref.registry,
    )
