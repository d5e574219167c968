"""What a request means and what the answer looks like (moto's `responses.py`): the action and version
from an RPC request in either signature style, its parameters from the query and a form body, the
API's checks of flattened keys, and the JSON bodies of answers and errors. Transport-free: the HTTP
server and the in-process transport hook both call `WireLayer.handle`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .acr_gates import ACR_ACTIONS as GATE_ACR_ACTIONS
from .ess import ESS_VERSION
from .exceptions import ApiError, invalid_parameter, missing
from .group import new_request_id
from .models import FakeEci
from .signing import DEFAULT_CREDENTIALS, Authenticator

API_VERSION = "2018-08-08"
ACR_VERSION = "2018-12-01"
ACR_ACTIONS = frozenset({"GetAuthorizationToken"}) | GATE_ACR_ACTIONS  # gates: scan / signature lookups
DEFAULT_HOST_ID = "eci.fake.local"
_V2_SYSTEM = {
    "Action",
    "Version",
    "Format",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
    "AccessKeyId",
    "Signature",
    "SecurityToken",
    "SignatureType",
}
# One segment of a flattened key: a parameter name, or a 1-based list index.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_INDEX = re.compile(r"^[1-9][0-9]*$")


@dataclass
class WireResponse:
    status: int
    body: dict[str, object]

    def encoded(self) -> bytes:
        return json.dumps(self.body).encode()


def check_flattened(params: Mapping[str, str]) -> None:
    """Refuses keys the API cannot map to its request model, as it does (InvalidParameter), instead of
    storing a dict where a list belongs: `AcrRegistryInfo.1Domain.1` (a legacy SDK setter's bug),
    `Container..Name`, `Tag.0.Key`, or one key used both as a value and as a list or object."""
    shapes: dict[str, str] = {}
    for key in params:
        parts = key.split(".")
        for i, part in enumerate(parts):
            kind = "index" if _INDEX.match(part) else "name" if _NAME.match(part) else ""
            if not kind or (i == 0 and kind == "index"):
                raise invalid_parameter(f"The specified parameter {key!r} is not valid: malformed segment {part!r}.")
            parent = ".".join(parts[:i])
            child = "leaf" if i == len(parts) - 1 else kind
            if i:  # what the parent holds: list items, named fields, or a value
                holds = "list" if kind == "index" else "object"
                seen = shapes.setdefault(parent, holds)
                if seen != holds:
                    raise invalid_parameter(f"The specified parameter {key!r} is not valid: {parent} is a {seen}.")
            if child == "leaf":
                seen = shapes.setdefault(key, "value")
                if seen != "value":
                    raise invalid_parameter(f"The specified parameter {key!r} is not valid: it is a {seen}.")


class WireLayer:
    """One API request in, one answer out. `credentials` / `strict` as in `signing.Authenticator`."""

    def __init__(
        self,
        backend: FakeEci,
        credentials: Mapping[str, str] | None = None,
        *,
        strict: bool = False,
        host_id: str = DEFAULT_HOST_ID,
    ) -> None:
        self.backend = backend
        self.auth = Authenticator(credentials, strict=strict)
        self.host_id = host_id

    @property
    def credentials(self) -> dict[str, str]:
        return self.auth.credentials

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        form: Mapping[str, str] | None = None,
    ) -> WireResponse:
        h = {k.lower(): v for k, v in headers.items()}
        request_id = new_request_id()  # every answer has its own, refusals included
        host_id = h.get("host", "").split(":")[0] or self.host_id
        every = {**query, **(form or {})}
        try:
            action = h.get("x-acs-action") or every.get("Action")
            if not action:
                raise missing("Action")
            version = h.get("x-acs-version") or every.get("Version")
            # Auto Scaling (fake/ess.py) is told apart by its API version: both SDKs name the host.
            service = "ess" if version == ESS_VERSION else "eci"
            if service == "eci" and version != (ACR_VERSION if action in ACR_ACTIONS else API_VERSION):
                raise ApiError(400, "InvalidVersion", f"Specified parameter Version {version} is not valid.")
            if h.get("authorization", "").startswith("ACS3-"):
                self.auth.check_acs3(method, path, query, h, body)
            elif "Signature" in every:
                self.auth.check_v2(method, every)
            else:
                raise missing("Signature")
            params = {k: v for k, v in every.items() if k not in _V2_SYSTEM}
            check_flattened(params)
            return WireResponse(200, self.backend.handle(action, params, request_id, service=service))
        except ApiError as err:
            return WireResponse(err.status, err.body(request_id, host_id))


__all__ = ["DEFAULT_CREDENTIALS", "WireLayer", "WireResponse", "check_flattened"]
