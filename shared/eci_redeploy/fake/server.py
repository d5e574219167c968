"""The fake ECI over HTTP (werkzeug), in a thread for tests or in the foreground for `fake-eci`.

Besides the API at `/`, a small control API (moto's `/moto-api` idea) lets another process inject
faults and read what was called: `POST /_fake/faults`, `GET /_fake/calls`, `GET /_fake/groups`.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .backend import FakeEci, Faults
from .wire import DEFAULT_CREDENTIALS, WireLayer


class _QuietHandler(WSGIRequestHandler):
    # The access log would print query strings, and ECI requests carry registry passwords there.
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


def make_app(wire: WireLayer) -> Any:
    backend = wire.backend

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        if request.path.startswith("/_fake/"):
            return _control(backend, request)
        form = request.form.to_dict() if request.mimetype == "application/x-www-form-urlencoded" else None
        result = wire.handle(
            request.method, request.path, request.args.to_dict(), dict(request.headers), request.get_data(), form
        )
        return Response(result.encoded(), status=result.status, content_type="application/json;charset=utf-8")

    return app


def _control(backend: FakeEci, request: Request) -> Response:
    if request.path == "/_fake/faults" and request.method == "POST":
        data = request.get_json(force=True) or {}
        options: dict[str, Any] = {k: tuple(v) if k == "actions" else v for k, v in data.items()}
        backend.faults = Faults(**options)
        return Response("{}", content_type="application/json")
    if request.path == "/_fake/calls":
        calls = [
            {
                "action": c.action,
                "params": c.params,
                "status": c.status,
                "code": c.code,
                "request_id": c.request_id,
                "wall": c.wall,
            }
            for c in backend.calls
        ]
        return Response(json.dumps(calls), content_type="application/json")
    if request.path == "/_fake/groups":
        with backend._lock:
            groups = [backend.group(gid).describe() for gid in list(backend.groups)]
        return Response(json.dumps({"ContainerGroups": groups}), content_type="application/json")
    return Response('{"Code": "NotFound"}', status=404, content_type="application/json")


class FakeEciServer:
    """`with FakeEciServer() as server:` then point the SDK at `server.endpoint`."""

    def __init__(
        self,
        backend: FakeEci | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        self.backend = backend or FakeEci()
        self.wire = WireLayer(self.backend, credentials)
        self._server: BaseWSGIServer = make_server(
            host, port, make_app(self.wire), threaded=True, request_handler=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"{self._server.host}:{self._server.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def credentials(self) -> tuple[str, str]:
        return next(iter(self.wire.credentials.items()))

    def start(self) -> FakeEciServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-eci", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeEciServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def seeded_backend(groups: Iterable[Mapping[str, Any]] = ()) -> FakeEci:
    backend = FakeEci()
    backend.seed(groups)
    return backend


def serve_forever(host: str, port: int, state_file: str | None, *, transition_seconds: float = 0.0) -> None:
    from ..state import dump_groups, load_state

    groups = dump_groups(load_state(state_file))["ContainerGroups"] if state_file else []
    backend = seeded_backend(groups)
    # A change keeps the group Pending / Updating / Restarting this long, so clients can see it in flight.
    backend.startup_seconds = backend.update_seconds = transition_seconds
    server = FakeEciServer(backend, host=host, port=port)
    key, secret = server.credentials
    print(
        f"fake ECI on http://{server.endpoint} ({len(groups)} group(s)); "
        f"sign with ALIBABA_CLOUD_ACCESS_KEY_ID={key} ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}; "
        f"ECI_REDEPLOY_ECI_ENDPOINT=http://{server.endpoint}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._server.server_close()


__all__ = ["DEFAULT_CREDENTIALS", "FakeEciServer", "make_app", "seeded_backend", "serve_forever"]
