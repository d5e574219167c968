"""Async hand-off to the worker on the wire: FC 3.0 (alibabacloud-fc20230330) and FC 2.0 (aliyun-fc2)
against a local server that records what the platform would receive."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eci_redeploy.clients.eci import Credentials
from eci_redeploy.core.settings import Settings
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.dispatch import DispatchError, Fc2Dispatcher, Fc3Dispatcher, InlineDispatcher
from eci_redeploy.execution.handoff import WorkOrder

EVENT = PushEvent("team/web", "1.4.0", "sha256:" + "a" * 64, "distribution", "ev-1", registry_host="10.0.0.5:5000")


@pytest.fixture
def fc_api():
    received = []
    status = {"code": 202}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append(
                {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
            )
            self.send_response(status["code"])
            self.send_header("x-fc-request-id", "fc-req-1")
            payload = b"" if status["code"] == 202 else json.dumps({"Code": "AccessDenied", "Message": "no"}).encode()
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", received, status
    server.shutdown()


def settings(endpoint, **kw):
    return Settings(rules_path=None, fc_endpoint=endpoint, **kw)  # type: ignore[arg-type]


CREDS = Credentials("ak-id", "ak-secret", "sts-token")


def test_fc3_async_invocation_with_task_id(fc_api):
    endpoint, received, _ = fc_api
    order = WorkOrder.for_events([EVENT])
    done = Fc3Dispatcher(settings(endpoint, worker_function="eci-redeploy-worker"), CREDS).dispatch(order)
    (request,) = received
    assert request["path"] == "/2023-03-30/functions/eci-redeploy-worker/invocations"
    assert request["headers"]["x-fc-invocation-type"] == "Async"
    assert request["headers"]["x-fc-async-task-id"] == order.task_id == done.task_id
    assert request["headers"]["authorization"].startswith("ACS3-HMAC-SHA256 Credential=ak-id")
    assert request["headers"]["x-acs-security-token"] == "sts-token"
    assert WorkOrder.model_validate_json(request["body"]).push_events() == [EVENT]
    assert done.request_id == "fc-req-1"


def test_fc2_async_invocation_with_stateful_id(fc_api):
    endpoint, received, _ = fc_api
    order = WorkOrder.for_events([EVENT])
    done = Fc2Dispatcher(settings(endpoint, worker_function="worker", worker_service="eci-redeploy"), CREDS).dispatch(
        order
    )
    (request,) = received
    assert request["path"] == "/2016-08-15/services/eci-redeploy/functions/worker/invocations"
    assert request["headers"]["x-fc-invocation-type"] == "Async"
    assert request["headers"]["x-fc-stateful-async-invocation-id"] == order.task_id
    assert request["headers"]["authorization"].startswith("FC ak-id:")
    assert request["headers"]["x-fc-security-token"] == "sts-token"
    assert WorkOrder.model_validate_json(request["body"]).task_id == done.task_id


@pytest.mark.parametrize("kind", ["fc3", "fc2"])
def test_refused_invocation_is_a_typed_error_without_secrets(fc_api, kind):
    endpoint, _, status = fc_api
    status["code"] = 403
    order = WorkOrder.for_events([EVENT])
    dispatcher = (
        Fc3Dispatcher(settings(endpoint, worker_function="w"), CREDS)
        if kind == "fc3"
        else Fc2Dispatcher(settings(endpoint, worker_function="w", worker_service="s"), CREDS)
    )
    with pytest.raises(DispatchError) as info:
        dispatcher.dispatch(order)
    assert "ak-secret" not in str(info.value)


def test_task_id_is_stable_and_platform_safe():
    a = WorkOrder.for_events([EVENT]).task_id
    assert a == WorkOrder.for_events([EVENT]).task_id
    assert len(a) <= 64 and a.replace("-", "").isalnum()
    other = PushEvent("team/web", "1.4.1", "sha256:" + "b" * 64, "distribution", "ev-2")
    assert WorkOrder.for_events([other]).task_id != a


def test_inline_dispatcher_drops_duplicate_task_ids():
    ran = []
    inline = InlineDispatcher(ran.append, background=False)
    order = WorkOrder.for_events([EVENT])
    assert inline.dispatch(order).via == "inline"
    assert inline.dispatch(order).via == "inline:duplicate"
    assert ran == [order]
