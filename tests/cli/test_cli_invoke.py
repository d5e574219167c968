"""`invoke`, `fake-eci` and `invoke --live` as a user runs them: real processes, real HTTP, the real SDK."""

import json
import subprocess
import sys
import urllib.request

from helpers import EVENTS, EXAMPLES, ROOT, clean_env

DIGEST = "sha256:3c0b4a5e1d2f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"
BASE_ENV = clean_env()


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**BASE_ENV, **(env or {})},
        timeout=120,
    )


def sample(*extra):
    return (
        "invoke",
        str(EVENTS / "acr-ee-push.json"),
        "--rules",
        str(EXAMPLES / "rules.yaml"),
        "--state",
        str(EXAMPLES / "state.json"),
        *extra,
    )


def test_invoke_applies_to_the_embedded_fake():
    out = cli(*sample())
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [(a["target"], a["status"]) for a in report["actions"]] == [
        ("eci-bp1web0000000000001", "applied"),
        ("eci-bp1web0000000000002", "applied"),
    ]
    for action in report["actions"]:
        assert len(action["request_id"]) == 36
        assert action["result"]["images"]["app"].endswith(f"/team/web@{DIGEST}")
        assert action["result"]["images"]["sidecar"].endswith("eci_open/nginx:1.25")  # untouched


def test_dry_run_applies_nothing():
    out = cli(*sample("--dry-run"))
    report = json.loads(out.stdout)
    assert report["dry_run"] is True and len(report["actions"]) == 2
    assert '"outcome": "applied"' not in out.stderr
    assert "UpdateContainerGroup" not in [
        json.loads(line).get("action") for line in out.stderr.splitlines() if '"eci.call"' in line
    ]


def test_replace_creates_then_deletes():
    out = cli(
        "invoke",
        str(EVENTS / "acr-webhook.json"),
        "--rules",
        str(EXAMPLES / "rules.yaml"),
        "--state",
        str(EXAMPLES / "state.json"),
    )
    assert out.returncode == 0, out.stderr
    create, delete = json.loads(out.stdout)["actions"]
    assert (create["action"], create["status"]) == ("CreateContainerGroup", "applied")
    assert create["result"]["status"] == "Running" and create["group_id"] != "eci-bp1api0000000000001"
    assert (delete["action"], delete["target"], delete["status"]) == (
        "DeleteContainerGroup",
        "eci-bp1api0000000000001",
        "applied",
    )


def test_live_without_credentials_is_one_clear_line():
    out = cli(*sample("--live"))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "ALIBABA_CLOUD_ACCESS_KEY_ID" in out.stderr


def test_invoke_live_sends_the_planned_parameters_signed(fake_eci_process):
    env = {
        "ECI_REDEPLOY_ECI_ENDPOINT": fake_eci_process,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "fake-access-key-id",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "fake-access-key-secret",
    }
    planned = cli("plan", str(EVENTS / "acr-ee-push.json"), "--rules", str(EXAMPLES / "rules.yaml"), "--live", env=env)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    out = cli("invoke", str(EVENTS / "acr-ee-push.json"), "--rules", str(EXAMPLES / "rules.yaml"), "--live", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    calls = json.loads(urllib.request.urlopen(f"{fake_eci_process}/_fake/calls").read())
    # A batch's calls go out together (execution.rollout.call_all): the order they arrive in within a
    # batch is not the plan's; each group's call is.
    updates = {c["params"]["ContainerGroupId"]: c for c in calls if c["action"] == "UpdateContainerGroup"}
    assert len(updates) == len(plan["actions"]) == sum(c["action"] == "UpdateContainerGroup" for c in calls)
    assert {gid: c["params"] for gid, c in updates.items()} == {
        a["params"]["ContainerGroupId"]: a["params"] for a in plan["actions"]
    }
    assert {a["group_id"]: a["request_id"] for a in report["actions"]} == {
        gid: c["request_id"] for gid, c in updates.items()
    }
    assert all(a["status"] == "applied" and a["request_id"] for a in report["actions"])


def test_invoke_live_with_a_wrong_secret_changes_nothing(fake_eci_process):
    env = {
        "ECI_REDEPLOY_ECI_ENDPOINT": fake_eci_process,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "fake-access-key-id",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-the-secret",
    }
    out = cli(*sample("--live"), env=env)
    assert out.returncode != 0
    assert "SignatureDoesNotMatch" in out.stderr.strip().splitlines()[-1]
    assert "not-the-secret" not in out.stdout + out.stderr
    calls = json.loads(urllib.request.urlopen(f"{fake_eci_process}/_fake/calls").read())
    assert calls == []
