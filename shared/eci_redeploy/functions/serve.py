"""`eci-redeploy serve`: the webhook function over real HTTP on this machine.

The same handler FC runs receives each request as an FC HTTP-trigger event; the hand-off goes to the
in-process single writer (execution/writer.py: one thread, a queue, retries with backoff) instead of an async
invocation of the worker function; ECI is the embedded fake unless --live.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from werkzeug.exceptions import ClientDisconnected
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from ..core.errors import ConfigError
from ..events.adapters import MAX_BODY
from . import push_worker as events
from . import webhook

# What werkzeug may still read of a refused body after the 413 has been written (see _BoundedDrain).
DRAIN_LIMIT = 1 << 20
_REFUSED = "eci_redeploy.refuse_body"
# Slow clients (docs/security.md, "Limits"): the request line and headers must arrive within
# HEADER_TIMEOUT seconds of the connection, the whole body within BODY_TIMEOUT of the headers (a 256 KiB
# body at 10 KiB/s), and at most MAX_CONNECTIONS connections are served at once; one more is answered
# 503 and closed without a thread. Deadlines, not idle timeouts: a byte every few seconds does not
# keep a connection open.
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
MAX_CONNECTIONS = 64
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _BoundedDrain:
    """The connection's read side. After the app answers, werkzeug drains what the client still sends
    (10 MB per read, up to 10 GB) so the client sees the 413 rather than a reset. For a body we refused
    that cost ~20 MB of RSS per connection and let one client keep a thread reading gigabytes: once the
    app refuses a body, reads come in 64 KiB pieces and stop after DRAIN_LIMIT (the client may then
    see a reset, as it would past werkzeug's own bound). Until then every read goes through unchanged."""

    def __init__(self, raw: Any, connection: Any = None, deadline: float | None = None) -> None:
        self._raw = raw
        self._connection = connection
        self.deadline = deadline  # time.monotonic() by which the current phase must be read
        self.refused = False
        self._drained = 0

    def _arm(self) -> None:
        """Each socket read may wait only until the phase's deadline (TimeoutError past it)."""
        if self.deadline is None or self._connection is None:
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("client too slow")
        self._connection.settimeout(left)

    def readline(self, size: int = -1) -> bytes:
        self._arm()
        return self._raw.readline(size)  # type: ignore[no-any-return]

    def readinto(self, buffer: Any) -> int:  # werkzeug's LimitedStream reads the body with it
        if self.refused:
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        self._arm()
        return self._raw.readinto(buffer)  # type: ignore[no-any-return]

    def read(self, size: int = -1) -> bytes:
        self._arm()
        if not self.refused:
            return self._raw.read(size)  # type: ignore[no-any-return]
        if self._drained >= DRAIN_LIMIT:
            return b""
        data: bytes = self._raw.read1(min(65536, DRAIN_LIMIT - self._drained))
        self._drained += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _QuietHandler(WSGIRequestHandler):
    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT

    def setup(self) -> None:
        super().setup()
        deadline = time.monotonic() + self.header_timeout  # the request line and headers
        self.rfile = _BoundedDrain(self.rfile, self.connection, deadline)  # type: ignore[assignment]

    def make_environ(self) -> Any:
        environ = super().make_environ()  # the headers are read: the body's deadline starts now
        self.rfile.deadline = time.monotonic() + self.body_timeout  # type: ignore[attr-defined]
        environ[_REFUSED] = self.rfile
        return environ

    def log(self, type: str, message: str, *args: Any) -> None:  # query strings may carry the token
        pass


class BoundedServer(ThreadedWSGIServer):
    """werkzeug's threaded server with a bound on open connections: past `max_connections`, a new one
    gets 503 at once and is closed, so slow clients cannot pile up threads."""

    def __init__(self, *args: Any, max_connections: int = MAX_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)  # type: ignore[misc]
        finally:
            self._slots.release()


def http_server(
    host: str,
    port: int,
    app: Any,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> BoundedServer:
    """The HTTP server `serve` runs (tests start it with smaller limits)."""
    handler = type("Handler", (_QuietHandler,), {"header_timeout": header_timeout, "body_timeout": body_timeout})
    return BoundedServer(host, port, app, handler=handler, max_connections=max_connections)


def _context(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        request_id=str(uuid.uuid4()),
        function=SimpleNamespace(name=name),
        region=os.environ.get("FC_REGION", "local"),
        account_id="local",
        credentials=None,
    )


class BodyTooLarge(Exception):
    pass


def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused before it is read past `limit`: by Content-Length up front, and by a
    counted read for chunked bodies (which have none), so a 50 MB post never sits in memory."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"body of {request.content_length} bytes is over the {limit}-byte limit")
    stream = request.stream  # werkzeug de-chunks and stops at Content-Length
    body = bytearray()
    while True:
        chunk = stream.read(min(65536, limit + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"body is over the {limit}-byte limit")


def fc_event(request: Request, body: bytes | None = None) -> dict[str, Any]:
    if body is None:
        body = request.get_data()
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "version": "v1",
        "rawPath": request.path,
        "body": text,
        "isBase64Encoded": encoded,
        "headers": {k: v for k, v in request.headers.items()},
        "queryParameters": request.args.to_dict(),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "http": {"method": request.method, "path": request.path, "sourceIp": request.remote_addr or ""},
        },
    }


def make_app(rules_file: Path, gateway: Any, *, budget: Any = None) -> Any:
    from ..execution.writer import RetryBudget, Writer
    from .runtime import rules_for

    def work(order: Any) -> Any:  # a rollout's next step goes back into this writer's queue
        return events.handle_work(
            order.model_dump_json().encode(),
            _context("worker"),
            default_rules=rules_file,
            gateway=gateway,
            dispatcher=dispatcher,
        )

    dispatcher = Writer(work, lambda: rules_for(rules_file), budget=budget or RetryBudget.from_env(os.environ))

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        if request.path == "/healthz":
            return Response('{"ok": true}', content_type="application/json")
        try:
            body = read_body(request, MAX_BODY)
        except (TimeoutError, ClientDisconnected):
            # The body's deadline passed (_BoundedDrain raises TimeoutError, which werkzeug's stream
            # reports as a disconnect), or the client went away: nothing of it is used.
            reply = json.dumps({"error": "the body did not arrive in time (docs/security.md, Limits)"})
            return Response(reply, status=408, content_type="application/json", headers={"Connection": "close"})
        except BodyTooLarge as exc:
            # The rest of the body stays unread: close the connection after a bounded drain.
            drain = request.environ.get(_REFUSED)
            if isinstance(drain, _BoundedDrain):
                drain.refused = True
            reply = json.dumps({"error": str(exc)})
            return Response(reply, status=413, content_type="application/json", headers={"Connection": "close"})
        result = webhook.handle(
            fc_event(request, body),
            _context("webhook"),
            default_rules=rules_file,
            dispatcher=dispatcher,
            gateway=gateway,
        )
        return Response(result["body"], status=result["statusCode"], headers=result.get("headers") or {})

    app.writer = dispatcher  # type: ignore[attr-defined]  # tests and benchmarks drain and stop it
    return app


def serve_forever(
    host: str,
    port: int,
    rules_file: str,
    *,
    state_file: str | None = None,
    live: bool = False,
    transition_seconds: float = 0.0,
) -> None:
    from ..clients.eci_model import load_state
    from .runtime import rules_for

    if not os.environ.get("ECI_REDEPLOY_WEBHOOK_TOKEN"):
        raise ConfigError("set ECI_REDEPLOY_WEBHOOK_TOKEN: the webhook refuses every call without it")
    path = Path(rules_file).resolve()
    os.environ["ECI_REDEPLOY_RULES"] = str(path)  # --rules wins, as the function's setting would
    rules = rules_for(path)  # fail now, not on the first push
    if live:
        from ..clients.eci import EciGateway

        gateway = EciGateway.from_env()
        target = gateway.label
    else:
        from ..fake.embedded import embedded_server, gateway_for

        fake = embedded_server(load_state(state_file) if state_file else [], transition_seconds=transition_seconds)
        gateway = gateway_for(fake)
        target = f"embedded fake ECI at {fake.url}"
    server = http_server(host, port, make_app(path, gateway))
    print(
        f"serving the webhook on http://{host}:{server.port}/ ({len(rules)} rule(s), {target})",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
