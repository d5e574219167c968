"""Which wire format a decoded payload is, without importing the format's models (pydantic model
classes cost milliseconds each at a cold start; only the one format that arrived is loaded).

Detection goes by what a payload *is*: its content type when the sender set a telling one, the
CloudEvents `source` and `type` attributes, and each format's required fields. Never by elimination:
a payload that two formats claim, or none, is an error that names what was seen, not a guess.
"""

from __future__ import annotations

import re
from typing import Any

CLOUDEVENTS_JSON = "application/cloudevents+json"
# Distribution <= 2.8 sends v1, Distribution 3 sends v2 (docs/content/about/notifications.md); same body.
DISTRIBUTION_TYPES = frozenset(
    {"application/vnd.docker.distribution.events.v1+json", "application/vnd.docker.distribution.events.v2+json"}
)
# Harbor's CloudEvents and CDEvents formatters both set source = /projects/<id>/webhook/policies/<id>
# (src/pkg/notifier/formats/cloudevents.go, func source).
_HARBOR_SOURCE = re.compile(r"^/projects/\d+/webhook/policies/\d+$")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def cloudevent(raw: Any) -> bool:
    """CloudEvents 1.0 structured mode: the required context attributes are all there."""
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("specversion"), str)
        and isinstance(raw.get("type"), str)
        and isinstance(raw.get("source"), str)
        and "id" in raw
    )


def acr_eventbridge(raw: Any) -> bool:
    return cloudevent(raw) and raw["source"] == "acs.cr"


def harbor_cloudevent(raw: Any) -> bool:
    return cloudevent(raw) and bool(_HARBOR_SOURCE.match(raw["source"]))


def distribution(raw: Any) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("events"), list)


def harbor(raw: Any) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("event_data"), dict) and isinstance(raw.get("type"), str)


def dockerhub(raw: Any) -> bool:
    # Docker Hub names the repository `repo_name` (and sends `callback_url`); ACR never does.
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("push_data"), dict)
        and isinstance(raw.get("repository"), dict)
        and "repo_name" in raw["repository"]
    )


def acr_webhook(raw: Any) -> bool:
    # ACR's repository has a namespace (and region, repo_full_name), never Docker Hub's repo_name.
    repo = raw.get("repository") if isinstance(raw, dict) else None
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("push_data"), dict)
        and isinstance(repo, dict)
        and "namespace" in repo
        and "repo_name" not in repo
    )


def quay(raw: Any) -> bool:
    # Quay's repo_push notification: updated_tags (a list, or a tag -> image id map in older Quay).
    return (
        isinstance(raw, dict)
        and isinstance(raw.get("updated_tags"), (list, dict))
        and isinstance(raw.get("repository"), str)
        and isinstance(raw.get("docker_url"), str)
    )


def github(raw: Any) -> bool:
    # GitHub's registry_package (and package) webhook events: action + the package with its version.
    if not isinstance(raw, dict) or not isinstance(raw.get("action"), str):
        return False
    package = raw.get("registry_package", raw.get("package"))
    return isinstance(package, dict) and "package_version" in package


def generic(raw: Any) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("image"), str)


def fc_timer(raw: Any) -> bool:
    return isinstance(raw, dict) and "triggerName" in raw and "triggerTime" in raw


def fc_http(raw: Any) -> bool:
    return isinstance(raw, dict) and "requestContext" in raw and ("rawPath" in raw or "version" in raw)


# Each test names a format by its own required fields; exactly one may match (see `identify`).
BODY_FORMATS = (distribution, harbor, dockerhub, acr_webhook, quay, github, generic)


class Unidentified(Exception):
    """Why a payload is none of the formats (or more than one): a sentence for a 400 reply."""


def identify(raw: Any, content_type: str | None = None) -> str:
    """The adapter module's name for one decoded body, or `Unidentified` with the reason."""
    if not isinstance(raw, dict):
        raise Unidentified(f"expected a JSON object, got {type(raw).__name__}")
    kind = media_type(content_type)
    if kind == CLOUDEVENTS_JSON or "specversion" in raw:  # specversion is what marks a CloudEvent
        if not cloudevent(raw):
            missing = [k for k in ("specversion", "id", "source", "type") if k not in raw]
            raise Unidentified(f"Content-Type is {CLOUDEVENTS_JSON} but the CloudEvent lacks {', '.join(missing)}")
        if acr_eventbridge(raw):
            return "acr_eventbridge"
        if harbor_cloudevent(raw):
            return "harbor"
        raise Unidentified(f"unsupported CloudEvent type {raw['type']} from {raw['source']}")
    if kind in DISTRIBUTION_TYPES:
        return "distribution"  # the model names any field that is missing
    matches = [test.__name__ for test in BODY_FORMATS if test(raw)]
    if len(matches) == 1:
        return matches[0]
    keys = ", ".join(sorted(map(str, raw))[:8])
    if matches:
        raise Unidentified(f"ambiguous event: looks like {' and '.join(matches)} (keys: {keys})")
    raise Unidentified(f"unknown event format (keys: {keys})")
