"""ACR webhooks (Personal and Enterprise Edition): unsigned JSON, so a hint to be confirmed."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from ...core.hosts import region_problem
from ..model import PushEvent
from . import detect
from .base import WireModel, checked_place, checked_tag, lenient_digest, parse_time, validate
from .traits import Traits

NAME = "acr-webhook"
TRAITS = Traits(unsigned=True)  # no signature the product checks: the token vouches, the registry confirms the digest


class PushData(WireModel):
    digest: str | None = None
    pushed_at: str | None = None
    tag: str | None = None


class Repository(WireModel):
    name: str = Field(min_length=1)
    namespace: str = Field(min_length=1)
    region: str | None = None
    repo_full_name: str | None = None
    repo_type: str | None = None


class AcrWebhook(WireModel):
    push_data: PushData
    repository: Repository


looks_like = detect.acr_webhook


def parse(raw: dict[str, Any]) -> PushEvent:
    body = validate(AcrWebhook, raw, source=NAME)
    repo = body.repository
    full = repo.repo_full_name or f"{repo.namespace}/{repo.name}"
    tag = checked_tag(body.push_data.tag, source=NAME)
    # Free text in an unsigned payload, and the worker builds the ACR API's host from it.
    region = checked_place(repo.region, region_problem, source=NAME, field="repository.region")
    # A malformed digest does not lose a push whose tag is valid: the webhook resolves the tag with the
    # registry before planning (or deploys by tag), and the reply carries the warning.
    digest, warning = lenient_digest(body.push_data.digest)
    # The payload has no id: derive one so that a redelivery is recognised as the same event.
    basis = f"{region}|{full}|{tag}|{digest}|{body.push_data.pushed_at}"
    return PushEvent(
        repository=full.lower(),
        tag=tag,
        digest=digest,
        source=NAME,
        event_id="acrwh-" + hashlib.sha256(basis.encode()).hexdigest()[:24],
        time=parse_time(body.push_data.pushed_at, region=region),
        region=region,
        warning=f"push_data.digest {warning}: ignored, the tag is deployed" if warning else None,
    )
