"""Request authentication as the API does it: both signature styles, credentials, replay and clock skew.

- ACS3-HMAC-SHA256 (tea SDKs >= 0.4, the Node SDK's default): `Authorization` header over the canonical
  request (method, path, sorted query, signed headers, body hash).
- HMAC-SHA1 "v2" RPC signatures (legacy `aliyun-python-sdk-core`, `signature_algorithm='v2'`): over
  every parameter, whether it came in the query or in a form body (the legacy SDK POSTs forms).

Credentials follow moto: any access key is accepted by default (the fake cannot know its secret, so
its signature is not checked); the keys the fake knows (the default pair, `--access-key ID:SECRET`)
are verified; `strict=True` refuses every other key (`InvalidAccessKeyId.NotFound`).
A nonce may be used once within the 15-minute window the timestamp must fall in (`SignatureNonceUsed`,
`InvalidTimeStamp.Expired`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from urllib.parse import quote

from .exceptions import (
    ApiError,
    access_key_not_found,
    missing,
    nonce_used,
    signature_mismatch,
    timestamp_expired,
    timestamp_format,
)

DEFAULT_CREDENTIALS = {"fake-access-key-id": "fake-access-key-secret"}
SKEW_SECONDS = 15 * 60
NONCE_MEMORY = 100_000  # nonces remembered at most (oldest forgotten first); they expire after the window anyway
V2_SIGNATURE = "Signature"


def _percent(text: str) -> str:
    # RFC 3986 unreserved characters only, as both SDKs encode.
    return quote(text, safe="~")


class Authenticator:
    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        strict: bool = False,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = dict(DEFAULT_CREDENTIALS if credentials is None else credentials)
        self.strict = strict
        self.wall = wall
        self._nonces: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, access_key_id: str, secret: str) -> None:
        self.credentials[access_key_id] = secret

    def _secret(self, access_key_id: str) -> str | None:
        secret = self.credentials.get(access_key_id)
        if secret is None and (self.strict or not access_key_id):
            raise access_key_not_found()
        return secret

    # ---- replay and clock ----

    def _fresh(self, access_key_id: str, timestamp: str | None, nonce: str | None, *, nonce_key: str) -> None:
        if not timestamp:
            raise missing("Timestamp")
        try:
            when = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise timestamp_format(timestamp) from None
        now = self.wall()
        if abs(now - when) > SKEW_SECONDS:
            raise timestamp_expired(timestamp)
        if not nonce:
            raise missing(nonce_key)
        with self._lock:
            while self._nonces and (
                next(iter(self._nonces.values())) < now - 2 * SKEW_SECONDS or len(self._nonces) >= NONCE_MEMORY
            ):
                self._nonces.popitem(last=False)
            key = (access_key_id, nonce)
            if key in self._nonces:
                raise nonce_used()
            self._nonces[key] = now

    # ---- the two signature styles ----

    def check_acs3(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> str:
        """Verifies an ACS3-HMAC-SHA256 request (headers lower-cased); returns the access key id."""
        auth = headers["authorization"]
        algorithm, _, rest = auth.partition(" ")
        if algorithm != "ACS3-HMAC-SHA256":
            raise ApiError(400, "InvalidSignatureMethod", f"Specified signature method {algorithm} is not supported.")
        fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        key_id = fields.get("Credential", "")
        secret = self._secret(key_id)
        payload_hash = headers.get("x-acs-content-sha256", "")
        if payload_hash != hashlib.sha256(body).hexdigest():
            raise ApiError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        signed = fields.get("SignedHeaders", "").split(";")
        canonical_query = "&".join(f"{_percent(k)}={_percent(query[k])}" for k in sorted(query))
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
        canonical = (
            f"{method}\n{path or '/'}\n{canonical_query}\n{canonical_headers}\n{';'.join(signed)}\n{payload_hash}"
        )
        to_sign = f"ACS3-HMAC-SHA256\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        if secret is not None:
            expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, fields.get("Signature", "")):
                raise signature_mismatch(to_sign)
        self._fresh(key_id, headers.get("x-acs-date"), headers.get("x-acs-signature-nonce"), nonce_key="SignatureNonce")
        return key_id

    def check_v2(self, method: str, params: Mapping[str, str]) -> str:
        """Verifies an HMAC-SHA1 RPC request over all its parameters (query and form); returns the key id."""
        if V2_SIGNATURE not in params:
            raise missing("Signature")
        key_id = params.get("AccessKeyId", "")
        secret = self._secret(key_id)
        method_name = params.get("SignatureMethod", "HMAC-SHA1")
        if method_name != "HMAC-SHA1":
            raise ApiError(400, "InvalidSignatureMethod", f"Specified signature method {method_name} is not supported.")
        pairs = sorted((k, v) for k, v in params.items() if k != V2_SIGNATURE)
        canonical = "&".join(f"{_percent(k)}={_percent(v)}" for k, v in pairs)
        to_sign = f"{method}&%2F&{_percent(canonical)}"
        if secret is not None:
            digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
            if not hmac.compare_digest(base64.b64encode(digest).decode(), params[V2_SIGNATURE]):
                raise signature_mismatch(to_sign)
        self._fresh(key_id, params.get("Timestamp"), params.get("SignatureNonce"), nonce_key="SignatureNonce")
        return key_id
