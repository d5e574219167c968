"""Function Compute as the handlers see it: bytes events, an FC-shaped context, a fake ECI behind the
gateway factory and an inline worker behind the dispatcher factory (both patched with pytest-mock)."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from eci_redeploy.events.auth import sign

DATA = Path(__file__).with_name("data")
ROOT = Path(__file__).resolve().parent.parent
TOKEN = "t0ken-for-tests"
HMAC_SECRET = "hm4c-secret-for-tests"


def fc_context(name: str = "webhook") -> SimpleNamespace:
    return SimpleNamespace(
        request_id="1-6747a1b2-test",
        function=SimpleNamespace(name=name, handler="index.handler", memory=128, timeout=60),
        region="cn-hangzhou",
        account_id="1234567890123456",
        credentials=None,
        service=SimpleNamespace(name="", log_project="", log_store=""),
    )


def http_event(
    body: bytes | str,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    method: str = "POST",
) -> bytes:
    text = body.decode() if isinstance(body, bytes) else body
    event = {
        "version": "v1",
        "rawPath": "/",
        "body": text,
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "queryParameters": query or {},
        "requestContext": {
            "accountId": "1234567890123456",
            "requestId": "req-1",
            "http": {"method": method, "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
        },
    }
    return json.dumps(event).encode()


def signed_headers(body: bytes, *, secret: str = HMAC_SECRET, at: float | None = None) -> dict[str, str]:
    ts = str(int(at if at is not None else time.time()))
    return {"X-Eci-Redeploy-Timestamp": ts, "X-Eci-Redeploy-Signature": sign(secret, ts, body)}


def entry(name: str) -> Any:
    """The handler of functions/<name>/index.py, loaded as Function Compute loads it (from its file)."""
    spec = importlib.util.spec_from_file_location(f"fc_{name}", ROOT / "functions" / name / "index.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def call_webhook(body: bytes | str, **kw: Any) -> Any:
    """The webhook function's handler called with an FC HTTP event carrying `body`."""
    return entry("webhook")(http_event(body, **kw), fc_context())


class FcHarness:
    def __init__(self, backend: Any, dispatcher: Any) -> None:
        self.backend = backend
        self.dispatcher = dispatcher

    def mutations(self) -> list[Any]:
        return self.backend.mutating_calls()


class FcStandIn:
    """Function Compute 3.0's InvokeFunction as the dispatchers see it, over HTTP on 127.0.0.1: an async
    invocation (`x-fc-invocation-type: Async`) is queued and answered 202; a second one with the same
    `x-fc-async-task-id` is refused with 409, as FC's task de-duplication does ("When the same ID enters
    the system, the request is considered as a duplicate submission and rejected, and an error 409 is
    returned": https://www.alibabacloud.com/help/en/fc/task-deduplication; the doc names no error
    code, so the body's is ours). `x-fc-async-delay` (whole seconds, [0, 3600]: FC "Asynchronous
    invocation: overview", deferred invocation) holds the message back that long.

    `GET /__next` (not FC's: the stand-in's own control route) hands the next ready message to a
    worker process, as FC hands its queue to function instances; 204 when none is ready."""

    def __init__(self, *, time_scale: float = 1.0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.invocations: list[dict[str, Any]] = []
        self.queue: list[dict[str, Any]] = []
        self.time_scale = time_scale  # tests shorten FC's whole-second delays
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = stand_in._accept(self.path, headers, body)
                refused = {"Code": "Conflict", "Message": "duplicate task id"}
                payload = b"" if status == 202 else json.dumps(refused).encode()
                self.send_response(status)
                self.send_header("x-fc-request-id", f"fc-req-{len(stand_in.invocations)}")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                message = stand_in.next_ready() if self.path == "/__next" else None
                body = message["body"] if message else b""
                self.send_response(200 if message else 204)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _accept(self, path: str, headers: dict[str, str], body: bytes) -> int:
        task = headers.get("x-fc-async-task-id", "")
        with self._lock:
            duplicate = bool(task) and task in self._seen
            self._seen.add(task)
            status = 409 if duplicate else 202
            self.invocations.append({"path": path, "headers": headers, "body": body, "status": status})
            if not duplicate:
                delay = float(headers.get("x-fc-async-delay") or 0) * self.time_scale
                self.queue.append({"task_id": task, "body": body, "ready_at": time.monotonic() + delay})
        return status

    def next_ready(self) -> dict[str, Any] | None:
        with self._lock:
            ready = [m for m in self.queue if m["ready_at"] <= time.monotonic()]
            if not ready:
                return None
            self.queue.remove(ready[0])
            return ready[0]

    def deliver_again(self, task_id: str) -> None:
        """FC delivers at least once: the same message again."""
        with self._lock:
            sent = next(i for i in self.invocations if i["headers"].get("x-fc-async-task-id") == task_id)
            self.queue.append({"task_id": task_id, "body": sent["body"], "ready_at": time.monotonic()})

    def __enter__(self) -> FcStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
