"""`eci-redeploy plan` and `validate` as a user runs them: a real subprocess, JSON on stdout."""

import json
import os
import subprocess
import sys

import pytest

from helpers import EVENTS, EXAMPLES, ROOT


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_plan_sample_acr_push_shows_the_update_parameters():
    out = run(
        "plan",
        str(EVENTS / "acr-ee-push.json"),
        "--rules",
        str(EXAMPLES / "rules.yaml"),
        "--state",
        str(EXAMPLES / "state.json"),
    )
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert [(a["rule"], a["action"], a["target"]) for a in plan["actions"]] == [
        ("web-prod", "UpdateContainerGroup", "eci-bp1web0000000000001"),
        ("web-prod", "UpdateContainerGroup", "eci-bp1web0000000000002"),
    ]
    params = plan["actions"][0]["params"]
    digest = "sha256:3c0b4a5e1d2f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"
    assert params == {
        "RegionId": "cn-hangzhou",
        "ContainerGroupId": "eci-bp1web0000000000001",
        "ClientToken": params["ClientToken"],
        "UpdateType": "IncrementalUpdate",
        "Container.1.Name": "app",
        "Container.1.Image": f"acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com/team/web@{digest}",
        "AcrRegistryInfo.1.InstanceId": "cri-abc123",
        "AcrRegistryInfo.1.InstanceName": "acme",
        "AcrRegistryInfo.1.RegionId": "cn-hangzhou",
        "AcrRegistryInfo.1.Domain.1": "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com",
        # the group's own tags, then what was applied (see tracking.py)
        "Tag.1.Key": "app",
        "Tag.1.Value": "web",
        "Tag.2.Key": "env",
        "Tag.2.Value": "prod",
        "Tag.3.Key": "eci-redeploy.digest",
        "Tag.3.Value": digest,
        "Tag.4.Key": "eci-redeploy.rule",
        "Tag.4.Value": "web-prod",
        "Tag.5.Key": "eci-redeploy.event-time",
        "Tag.5.Value": "1795745730123",
        "Tag.6.Key": "eci-redeploy.previous",
        "Tag.6.Value": ":1.3.2",
        "Tag.7.Key": "eci-redeploy.tag",  # the pushed tag, so a digest deploy keeps a known version
        "Tag.7.Value": "1.4.0",
    }
    assert plan["skipped"] == []


def test_plan_without_state_skips_with_a_reason():
    out = run("plan", str(EVENTS / "acr-ee-push.json"), "--rules", str(EXAMPLES / "rules.yaml"))
    assert out.returncode == 0
    reason = json.loads(out.stdout)["skipped"][0]["reason"]
    # the selector used (examples/rules.yaml: web-prod's tags) and the hint (issue 24)
    assert reason.startswith("no container group matches the rule's container_groups (tags app=web,env=prod in")


def test_secrets_are_masked_in_plan_output(tmp_path):
    (tmp_path / "rules.yaml").write_text(
        """
version: 1
rules:
  - name: web
    source: {repository: team/web, tags: {glob: "*"}}
    target: {region: cn-hangzhou, action: update, container_groups: {name: web}}
    pull:
      credentials: [{server: reg.example.com, username: ci, password_env: REG_PASSWORD}]
"""
    )
    (tmp_path / "state.json").write_text(
        json.dumps(
            {
                "ContainerGroups": [
                    {
                        "ContainerGroupId": "eci-1",
                        "ContainerGroupName": "web",
                        "Status": "Running",
                        "Containers": [{"Name": "app", "Image": "reg.example.com/team/web:1"}],
                    }
                ]
            }
        )
    )
    (tmp_path / "e.json").write_text(json.dumps({"image": "reg.example.com/team/web:2"}))
    out = run(
        "plan",
        str(tmp_path / "e.json"),
        "--rules",
        str(tmp_path / "rules.yaml"),
        "--state",
        str(tmp_path / "state.json"),
        env={"REG_PASSWORD": "pl4nted-s3cret"},
    )
    assert out.returncode == 0, out.stderr
    assert "pl4nted-s3cret" not in out.stdout + out.stderr
    assert json.loads(out.stdout)["actions"][0]["params"]["ImageRegistryCredential.1.Password"] == "******"


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["plan", "nope.json", "--rules", "examples/rules.yaml"], 2, "nope.json: file not found"),
        (["plan", "examples/rules.yaml", "--rules", "examples/rules.yaml"], 2, "examples/rules.yaml: not valid JSON"),
        (["plan", "events/acr-ee-push.json", "--rules", "events/acr-ee-push.json"], 2, "events/acr-ee-push.json"),
        (
            ["plan", "events/acr-ee-push.json", "--rules", "examples/rules.yaml", "--state", "events/timer.json"],
            2,
            "events/timer.json: expected a DescribeContainerGroups body",
        ),
        (["validate", "missing.yaml"], 2, "missing.yaml: file not found"),
    ],
)
def test_bad_input_is_one_line_on_stderr(args, code, fragment):
    out = run(*args)
    assert out.returncode == code
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_validate_and_schema():
    out = run("validate", "examples/rules.yaml")
    assert out.returncode == 0 and "2 rule(s) valid" in out.stdout
    schema = json.loads(run("schema").stdout)
    assert schema["title"] == "eci-redeploy rules file" and "rules" in schema["properties"]


def test_validate_shows_each_rules_policy_and_guarantees(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\n"
        "rules:\n"
        "  - name: ci\n"
        "    allow_downgrade: true\n"
        "    source:\n"
        "      repository: team/web\n"
        "      tags: {regex: '^main-(?P<build>\\d+)-[0-9a-f]{7}$', order: {by: numerical, key: build}}\n"
        "    target: {region: cn-hangzhou, action: update, container_groups: {name: web}}\n"
        "  - name: semver\n"
        "    source: {repository: team/web, tags: {semver: '>=1.2.0, <2.0.0', updates: patch}}\n"
        "    target: {region: cn-hangzhou, action: update, container_groups: {name: web}}\n"
    )
    out = run("validate", str(rules))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "ordered by build, as numbers" in lines[1] and "downgrades allowed" in lines[1]
    assert "patch updates only" in lines[2] and "never downgrades" in lines[2]
