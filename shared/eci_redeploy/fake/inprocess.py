"""The fake without a socket: the real SDK client, intercepted at its transport.

moto hooks botocore's `before-send`; the tea SDKs' equivalent is the one function every call goes
through once the request is built and signed: `darabonba.core.DaraCore.do_action(request, runtime)`
(and `async_do_action` for the SDK's `*_async` methods)
(tea-openapi >= 0.4; `Tea.core.TeaCore.do_action` in older releases), which returns the HTTP
response the SDK then parses. `inprocess_factory(backend)` returns real `alibabacloud_eci20180808`
clients whose endpoint is a host name reserved for one fake (`<n>.fake-eci.invalid`); the hook answers
requests for such hosts from the fake's `WireLayer` (the same code the HTTP server runs) and passes
every other request to the original transport. So signing, serialisation, the signature check, error
bodies and the SDK's response parsing and exceptions all run; only the socket is skipped.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .models import FakeEci
from .responses import WireLayer
from .signing import DEFAULT_CREDENTIALS

HOST_SUFFIX = ".fake-eci.invalid"  # .invalid never resolves (RFC 2606): a missed hook cannot reach a network
_fakes: dict[str, WireLayer] = {}
_ids = itertools.count(1)
_lock = threading.Lock()
_installed: dict[Any, Any] = {}


def register(wire: WireLayer) -> str:
    """Serves `wire` at a new in-process host; returns the endpoint (host) for an SDK Config."""
    install()
    host = f"{next(_ids)}{HOST_SUFFIX}"
    with _lock:
        _fakes[host] = wire
    return host


def unregister(host: str) -> None:
    with _lock:
        _fakes.pop(host, None)


def _answer(request: Any) -> Any | None:
    headers: Mapping[str, str] = request.headers or {}
    host = str(headers.get("host", "")).split(":")[0]
    wire = _fakes.get(host)
    if wire is None:
        return None
    body = request.body
    if body is None:
        raw = b""
    elif isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode()
    else:  # a stream (binary bodies): read it as the HTTP layer would
        raw = body.read()
    query = {str(k): "" if v is None else str(v) for k, v in (request.query or {}).items()}
    form = None
    content_type = str({k.lower(): v for k, v in headers.items()}.get("content-type", ""))
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
    path = urlsplit(request.pathname or "/").path or "/"
    result = wire.handle(request.method.upper(), path, query, dict(headers), raw, form)
    return result


def install() -> None:
    """Wraps the SDK transports once per process (idempotent); requests to other hosts are untouched."""
    with _lock:
        if _installed:
            return
        targets = []
        try:
            from darabonba.core import DaraCore
            from darabonba.response import DaraResponse

            targets.append((DaraCore, DaraResponse))
        except ImportError:  # pragma: no cover - older SDK stacks
            pass
        try:
            from Tea.core import TeaCore
            from Tea.response import TeaResponse

            targets.append((TeaCore, TeaResponse))
        except ImportError:  # pragma: no cover
            pass
        for core, response_type in targets:

            def respond(result: Any, response_type: Any = response_type) -> Any:
                response = response_type()
                response.status_code = result.status
                response.status_message = "OK" if result.status < 400 else "Error"
                response.headers = {"content-type": "application/json;charset=utf-8"}
                response.body = result.encoded()
                return response

            original = core.__dict__["do_action"].__func__  # staticmethods
            original_async = core.__dict__["async_do_action"].__func__

            def do_action(request: Any, runtime_option: Any = None, _original: Any = original, _respond=respond) -> Any:
                result = _answer(request)
                return _original(request, runtime_option) if result is None else _respond(result)

            async def async_do_action(
                request: Any, runtime_option: Any = None, _original: Any = original_async, _respond=respond
            ) -> Any:
                result = _answer(request)
                return await _original(request, runtime_option) if result is None else _respond(result)

            _installed[core] = (original, original_async)
            core.do_action = staticmethod(do_action)
            core.async_do_action = staticmethod(async_do_action)


class InProcessClients:
    """`factory(region)` -> a real ECI SDK client served by `backend` without a socket."""

    def __init__(
        self,
        backend: FakeEci,
        credentials: Mapping[str, str] | None = None,
        *,
        access_key: tuple[str, str] | None = None,
        signature_algorithm: str | None = None,
    ) -> None:
        self.backend = backend
        self.wire = WireLayer(backend, credentials)
        self.host = register(self.wire)
        # The host serves this fake as long as the factory lives (a gateway holds it): no leak across tests.
        weakref.finalize(self, unregister, self.host)
        self.access_key = access_key or next(iter(DEFAULT_CREDENTIALS.items()))
        self.signature_algorithm = signature_algorithm

    def __call__(self, region: str) -> Any:
        from alibabacloud_eci20180808.client import Client
        from alibabacloud_tea_openapi import models as open_api_models

        key, secret = self.access_key
        client = Client(
            open_api_models.Config(
                access_key_id=key,
                access_key_secret=secret,
                region_id=region,
                endpoint=self.host,
                protocol="http",
                signature_algorithm=self.signature_algorithm,
            )
        )
        client._fake_eci_clients = self  # keeps the host registered while a client can still call it
        return client

    def ess(self, region: str) -> Any:
        """A real Auto Scaling (`alibabacloud-ess20220222`) client served by the same fake (fake/ess.py)."""
        from alibabacloud_ess20220222.client import Client
        from alibabacloud_tea_openapi import models as open_api_models

        key, secret = self.access_key
        client = Client(
            open_api_models.Config(
                access_key_id=key, access_key_secret=secret, region_id=region, endpoint=self.host, protocol="http"
            )
        )
        client._fake_eci_clients = self
        return client


def inprocess_factory(backend: FakeEci, **options: Any) -> InProcessClients:
    return InProcessClients(backend, **options)
