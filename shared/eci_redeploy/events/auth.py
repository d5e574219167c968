"""Who may call the webhook: the shared token (query `token=` or `Authorization: Bearer`), or, for
the generic CI call, an HMAC-SHA256 over `<timestamp>.<body>` inside a replay window. Which one a
request needs follows the kind of payload it carries once parsed, not the body's outer shape."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from ..core.errors import AuthenticationError
from ..core.secrets import Secret
from .adapters.fc_http import HttpRequest
from .adapters.traits import traits

TIMESTAMP_HEADER = "x-eci-redeploy-timestamp"
SIGNATURE_HEADER = "x-eci-redeploy-signature"
_UNIX_TIME = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")


def presented_token(request: HttpRequest) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.query.get("token")


def configured(secret: Secret | None) -> Secret | None:
    """A secret that is set to something: blank or whitespace-only counts as not configured (a stray
    space in a deploy variable must not become a token anyone can send)."""
    return secret if secret is not None and secret.reveal().strip() else None


def check_token(request: HttpRequest, expected: Secret | None) -> None:
    expected = configured(expected)
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
    secret = configured(secret)
    if secret is None:
        raise AuthenticationError("the HMAC secret is not configured (ECI_REDEPLOY_WEBHOOK_HMAC_SECRET)")
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        raise AuthenticationError(f"a signed call needs the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers")
    # Decimal ASCII seconds only: float() also takes "nan" (every comparison with NaN is false, so it
    # passed the window), "inf", "1e9" and other scripts' digits.
    if not _UNIX_TIME.fullmatch(timestamp):
        raise AuthenticationError(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
    sent = float(timestamp)
    if not math.isfinite(sent):
        raise AuthenticationError(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
    now = time.time() if now is None else now
    if abs(now - sent) > window:
        raise AuthenticationError(f"the request is outside the {window}-second replay window")
    expected = sign(secret.reveal(), timestamp, request.body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise AuthenticationError("the signature does not match the body")
    if not guard.first_time(signature, now, window):
        raise AuthenticationError("this signed request was already received (replay)")


def payload_kinds(parsed: Iterable[Any]) -> frozenset[str]:
    """The adapter behind each parsed item, whatever wrapped it (an array, an envelope, a batch)."""
    return frozenset(str(getattr(item, "source", None) or type(item).__name__) for item in parsed)


def authenticate(
    request: HttpRequest,
    kinds: frozenset[str] | None,
    *,
    token: Secret | None,
    hmac_secret: Secret | None,
    guard: ReplayGuard,
    window: int,
) -> None:
    """Decided by what the body turned out to hold, after parsing: every signed kind needs the HMAC,
    every other kind the token (a mixed batch needs both). `kinds` None: the body could not be read;
    the caller is still authenticated (by the signature it claims, else the token) before being told
    why, so that an anonymous caller learns nothing about the parser."""
    if kinds is None:
        claims_signature = TIMESTAMP_HEADER in request.headers or SIGNATURE_HEADER in request.headers
        signed, unsigned = claims_signature, not claims_signature
    else:  # each adapter declares whether its payloads need the HMAC (events/adapters/traits.py)
        needs = [traits(kind).needs_hmac for kind in kinds]
        signed, unsigned = any(needs), not all(needs)
    if signed:
        check_hmac(request, hmac_secret, guard, window=window)
    if unsigned:
        check_token(request, token)
