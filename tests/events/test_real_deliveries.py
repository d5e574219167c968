"""Issue 14, case by case: deliveries as registries really send them (several events, some bad, big
bodies, many pushes at once), through the CLI, the functions and `serve` over real HTTP."""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from eci_redeploy.cli import main
from fcfixtures import DATA, TOKEN, fc_context, http_event

from helpers import EVENTS, ROOT, clean_env, wait_for_url

CORPUS = ROOT / "tests" / "payloads"
DIST = "application/vnd.docker.distribution.events.v1+json"


def webhook(body: bytes | str, content_type: str = "application/json") -> tuple[int, dict]:
    from eci_redeploy.functions import webhook as handler

    event = http_event(body, headers={"Content-Type": content_type}, query={"token": TOKEN})
    response = handler.handle(event, fc_context(), default_rules=DATA / "webhook-rules.yaml")
    return response["statusCode"], json.loads(response["body"])


def plan(capsys, path: Path, rules: Path = DATA / "webhook-rules.yaml", state: Path = DATA / "webhook-state.json"):
    code = main(["plan", str(path), "--rules", str(rules), "--state", str(state)])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out else None), out.err


# --- 1. CloudEvents that are not ACR's are never taken for EventBridge events -------------------------


def test_harbor_cloudevents_are_harbor_not_eventbridge(fc):
    status, body = webhook((CORPUS / "harbor-cloudevents-push.json").read_bytes(), "application/cloudevents+json")
    assert status == 200, body  # understood; no rule of tests/data watches harbor.dev/library/busybox
    assert [e["source"] for e in body["events"]] == ["harbor"]
    assert not any("acs.cr" in s["reason"] or "unsupported" in s["reason"] for s in body["skipped"])


def test_a_cloudevent_nobody_sends_us_is_400_naming_type_and_source(fc):
    unknown = {"specversion": "1.0", "id": "1", "source": "/apis/v1/namespaces/x", "type": "dev.knative.x"}
    status, body = webhook(json.dumps(unknown), "application/cloudevents+json")
    assert status == 400
    assert body["error"] == "body: unsupported CloudEvent type dev.knative.x from /apis/v1/namespaces/x"
    assert fc.mutations() == []


def test_cloudevents_content_type_without_a_cloudevent_is_400_naming_what_lacks(fc):
    status, body = webhook((EVENTS / "harbor-push.json").read_bytes(), "application/cloudevents+json")
    assert status == 400 and "lacks specversion, id, source" in body["error"]


def test_a_body_two_formats_claim_is_refused_not_guessed(fc):
    both = {"events": [], "type": "PUSH_ARTIFACT", "event_data": {"resources": []}}
    status, body = webhook(json.dumps(both))
    assert status == 400 and "ambiguous event: looks like distribution and harbor" in body["error"]


def test_the_push_function_does_not_drop_a_harbor_cloudevent_as_not_acs_cr(fc):
    from fcfixtures import entry

    result = entry("push")((CORPUS / "harbor-cdevents-published.json").read_bytes(), fc_context("push"))
    assert result["ok"] is True and "is not acs.cr" not in json.dumps(result)
    assert result["events"][0]["source"] == "harbor"


# --- 2. a Distribution envelope is processed event by event -------------------------------------------

GOOD = "sha256:" + "2" * 64


def envelope(*events: dict) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def manifest(i: int, tag: str | None, digest: str, *, repository: str = "team/web", ts: str | None = None) -> dict:
    """An event shaped as notifications.md documents it (target / request / actor / source)."""
    target = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 1,
        "repository": repository,
        "url": f"http://10.0.0.5:5000/v2/{repository}/manifests/{digest}",
    }
    if tag is not None:
        target["tag"] = tag
    return {
        "id": f"ev-{i}",
        "timestamp": ts or "2026-11-27T10:30:01Z",
        "action": "push",
        "target": target,
        "request": {
            "id": f"r-{i}",
            "addr": "10.0.0.9:5555",
            "host": "10.0.0.5:5000",
            "method": "PUT",
            "useragent": "skopeo",
        },
        "actor": {},
        "source": {"addr": "registry:5000"},
    }


