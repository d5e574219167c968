"""Function Compute 3.0 HTTP trigger events: unwrap to method, headers, query and the raw body."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from ...core.errors import EventError
from . import detect
from .base import WireModel, validate

NAME = "fc-http"


def reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """What an HTTP-trigger function returns: a JSON body with its status."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "isBase64Encoded": False,
        "body": json.dumps(body, default=str),
    }


class HttpContext(WireModel):
    method: str = "POST"
    path: str = "/"
    sourceIp: str | None = None


class RequestContext(WireModel):
    requestId: str | None = None
    http: HttpContext = Field(default_factory=HttpContext)


class FcHttpEvent(WireModel):
    version: str | None = None
    rawPath: str | None = None
    body: str | None = ""
    isBase64Encoded: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    queryParameters: dict[str, str] = Field(default_factory=dict)
    requestContext: RequestContext = Field(default_factory=RequestContext)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lowercased names
    query: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None


looks_like = detect.fc_http


def parse(raw: dict[str, Any]) -> HttpRequest:
    event = validate(FcHttpEvent, raw, source=NAME)
    body_text = event.body or ""
    if event.isBase64Encoded:
        try:
            body = base64.b64decode(body_text, validate=True)
        except (binascii.Error, ValueError):
            raise EventError("isBase64Encoded is true but body is not base64", source=NAME, field="body") from None
    else:
        body = body_text.encode("utf-8")
    return HttpRequest(
        method=event.requestContext.http.method.upper(),
        path=event.rawPath or event.requestContext.http.path,
        body=body,
        headers={k.lower(): v for k, v in event.headers.items()},
        query=dict(event.queryParameters),
        request_id=event.requestContext.requestId,
    )
