"""Issue 23 item 7: `serve` bounds slow clients, and the approval route authenticates before it looks
anything up. Real sockets on loopback, against the server `serve` runs (functions/serve.http_server)
started with small limits; every socket has its own timeout and every server stops with the test.

As reported: 150 slow clients held 153 threads (one per connection, no bound); a request whose
promised body was never sent kept its connection 65 s and more (no body deadline).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import pytest

import gates_world
from fcfixtures import TOKEN

from helpers import ROOT

HEADER, BODY, MAX = 0.5, 0.5, 4


@contextlib.contextmanager
def running(monkeypatch, *, header=HEADER, body=BODY, most=MAX):
    """serve's HTTP server with the webhook app on the embedded fake, limits small enough for a test."""
    from eci_redeploy.fake.embedded import embedded_server, gateway_for
    from eci_redeploy.functions.serve import http_server, make_app

    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_TOKEN", TOKEN)
    rules = ROOT / "tests" / "data" / "webhook-rules.yaml"
    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(rules))
    fake = embedded_server([])
    app = make_app(rules, gateway_for(fake))
    http = http_server("127.0.0.1", 0, app, header_timeout=header, body_timeout=body, max_connections=most)
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield http
    finally:
        http.shutdown()
        http.server_close()
        app.writer.stop()
        thread.join(5)


@pytest.fixture
def server(monkeypatch):
    with running(monkeypatch) as http:
        yield http


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded by the socket's timeout)."""
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def handler_threads() -> int:
    return sum(1 for t in threading.enumerate() if "process_request_thread" in t.name)


def test_7_headers_sent_a_byte_at_a_time_do_not_hold_the_connection(server):
    # Slowloris: a byte every 0.1 s resets any idle timeout; the header deadline still closes it.
    request = b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    with connect(server) as sock:
        sent = 0
        with contextlib.suppress(ConnectionError, BrokenPipeError):
            for byte in request:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.1)  # 200 bytes would take 20 s; the deadline is 0.5 s
                if sent > 5 and _closed(sock):
                    break
        assert sent < len(request), "the server kept reading headers past its deadline"


def _closed(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True
    finally:
        sock.setblocking(True)
        sock.settimeout(5)


def test_7_a_promised_body_never_sent_gets_408_and_the_connection_closes(monkeypatch):
    # The body has its own deadline, counted from the headers: with a header deadline of 60 s, a body
    # deadline of 0.5 s still answers long before the client's own 5 s timeout (which would raise).
    with running(monkeypatch, header=60.0) as server, connect(server) as sock:
        sock.sendall(b"POST /?token=" + TOKEN.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        reply = answer(sock)  # returns once the server closes: before the client's own 5 s timeout
    assert reply.startswith(b"HTTP/1.1 408"), reply[:80]
    assert b"did not arrive in time" in reply


def test_7_connections_past_the_bound_get_503_without_a_thread_and_it_recovers(server):
    idle = [connect(server) for _ in range(MAX)]  # connected, sending nothing
    try:
        deadline = time.monotonic() + 5
        while handler_threads() < MAX and time.monotonic() < deadline:
            time.sleep(0.02)
        assert handler_threads() == MAX
        with connect(server) as extra:
            assert answer(extra).startswith(b"HTTP/1.1 503 Service Unavailable")
        assert handler_threads() <= MAX
    finally:
        for sock in idle:
            sock.close()
    # The idle ones time out (header deadline) or are closed: a new client is served again.
    deadline = time.monotonic() + 5
    while handler_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 200")


def test_7_a_normal_request_still_goes_through(server):
    with connect(server) as sock:
        body = json.dumps({"events": []}).encode()
        head = f"POST /?token={TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        sock.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 400") and b"no event" in reply  # read, authenticated, explained


# ---- authentication before any lookup that could reveal names ---------------------------------------

world = gates_world.world  # the fixture: a fake on the wire behind the functions


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}], ids=["no-token", "wrong-token"])
def test_7_an_unknown_approval_id_answers_401_like_a_known_one(world, headers):
    # As reported: POST /approvals/<unknown>.x answered 404 "no rule with an approval gate for ..."
    # before authenticating, so anyone could probe rule names.
    w = world({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    w.push(json.loads((ROOT / "events" / "acr-ee-push.json").read_text()))
    calls = len(w.backend.calls)
    unknown = w.http("POST", "/approvals/nope.3c0b4a5e1d2f", headers=headers)
    known = w.http("POST", "/approvals/web-prod.3c0b4a5e1d2f", headers=headers)
    assert unknown["statusCode"] == known["statusCode"] == 401
    assert unknown["body"] == known["body"] and "web-prod" not in known["body"] and "nope" not in unknown["body"]
    assert len(w.backend.calls) == calls  # nothing looked up: no describe, no tag written
    # An approver is told (authenticated, the id's rule is then looked up).
    assert (
        w.http("POST", "/approvals/nope.3c0b4a5e1d2f", headers={"Authorization": "Bearer al1ce-token"})["statusCode"]
        == 404
    )


# ---- the writer's de-duplication memory (issue 23 item 7: "the writer keeps every task id and result
# forever (memory grows with distinct pushes)") ----


def _writer_order(n):
    from datetime import datetime, timezone

    from eci_redeploy.events.model import PushEvent
    from eci_redeploy.execution.handoff import WorkOrder

    push = PushEvent(
        "team/web",
        f"1.0.{n}",
        None,
        "distribution",
        f"ev-{n}",
        time=datetime(2026, 11, 27, tzinfo=timezone.utc),
        registry_host="reg.example.com",
    )
    return WorkOrder.for_events([push])


def test_7_the_writer_forgets_a_task_id_after_a_day_on_its_own_clock(make_rules):
    """A task id is remembered for a day (FC's default maxAsyncEventAgeInSeconds, after which FC
    itself would no longer redeliver it) on the writer's clock: a redelivery within it is dropped, one
    after it runs again (and changes nothing twice: every ECI call carries its transition's ClientToken)."""
    from eci_redeploy.execution.writer import Writer

    from helpers import rule

    now = [1000.0]
    ran = []
    rules = make_rules(rule("web", tags={"semver": "^1.0.0"}))
    writer = Writer(lambda order: ran.append(order.task_id), lambda: rules, clock=lambda: now[0])
    try:
        first = _writer_order(1)
        assert writer.submit(first).via == "writer"
        assert writer.drain(10)
        now[0] += 86399
        assert writer.submit(first).via == "writer:duplicate"
        now[0] += 2
        assert writer.submit(first).via == "writer"
        assert writer.drain(10)
    finally:
        writer.stop()
    assert ran == [first.task_id, first.task_id]


def test_7_the_task_ids_and_results_kept_are_bounded_in_count():
    """At most 100,000 task ids (the oldest forgotten first) and the last 1,000 results: memory stays
    bounded however many distinct pushes a long-running `serve` sees (docs/security.md, Limits)."""
    from eci_redeploy.core.idempotency import SeenTasks
    from eci_redeploy.execution.writer import RESULTS, Results

    seen = SeenTasks(clock=lambda: 0.0)
    for i in range(100_000 + 10):
        assert seen.first(f"t{i}")
    assert len(seen) == 100_000 and "t9" not in seen and "t10" in seen
    assert seen.first("t0")  # forgotten, so new again
    results = Results()
    for i in range(RESULTS + 10):
        results[f"t{i}"] = "ok"
    assert len(results) == RESULTS == 1000 and "t9" not in results