def layer(i: int) -> dict:
    return {
        "id": f"layer-{i}",
        "timestamp": "2026-11-27T10:30:00Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": "sha256:" + "c" * 64,
            "size": 5,
            "repository": "team/web",
        },
        "request": {"host": "10.0.0.5:5000"},
    }


MIXED = envelope(layer(0), manifest(1, "1.4.0", GOOD), manifest(2, "1.4.1", "sha256:0123456789abcdef"), layer(3))


def test_mixed_envelope_plans_the_good_push_and_names_the_bad_one(capsys, tmp_path):
    path = tmp_path / "mixed.json"
    path.write_bytes(MIXED)
    code, out, err = plan(capsys, path)
    assert code == 0, err
    assert [(a["rule"], a["target"], a["params"]["Container.1.Image"]) for a in out["actions"]] == [
        ("distribution", "eci-self", f"10.0.0.5:5000/team/web@{GOOD}")
    ]
    (rejected,) = [e for e in out["events"] if e.get("status") == "rejected"]
    assert rejected["index"] == 2
    assert (
        rejected["reason"]
        == "distribution: events.2.target: digest: 'sha256:0123456789abcdef' is not a digest (algorithm:hex)"
    )
    assert sorted(e["id"] for e in out["events"] if e.get("status") == "ignored") == ["layer-0", "layer-3"]


def test_mixed_envelope_through_the_webhook_is_202_with_the_rejected_event_listed(fc):
    status, body = webhook(MIXED, DIST)
    assert status == 202, body
    (call,) = fc.mutations()
    assert call.params["Container.1.Image"] == f"10.0.0.5:5000/team/web@{GOOD}"
    assert [(e["index"], e["status"]) for e in body["events"] if e.get("status") == "rejected"] == [(2, "rejected")]


def test_an_envelope_of_only_bad_pushes_is_400_listing_each(fc):
    bad = envelope(manifest(0, "1.4.0", "sha256:zz"), layer(1), manifest(2, "bad tag!", GOOD))
    status, body = webhook(bad, DIST)
    assert status == 400
    assert "[0] distribution: events.0.target: digest" in body["error"]
    assert "[2] distribution: events.2.target: tag: 'bad tag!' is not a valid tag" in body["error"]
    assert [e["status"] for e in body["events"]] == ["rejected", "ignored", "rejected"]
    assert fc.mutations() == []


def test_a_batch_array_of_eventbridge_events_keeps_the_good_ones(fc, caplog):
    from fcfixtures import entry

    good = json.loads((EVENTS / "acr-ee-push.json").read_text())
    result = entry("push")(json.dumps([{"specversion": "1.0"}, good]).encode(), fc_context("push"))
    assert result["ok"] is True and len(fc.mutations()) == 1
    (rejected,) = [e for e in result["events"] if e.get("status") == "rejected"]
    assert rejected["index"] == 0 and "lacks id, source, type" in rejected["reason"]
    assert any('"kind": "input.rejected"' in r.message and '"index": 0' in r.message for r in caplog.records)


# --- 3. an ACR webhook with a malformed digest keeps its push -----------------------------------------

BAD_DIGEST_ACR = {
    "push_data": {"digest": "sha256:0123", "pushed_at": "2026-11-27 10:20:46", "tag": "2.3.1"},
    "repository": {
        "name": "api",
        "namespace": "team",
        "region": "cn-hangzhou",
        "repo_full_name": "team/api",
        "repo_type": "PRIVATE",
    },
}


