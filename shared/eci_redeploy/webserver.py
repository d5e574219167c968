"""`eci-redeploy serve`: the webhook function over real HTTP on this machine.

The same handler FC runs receives each request as an FC HTTP-trigger event; the hand-off goes to an
inline worker (a thread) instead of an async invocation; ECI is the embedded fake unless --live.
"""

from __future__ import annotations

import base64
import os
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .errors import ConfigError
from .handlers import events, webhook


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:  # query strings may carry the token
        pass


def _context(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        request_id=str(uuid.uuid4()),
        function=SimpleNamespace(name=name),
        region=os.environ.get("FC_REGION", "local"),
        account_id="local",
        credentials=None,
    )


def fc_event(request: Request) -> dict[str, Any]:
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


def make_app(rules_file: Path, gateway: Any) -> Any:
    from .dispatch import InlineDispatcher

    dispatcher = InlineDispatcher(
        lambda order: events.handle_work(
            order.model_dump_json().encode(), _context("worker"), default_rules=rules_file, gateway=gateway
        )
    )

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        if request.path == "/healthz":
            return Response('{"ok": true}', content_type="application/json")
        result = webhook.handle(
            fc_event(request), _context("webhook"), default_rules=rules_file, dispatcher=dispatcher, gateway=gateway
        )
        return Response(result["body"], status=result["statusCode"], headers=result.get("headers") or {})

    return app


def serve_forever(host: str, port: int, rules_file: str, *, state_file: str | None = None, live: bool = False) -> None:
    from .handlers.common import rules_for
    from .state import load_state

    if not os.environ.get("ECI_REDEPLOY_WEBHOOK_TOKEN"):
        raise ConfigError("set ECI_REDEPLOY_WEBHOOK_TOKEN: the webhook refuses every call without it")
    path = Path(rules_file).resolve()
    os.environ["ECI_REDEPLOY_RULES"] = str(path)  # --rules wins, as the function's setting would
    rules = rules_for(path)  # fail now, not on the first push
    if live:
        from .gateway import EciGateway

        gateway = EciGateway.from_env()
        target = gateway.label
    else:
        from .fake.embedded import embedded_server, gateway_for

        fake = embedded_server(load_state(state_file) if state_file else [])
        gateway = gateway_for(fake)
        target = f"embedded fake ECI at {fake.url}"
    server = make_server(host, port, make_app(path, gateway), threaded=True, request_handler=_QuietHandler)
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
