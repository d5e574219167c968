"""Which wire format a decoded payload is, without importing the format's models (pydantic model
classes cost milliseconds each at a cold start; only the one format that arrived is loaded)."""

from __future__ import annotations

from typing import Any


def acr_eventbridge(raw: Any) -> bool:
    return isinstance(raw, dict) and "specversion" in raw and "source" in raw and "type" in raw


def distribution(raw: Any) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("events"), list)


def harbor(raw: Any) -> bool:
    return isinstance(raw, dict) and "event_data" in raw and "type" in raw


def dockerhub(raw: Any) -> bool:
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("push_data"), dict)
        and isinstance(raw.get("repository"), dict)
        and "repo_name" in raw["repository"]
    )


def acr_webhook(raw: Any) -> bool:
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("push_data"), dict)
        and isinstance(raw.get("repository"), dict)
        and "namespace" in raw["repository"]
    )


def generic(raw: Any) -> bool:
    return isinstance(raw, dict) and "image" in raw


def fc_timer(raw: Any) -> bool:
    return isinstance(raw, dict) and "triggerName" in raw and "triggerTime" in raw


def fc_http(raw: Any) -> bool:
    return isinstance(raw, dict) and "requestContext" in raw and ("rawPath" in raw or "version" in raw)


# Order matters where shapes overlap: Docker Hub's and ACR's webhooks both have push_data + repository.
BODY_FORMATS = (acr_eventbridge, distribution, harbor, dockerhub, acr_webhook, generic)
