"""The fake's wire layer: reads what the real SDK sends and answers in the API's JSON shapes.

Both signature styles are checked against the configured test credentials, so a wrong secret is
refused the way the API refuses it (and the SDK raises its real exception).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from .acr_gates import ACR_ACTIONS as GATE_ACR_ACTIONS
from .backend import ApiError, FakeEci

API_VERSION = "2018-08-08"
ACR_VERSION = "2018-12-01"
ACR_ACTIONS = frozenset({"GetAuthorizationToken"}) | GATE_ACR_ACTIONS
DEFAULT_CREDENTIALS = {"fake-access-key-id": "fake-access-key-secret"}
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


@dataclass
class WireResponse:
    status: int
    body: dict[str, object]

    def encoded(self) -> bytes:
        return json.dumps(self.body).encode()


class WireLayer:
    def __init__(self, backend: FakeEci, credentials: Mapping[str, str] | None = None) -> None:
        self.backend = backend
        self.credentials = dict(DEFAULT_CREDENTIALS if credentials is None else credentials)

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
        try:
            action = h.get("x-acs-action") or query.get("Action")
            if not action:
                raise ApiError(400, "MissingParameter.Action", "The input parameter Action is not supplied.")
            version = h.get("x-acs-version") or query.get("Version")
            if version != (ACR_VERSION if action in ACR_ACTIONS else API_VERSION):
                raise ApiError(400, "InvalidVersion", f"Specified parameter Version {version} is not valid.")
            if "authorization" in h and h["authorization"].startswith("ACS3-"):
                self._check_acs3(method, path, query, h, body)
            elif "Signature" in query:
                self._check_v2(method, query)
            else:
                raise ApiError(400, "MissingParameter.Signature", "The request is not signed.")
            params = {k: v for k, v in {**query, **(form or {})}.items() if k not in _V2_SYSTEM}
            return WireResponse(200, self.backend.handle(action, params))
        except ApiError as err:
            rid = getattr(err, "request_id", None) or "00000000-0000-0000-0000-000000000000"
            return WireResponse(
                err.status, {"Code": err.code, "Message": err.message, "RequestId": rid, "HostId": "eci.fake.local"}
            )

    def _secret(self, access_key_id: str) -> str:
        secret = self.credentials.get(access_key_id)
        if secret is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        return secret

    def _check_acs3(self, method: str, path: str, query: Mapping[str, str], h: Mapping[str, str], body: bytes) -> None:
        auth = h["authorization"]
        algorithm, _, rest = auth.partition(" ")
        if algorithm != "ACS3-HMAC-SHA256":
            raise ApiError(400, "InvalidSignatureMethod", f"{algorithm} is not supported by the fake")
        fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        secret = self._secret(fields.get("Credential", ""))
        signed = fields.get("SignedHeaders", "").split(";")
        payload_hash = h.get("x-acs-content-sha256", "")
        if payload_hash != hashlib.sha256(body).hexdigest():
            raise ApiError(400, "IncompleteSignature", "x-acs-content-sha256 does not match the body")
        canonical_query = "&".join(f"{k}={quote(query[k], safe='~')}" for k in sorted(query))
        canonical_headers = "".join(f"{name}:{h.get(name, '').strip()}\n" for name in signed)
        canonical = (
            f"{method}\n{path or '/'}\n{canonical_query}\n{canonical_headers}\n{';'.join(signed)}\n{payload_hash}"
        )
        to_sign = f"ACS3-HMAC-SHA256\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            raise ApiError(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")

    def _check_v2(self, method: str, query: Mapping[str, str]) -> None:
        secret = self._secret(query.get("AccessKeyId", ""))
        pairs = sorted((k, v) for k, v in query.items() if k != "Signature")
        canonical = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs)
        to_sign = f"{method}&%2F&{quote(canonical, safe='~')}"
        digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), query["Signature"]):
            raise ApiError(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
