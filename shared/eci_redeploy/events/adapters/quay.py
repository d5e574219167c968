"""Quay (quay.io and Red Hat Quay) `repo_push` notifications, webhook method.

`{"name", "repository": "ns/repo", "namespace", "docker_url": "quay.io/ns/repo", "homepage",
"updated_tags": ["latest"]}` (Red Hat Quay docs, "Repository notifications"); older Quay sent
`updated_tags` as a map of tag -> image id (quay.io's published example). No digest either way and
no signature: a hint, confirmed with the registry like the other unsigned webhooks.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field

from ...core.errors import EventError
from ...core.imageref import ImageRef, ImageReferenceError
from ..model import PushEvent, RejectedEvent
from . import detect
from .base import WireModel, checked_tag, validate
from .traits import Traits

NAME = "quay"
TRAITS = Traits(unsigned=True)  # no signature the product checks: the token vouches, the registry confirms the digest


class QuayPush(WireModel):
    repository: str = Field(min_length=1)
    docker_url: str = Field(min_length=1)
    updated_tags: list[str] | dict[str, Any]
    namespace: str | None = None
    name: str | None = None


looks_like = detect.quay


def parse(raw: dict[str, Any]) -> list[PushEvent | RejectedEvent]:
    body = validate(QuayPush, raw, source=NAME)
    try:
        ref = ImageRef.parse(body.docker_url)  # host (quay.io or the self-hosted name) + repository
    except ImageReferenceError as exc:
        raise EventError(str(exc), source=NAME, field="docker_url") from None
    tags = list(body.updated_tags)  # a list, or the keys of the legacy map
    if not tags:
        raise EventError("updated_tags is empty: the notification names no pushed tag", source=NAME)
    basis = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:24]
    out: list[PushEvent | RejectedEvent] = []
    for i, tag in enumerate(tags):
        try:
            checked = checked_tag(tag, source=f"{NAME}: updated_tags.{i}")
        except EventError as exc:
            out.append(RejectedEvent(NAME, i, exc.one_line()))
            continue
        out.append(
            PushEvent(
                repository=ref.repository,
                tag=checked,
                digest=None,
                source=NAME,
                event_id=f"quay-{basis}-{tag}",
                registry_host=ref.registry,
            )
        )
    return out
