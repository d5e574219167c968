"""Who may call the webhook: the shared token (query `token=` or `Authorization: Bearer`), or, for
the generic CI call, an HMAC-SHA256 over `<timestamp>.<body>` inside a replay window."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict

from .adapters.fc_http import HttpRequest
from .errors import AuthenticationError
from .secrets import Secret

TIMESTAMP_HEADER = "x-eci-redeploy-timestamp"
SIGNATURE_HEADER = "x-eci-redeploy-signature"


def presented_token(request: HttpRequest) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.query.get("token")


def check_token(request: HttpRequest, expected: Secret | None) -> None:
    if expected is None:
        raise AuthenticationError(
            "the webhook token is not configured (ECI_REDEPLOY_WEBHOOK_TOKEN): refusing all calls"
        )
    given = presented_token(request)
    if not given or not hmac.compare_digest(given.encode(), expected.reveal().encode()):
        raise AuthenticationError("missing or wrong webhook token")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class ReplayGuard:
    """Signatures seen inside the window (per instance; the async task id de-duplicates across instances)."""

    def __init__(self, capacity: int = 4096) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def first_time(self, signature: str, now: float, window: int) -> bool:
        with self._lock:
            for key, seen_at in list(self._seen.items()):
                if now - seen_at <= window:
                    break
                del self._seen[key]
            if signature in self._seen:
                return False
            self._seen[signature] = now
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return True


def check_hmac(
    request: HttpRequest, secret: Secret | None, guard: ReplayGuard, *, window: int, now: float | None = None
) -> None:
    if secret is None:
        raise AuthenticationError("the HMAC secret is not configured (ECI_REDEPLOY_WEBHOOK_HMAC_SECRET)")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        raise AuthenticationError(f"a signed call needs the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers")
    try:
        sent = float(timestamp)
    except ValueError:
        raise AuthenticationError(f"{TIMESTAMP_HEADER} is not a Unix time") from None
    now = time.time() if now is None else now
    if abs(now - sent) > window:
        raise AuthenticationError(f"the request is outside the {window}-second replay window")
    expected = sign(secret.reveal(), timestamp, request.body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise AuthenticationError("the signature does not match the body")
    if not guard.first_time(signature, now, window):
        raise AuthenticationError("this signed request was already received (replay)")