def test_acr_webhook_with_a_malformed_digest_is_deployed_by_tag_and_says_why(capsys, tmp_path):
    path = tmp_path / "acr.json"
    path.write_text(json.dumps(BAD_DIGEST_ACR))
    code, out, err = plan(capsys, path)
    assert code == 0, err
    (action,) = out["actions"]
    assert action["params"]["Container.1.Image"] == "registry-vpc.cn-hangzhou.aliyuncs.com/team/api:2.3.1"
    assert out["events"][0]["warning"] == (
        "push_data.digest 'sha256:0123' is not a digest (algorithm:hex): ignored, the tag is deployed"
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from registry_tools import Registry, push, write_layout

    root = tmp_path_factory.mktemp("acr-digest")
    with Registry(root) as reg:
        digest = write_layout(root / "img", "2.3.1", "api 2.3.1")
        push(root / "img", "2.3.1", f"{reg.host}/team/api:2.3.1")
        yield reg, digest


def test_acr_webhook_with_a_malformed_digest_gets_the_registrys_digest(fc, registry, monkeypatch, mocker):
    from eci_redeploy.clients.registry_api import RegistryClient
    from eci_redeploy.functions import webhook as handler

    reg, digest = registry
    monkeypatch.setenv("ECI_REDEPLOY_CONFIRM_DIGESTS", "1")
    mocker.patch.object(
        handler, "client_factory", return_value=lambda rule, host: RegistryClient(reg.host, scheme="http", timeout=3)
    )
    status, body = webhook(json.dumps(BAD_DIGEST_ACR))
    assert status == 202, body
    (call,) = fc.mutations()
    assert call.params["Container.1.Image"] == f"registry-vpc.cn-hangzhou.aliyuncs.com/team/api@{digest}"


# --- 5. many pushes of one repository in one delivery: coalesced before planning ------------------------


def _runs_below_the_pushes(fc):
    """tests/data/webhook-state.json has eci-self on 1.3.0: pushes of 1.0.x would be downgrades, which the
    no-downgrade guard (issue 13) skips. These tests are about coalescing, so the group starts lower."""
    fc.backend.seed(
        [
            {
                "ContainerGroupId": "eci-self",
                "ContainerGroupName": "web-selfhosted",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Containers": [{"Name": "app", "Image": "10.0.0.5:5000/team/web:0.9.0"}],
            }
        ]
    )


def test_200_pushes_in_one_delivery_make_one_update_to_the_highest_version(fc):
    import random

    # Versions 1.0.0 .. 1.0.199 in a shuffled order, event times running backwards: the rule's semver
    # order must decide, not the delivery order or the clock.
    versions = list(range(200))
    random.Random(14).shuffle(versions)
    events = [
        manifest(n, f"1.0.{v}", "sha256:" + f"{v:064x}", ts=f"2026-11-27T10:{59 - n // 60:02d}:{59 - n % 60:02d}Z")
        for n, v in enumerate(versions)
    ]
    _runs_below_the_pushes(fc)
    status, body = webhook(envelope(*events), DIST)
    assert status == 202, body
    (call,) = fc.mutations()  # one UpdateContainerGroup, not 200
    assert call.params["Container.1.Image"] == "10.0.0.5:5000/team/web@sha256:" + f"{199:064x}"
    superseded = [s for s in body["skipped"] if "superseded by" in s["reason"]]
    assert len(superseded) == 199
    assert superseded[0]["rule"] == "distribution"
    assert superseded[0]["reason"].endswith(
        f"superseded by 10.0.0.5:5000/team/web:1.0.199@sha256:{199:064x} in the same delivery (the rule's tag order)"
    )


# --- 4. serve refuses big bodies before reading them ------------------------------------------------------

FIFTY_MB = 50 * 1024 * 1024


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@contextlib.contextmanager
def _serve(tmp_path):
    """`eci-redeploy serve` as a process on a free port: (port, process)."""
    from registry_tools import free_port

    port = free_port()
    env = clean_env(ECI_REDEPLOY_WEBHOOK_TOKEN=TOKEN, ECI_REDEPLOY_CONFIRM_DIGESTS="0", PYTHONPATH=str(ROOT / "shared"))
    rules, state = str(DATA / "webhook-rules.yaml"), str(DATA / "webhook-state.json")
    command = [sys.executable, "-m", "eci_redeploy.cli", "serve", "--port", str(port), "--rules", rules]
    command += ["--state", state]
    with (tmp_path / "serve.log").open("wb") as log:
        serve = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_for_url(f"http://127.0.0.1:{port}/healthz")
            yield port, serve
        finally:
            serve.terminate()
            serve.wait(10)


def test_serve_refuses_four_concurrent_50mb_bodies_without_reading_them(tmp_path):
    with _serve(tmp_path) as (port, serve):
        _four_big_posts(port, serve)


def _four_big_posts(port, serve):
    replies: list[object] = []

    def chunked() -> None:
        # No Content-Length: the server can only count what it reads.
        def body():
            block = b" " * 65536
            for _ in range(FIFTY_MB // len(block)):
                yield block

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request(
                "POST",
                f"/?token={TOKEN}",
                body=body(),
                encode_chunked=True,
                headers={"Content-Type": "application/json"},
            )
            replies.append(("chunked", conn.getresponse().status))
        except OSError as exc:  # the server may close while we are still sending: that is the point
            replies.append(("chunked", type(exc).__name__))

    def announced() -> None:
        # Content-Length announces 50 MB; the body is never sent: the answer must come without it.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.putrequest("POST", f"/?token={TOKEN}")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(FIFTY_MB))
        conn.endheaders()
        response = conn.getresponse()
        replies.append(("announced", response.status, json.loads(response.read())["error"]))

    threads = [threading.Thread(target=f) for f in (chunked, chunked, announced, announced)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    peak = _peak_rss_kib(serve.pid)
    announced_replies = [r for r in replies if r[0] == "announced"]
    assert announced_replies == [("announced", 413, f"body of {FIFTY_MB} bytes is over the 262144-byte limit")] * 2
    assert [r for r in replies if r[0] == "chunked"] != []
    assert all(r[1] in (413, "ConnectionResetError", "BrokenPipeError") for r in replies if r[0] == "chunked")
    assert peak < 100 * 1024, f"serve peaked at {peak // 1024} MB"
    # ...and it still serves an ordinary push afterwards.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        f"/?token={TOKEN}&dry_run=1",
        body=(EVENTS / "distribution-push.json").read_bytes(),
        headers={"Content-Type": DIST},
    )
    assert conn.getresponse().status == 200


def test_serve_bounds_what_it_drains_of_refused_bodies_that_are_sent_anyway(tmp_path):
    """Clients that send a 50 MB body whatever the answer (Content-Length announced, bytes following):
    werkzeug drains what is left after a 413, 10 MB per read, so six such posts took serve from ~40 to
    ~157 MB (an independent run measured 118 MB for four). The drain is now bounded (1 MiB, 64 KiB reads)."""
    import socket

    def post(replies: list[object]) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.sendall(f"POST /?token={TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Length: {FIFTY_MB}\r\n\r\n".encode())
            try:
                block = b" " * 65536
                for _ in range(FIFTY_MB // len(block)):
                    s.sendall(block)
                replies.append(s.recv(64))
            except OSError as exc:  # a reset after the bounded drain is the documented outcome
                replies.append(type(exc).__name__)

    with _serve(tmp_path) as (port, serve):
        idle = _peak_rss_kib(serve.pid)
        replies: list[object] = []
        threads = [threading.Thread(target=post, args=(replies,)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        grown = _peak_rss_kib(serve.pid) - idle
        assert len(replies) == 6
        assert all(r in ("ConnectionResetError", "BrokenPipeError") or r.startswith(b"HTTP/1.1 413") for r in replies)
        assert grown < 30 * 1024, f"serve grew by {grown // 1024} MB"


# --- 6. / 7. the CLI names the body, and always prints events -----------------------------------------


def test_fc_http_event_with_a_non_json_body_names_the_body(tmp_path):
    event = json.loads((EVENTS / "fc-http-acr-webhook.json").read_text())
    event["body"] = "push_data=latest"
    path = tmp_path / "http.json"
    path.write_text(json.dumps(event))
    out = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", "plan", str(path), "--rules", str(DATA / "webhook-rules.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(PYTHONPATH=str(ROOT / "shared")),
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == f"eci-redeploy: {path}: body: not valid JSON (Expecting value at line 1 column 1)"


@pytest.mark.parametrize("sample", ["acr-ee-build-completed.json", "timer.json"])
def test_plan_prints_events_when_nothing_is_planned(capsys, sample):
    code, out, err = plan(capsys, EVENTS / sample)
    assert code == 0, err
    assert "events" in out and out["actions"] == []


# --- variants the published samples do not show ------------------------------------------------------


def test_eventbridge_push_with_a_malformed_digest_keeps_its_tag():
    from eci_redeploy.events.adapters import parse_payload

    raw = json.loads((EVENTS / "acr-ee-push.json").read_text())
    raw["data"]["Digest"] = "sha256:0123"
    (event,) = parse_payload(json.dumps(raw))
    assert (event.repository, event.tag, event.digest, event.signed) == ("team/web", "1.4.0", None, True)
    assert event.summary()["warning"].startswith("data.Digest 'sha256:0123' is not a digest")


def test_github_container_version_with_a_tag_is_planned(capsys, tmp_path):
    # GitHub's published example with the two values its sample leaves unusable filled in.
    raw = json.loads((CORPUS / "github-registry-package-published.json").read_text())
    meta = raw["registry_package"]["package_version"]["container_metadata"]
    meta["tag"] = {"name": "1.2.3", "digest": "sha256:" + "4" * 64}
    path = tmp_path / "github.json"
    path.write_text(json.dumps(raw))
    code, out, err = plan(capsys, path, CORPUS / "rules.yaml", CORPUS / "state.json")
    assert code == 0, err
    (action,) = out["actions"]
    assert (action["target"], action["params"]["Container.1.Image"]) == (
        "eci-hello",
        "ghcr.io/codertocat/hello-world@sha256:" + "4" * 64,
    )
    assert out["events"][0]["tag"] == "1.2.3" and out["events"][0]["source"] == "github"


def test_harbor_resources_are_read_one_by_one(capsys, tmp_path):
    raw = json.loads((CORPUS / "harbor-default-push.json").read_text())
    good = raw["event_data"]["resources"][0]
    raw["event_data"]["resources"] = [{**good, "digest": "sha256:nothex"}, good]
    path = tmp_path / "harbor.json"
    path.write_text(json.dumps(raw))
    code, out, err = plan(capsys, path, CORPUS / "rules.yaml", CORPUS / "state.json")
    assert code == 0, err
    assert [a["target"] for a in out["actions"]] == ["eci-debian"]
    (rejected,) = [e for e in out["events"] if e.get("status") == "rejected"]
    assert rejected["index"] == 0 and "event_data.resources.0: digest: 'sha256:nothex'" in rejected["reason"]


def test_the_worker_is_handed_only_the_pushes_that_survive_coalescing(fc, mocker):
    spy = mocker.spy(fc.dispatcher, "dispatch")
    events = [manifest(n, f"1.0.{n}", "sha256:" + f"{n:064x}") for n in range(50)]
    _runs_below_the_pushes(fc)
    status, body = webhook(envelope(*events), DIST)
    assert status == 202, body
    (order,) = [c.args[0] for c in spy.call_args_list]
    assert [e.tag for e in order.events] == ["1.0.49"]  # not 50 events: FC caps async payloads at 128 KB
    (call,) = fc.mutations()
    assert call.params["Container.1.Image"].endswith("sha256:" + f"{49:064x}")
