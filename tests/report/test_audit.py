"""The audit trail of a full rollout with a rollback, and the `audit` command that summarises it."""

import json
import subprocess
import sys

from eci_redeploy.clients.eci import EciGateway, RetryPolicy
from eci_redeploy.events.model import PushEvent
from eci_redeploy.fake.inprocess import inprocess_factory
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.pipeline import run

from helpers import ROOT, clean_env, described, rule

HOST = "reg.example.com"
GOOD, BAD = "sha256:" + "1" * 64, "sha256:" + "2" * 64
FIELDS = {
    "ts",
    "kind",
    "event_id",
    "event_source",
    "rule",
    "target",
    "group_id",
    "action",
    "outcome",
    "image_before",
    "image_after",
    "digest_before",
    "digest_after",
    "request_id",
    "rollback_request_id",
    "duration_ms",
    "reason",
    "group_name",
    "tag_before",
    "tag_after",
}


def audit_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"kind": "audit"' in line]


def test_audit_lines_of_a_rollout_with_a_rollback(make_rules, capsys, tmp_path):
    rules = make_rules(
        {
            **rule("web", pull={"public": [HOST]}),
            "rollout": {"batch_size": 1, "timeout_seconds": 1, "poll_seconds": 0.01, "failure_budget": 1},
        }
    )
    backend = FakeEci()
    backend.update_seconds = 0.3
    backend.seed([described(f"eci-{i}", f"{HOST}/team/web:1.0.0", name=f"web-{i}") for i in range(2)])
    gateway = EciGateway(inprocess_factory(backend), retry=RetryPolicy(max_attempts=2, initial=0.001))
    capsys.readouterr()
    run([PushEvent("team/web", "1.1.0", GOOD, "distribution", "ev-good", registry_host=HOST)], rules, gateway, {})
    backend.settle()
    backend.faults.broken_images = [f"*{BAD}"]
    run([PushEvent("team/web", "1.2.0", BAD, "distribution", "ev-bad", registry_host=HOST)], rules, gateway, {})
    err = capsys.readouterr().err
    lines = audit_lines(err)
    assert all(set(line) == FIELDS for line in lines)
    good = [x for x in lines if x["event_id"] == "ev-good"]
    assert [(x["target"], x["outcome"]) for x in good] == [("eci-0", "applied"), ("eci-1", "applied")]
    assert good[0]["image_before"] == f"{HOST}/team/web:1.0.0" and good[0]["digest_after"] == GOOD
    assert good[0]["request_id"] and good[0]["duration_ms"] >= 0
    bad = [x for x in lines if x["event_id"] == "ev-bad"]
    assert [(x["target"], x["outcome"]) for x in bad] == [("eci-0", "rolled-back"), ("eci-1", "rolled-back")]
    assert bad[0]["digest_before"] == GOOD and bad[0]["digest_after"] == BAD
    assert bad[0]["rollback_request_id"] and bad[0]["reason"].startswith("not healthy")

    log = tmp_path / "fc.log"
    log.write_text("START RequestId: x\n" + err + "garbage line\n")
    env = clean_env()
    out = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", "audit", str(log), "--target", "eci-0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rows = out.stdout.strip().splitlines()
    assert len(rows) == 2 and "applied" in rows[0] and "rolled-back" in rows[1] and "ev-bad" in rows[1]
    # Tags first, the digest beside them (issue 24: `audit` showed digests and never tags).
    assert f"1.0.0 -> 1.1.0 (sha256:{'1' * 12})" in rows[0]
    assert f"1.1.0 (sha256:{'1' * 12}) -> 1.2.0 (sha256:{'2' * 12})" in rows[1]
    as_json = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", "audit", str(log), "--rule", "web", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert len(as_json.stdout.strip().splitlines()) == 4
    missing = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", "audit", str(tmp_path / "nope.log")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert missing.returncode == 2 and "file not found" in missing.stderr
