"""The fake ECI over HTTP (werkzeug), in a thread for tests or in the foreground for `fake-eci`.

Besides the API at `/`, a small control API (moto's `/moto-api` idea) lets another process inject
faults and read what was called: `POST /_fake/faults`, `GET /_fake/calls`, `GET /_fake/groups`.
It is for local tools only: a request with a browser's `Origin` header is refused (a web page must
not reconfigure a fake a developer runs), bodies must be `application/json` (a cross-site form
cannot send that without a preflight), unknown keys and out-of-range values (`FAULT_RANGES`) are a
400, and recorded registry passwords are masked.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .describe import describe_group
from .models import Call, FakeEci, Faults
from .responses import WireLayer
from .signing import DEFAULT_CREDENTIALS

FAULT_KEYS = {
    "throttle_share": (int, float),
    "throttle_count": (int,),
    "server_error_count": (int,),
    "delay_seconds": (int, float),
    "actions": (list,),
    "broken_images": (list,),
    "seed": (int,),
}
# Allowed ranges (inclusive) of the numeric keys; a value outside is a 400 naming the key.
FAULT_RANGES: dict[str, tuple[float, float]] = {
    "throttle_share": (0.0, 1.0),
    "throttle_count": (0, sys.maxsize),
    "server_error_count": (0, sys.maxsize),
    "delay_seconds": (0.0, 60.0),
}
MASK = "******"


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


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def _refusal(status: int, code: str, message: str) -> Response:
    return _json({"Code": code, "Message": message}, status)


def masked_params(params: dict[str, str]) -> dict[str, str]:
    """A call's parameters with every registry password (ImageRegistryCredential.N.Password) masked."""
    return {k: MASK if k.rsplit(".", 1)[-1].lower() == "password" else v for k, v in params.items()}


def _call_view(c: Call) -> dict[str, Any]:
    return {
        "action": c.action,
        "params": masked_params(c.params),
        "status": c.status,
        "code": c.code,
        "request_id": c.request_id,
        "wall": c.wall,
    }


def _check_range(key: str, value: Any) -> None:
    if key not in FAULT_RANGES:
        return
    low, high = FAULT_RANGES[key]
    # json.loads reads 1e999 as inf and accepts NaN / Infinity: none of them is in a range.
    finite = not isinstance(value, float) or math.isfinite(value)
    if not (finite and low <= value <= high):
        allowed = f"{low:g}..{high:g}" if isinstance(low, float) else f"an integer {low}..{high}"
        raise ValueError(f"{key}: {value!r} is out of range (allowed: {allowed})")


def _faults_from(data: Any) -> Faults:
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    unknown = sorted(set(data) - set(FAULT_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(FAULT_KEYS))}")
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, FAULT_KEYS[key]):
            raise ValueError(f"{key}: {value!r} is not a {' or '.join(t.__name__ for t in FAULT_KEYS[key])}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key}: every item must be a string")
        _check_range(key, value)
    options: dict[str, Any] = {k: tuple(v) if k == "actions" else v for k, v in data.items()}
    return Faults(**options)


def _control(backend: FakeEci, request: Request) -> Response:
    if "Origin" in request.headers:
        return _refusal(403, "Forbidden.Origin", "the control API does not answer browsers (Origin header present)")
    if request.path == "/_fake/faults":
        if request.method != "POST":
            return _refusal(405, "MethodNotAllowed", "POST a JSON object to /_fake/faults")
        if request.mimetype != "application/json":
            return _refusal(415, "UnsupportedMediaType", "the body must be sent as Content-Type: application/json")
        try:
            faults = _faults_from(json.loads(request.get_data() or b"null"))
        except ValueError as err:  # json.JSONDecodeError is a ValueError
            return _refusal(400, "InvalidParameter", f"/_fake/faults: {err}")
        backend.faults = faults
        return _json({})
    if request.method != "GET":
        return _refusal(405, "MethodNotAllowed", f"{request.path} answers GET only")
    if request.path == "/_fake/calls":
        with backend._lock:
            calls = list(backend.calls)
        return _json([_call_view(c) for c in calls])
    if request.path == "/_fake/groups":
        with backend._lock:
            groups = [describe_group(backend.group(gid)) for gid in list(backend.groups)]
        return _json({"ContainerGroups": groups})
    return _refusal(404, "NotFound", f"no control endpoint {request.path}")


class FakeEciServer:
    """`with FakeEciServer() as server:` then point the SDK at `server.endpoint`."""

    def __init__(
        self,
        backend: FakeEci | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: Mapping[str, str] | None = None,
        strict_credentials: bool = False,
    ) -> None:
        self.backend = backend or FakeEci()
        self.wire = WireLayer(self.backend, credentials, strict=strict_credentials)
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


def parse_access_keys(values: Iterable[str]) -> dict[str, str]:
    """`--access-key ID:SECRET` values as a credentials map (the default pair stays known)."""
    keys = dict(DEFAULT_CREDENTIALS)
    for value in values:
        key_id, sep, secret = value.partition(":")
        if not sep or not key_id or not secret:
            raise ValueError("--access-key takes ID:SECRET (both non-empty)")
        keys[key_id] = secret
    return keys


def serve_forever(
    host: str,
    port: int,
    state_file: str | None,
    *,
    access_keys: Iterable[str] = (),
    strict_credentials: bool = False,
    backend_options: Mapping[str, Any] | None = None,
) -> None:
    from ..clients.eci_model import dump_groups, load_state

    groups = dump_groups(load_state(state_file))["ContainerGroups"] if state_file else []
    backend = FakeEci(**dict(backend_options or {}))
    backend.seed(groups)
    server = FakeEciServer(
        backend, host=host, port=port, credentials=parse_access_keys(access_keys), strict_credentials=strict_credentials
    )
    key, secret = next(iter(DEFAULT_CREDENTIALS.items()))
    accepts = "only the keys given" if strict_credentials else "any access key; signatures checked for known keys"
    print(
        f"fake ECI on http://{server.endpoint} ({len(groups)} group(s)); {accepts}; "
        f"e.g. ALIBABA_CLOUD_ACCESS_KEY_ID={key} ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}; "
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


__all__ = [
    "DEFAULT_CREDENTIALS",
    "FakeEciServer",
    "make_app",
    "masked_params",
    "parse_access_keys",
    "seeded_backend",
    "serve_forever",
]
