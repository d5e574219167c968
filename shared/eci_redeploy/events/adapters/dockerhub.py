"""Docker Hub webhooks: unsigned, tag only (no digest), so a hint to be confirmed."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ...core.imageref import DOCKER_HUB
from ..model import PushEvent
from . import detect
from .base import WireModel, checked_tag, parse_time, validate
from .traits import Traits

NAME = "dockerhub"
TRAITS = Traits(unsigned=True)  # no signature the product checks: the token vouches, the registry confirms the digest


class HubPushData(WireModel):
    tag: str | None = None
    pushed_at: int | float | str | None = None
    pusher: str | None = None


class HubRepository(WireModel):
    repo_name: str = Field(min_length=1)


class DockerHubWebhook(WireModel):
    callback_url: str | None = None
    push_data: HubPushData
    repository: HubRepository


looks_like = detect.dockerhub


def parse(raw: dict[str, Any]) -> PushEvent:
    body = validate(DockerHubWebhook, raw, source=NAME)
    repo = body.repository.repo_name.lower()
    if "/" not in repo:
        repo = f"library/{repo}"
    tag = checked_tag(body.push_data.tag, source=NAME)
    return PushEvent(
        repository=repo,
        tag=tag,
        digest=None,
        source=NAME,
        event_id=f"dockerhub-{repo}-{tag}-{body.push_data.pushed_at}",
        time=parse_time(body.push_data.pushed_at),
        registry_host=DOCKER_HUB,
    )
