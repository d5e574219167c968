"""`validate` and `status` for scaling-group rules (issue 26: "validate, plan and status show the new
target"), as a user runs them: a real subprocess; `status --live` with ECI_REDEPLOY_ECI_ENDPOINT and
ECI_REDEPLOY_ESS_ENDPOINT at a FakeEciServer, so the official ECI and Auto Scaling SDKs read it over HTTP.

The scaling group is created through the official client (tests/ess_tools.py); the state a dead worker
leaves is made with ESS's own calls (SuspendProcesses, EnterStandby, TagResources), as docs/scaling-groups.md
says the worker leaves it, so the expectations are the state set up here, not the product's output."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from eci_redeploy.clients.ess import ess_for
from eci_redeploy.fake.embedded import gateway_for
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.fake.server import FakeEciServer
from ess_tools import REGION, rule, scaling_group

from helpers import ROOT, clean_env


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(**(env or {})),
        timeout=120,
    )


@pytest.fixture
def fake():
    backend = FakeEci()
    with FakeEciServer(backend) as server:
        handle = types.SimpleNamespace(backend=backend, gateway=gateway_for(server), server=server)
        key, secret = server.credentials
        handle.env = {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": key,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
            "ECI_REDEPLOY_ECI_ENDPOINT": server.url,
            "ECI_REDEPLOY_ESS_ENDPOINT": server.url,
            "REG_PASSWORD": "s3cret",
        }
        yield handle


def write_rules(tmp_path, *rules):
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps({"version": 1, "rules": list(rules)}))
    return path


def test_validate_says_where_each_rule_deploys(tmp_path):
    plain = {
        "name": "plain",
        "source": {"repository": "team/api", "tags": {"semver": "^1.0.0"}},
        "target": {
            "region": "cn-shanghai",
            "action": "update",
            "container_groups": {"tags": {"app": "api"}},
            "allow_owned": ["scaling-group"],
        },
    }
    named = {
        **plain,
        "name": "named",
        "target": {"region": "cn-shanghai", "action": "restart", "container_groups": {"name": "api"}},
    }
    by_ids = {
        **plain,
        "name": "ids",
        "target": {"region": "cn-shanghai", "action": "update", "container_groups": {"ids": ["eci-1", "eci-2"]}},
    }
    asg_by_name = rule("asg-x1", name="asg-named", target={"scaling_group": {"name": "web"}})
    path = write_rules(tmp_path, rule("asg-bp1abc"), asg_by_name, plain, named, by_ids)
    out = run("validate", str(path))
    assert out.returncode == 0, out.stderr
    lines = {line.split(":")[0].strip(): line for line in out.stdout.splitlines()[1:] if not line.startswith("    ")}
    assert lines["web-asg"].endswith(f"-> scaling group asg-bp1abc in {REGION} (configuration and instances)")
    assert lines["asg-named"].endswith(f"-> scaling group named web in {REGION} (configuration and instances)")
    owned = "(and scaling groups' instances)"
    assert lines["plain"].endswith(f"-> update container groups tagged app=api {owned} in cn-shanghai")
    assert lines["named"].endswith("-> restart container groups api in cn-shanghai")  # README's walk-through
    assert lines["ids"].endswith("-> update container groups ids eci-1, eci-2 in cn-shanghai")


def test_validate_refuses_a_scaling_group_rule_with_another_action_naming_the_rule(tmp_path):
    path = write_rules(tmp_path, rule("asg-bp1abc", target={"action": "replace"}))
    out = run("validate", str(path))
    assert out.returncode != 0 and "action: update" in out.stderr and "web-asg" in out.stderr
    assert "Traceback" not in out.stderr


def test_status_lists_the_scaling_group_its_configuration_and_instances(fake, tmp_path):
    gid, cid = scaling_group(fake, instances=3)
    path = write_rules(tmp_path, rule(gid), rule("asg-missing1", name="gone"))
    out = run("status", "--rules", str(path), "--live", env=fake.env)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    by_rule = {g["rule"]: g for g in body["scaling_groups"]}
    listed = by_rule["web-asg"]
    assert listed["ScalingGroupId"] == gid and listed["ActiveScalingConfigurationId"] == cid
    # the images ess_tools created the configuration with
    assert listed["Images"] == {"app": "reg.example.com/team/web:1.0.0", "sidecar": "reg.example.com/team/log:2"}
    assert listed["SuspendedProcesses"] == []
    assert sorted(listed["Instances"]) == sorted(fake.backend.ess.instances[gid])
    assert set(listed["Instances"].values()) == {"InService"}
    assert "left_by" not in listed
    assert by_rule["gone"] == {"rule": "gone", "scaling_group": "asg-missing1", "error": "no such scaling group"}
    assert "s3cret" not in out.stdout + out.stderr
    assert fake.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] not in out.stdout + out.stderr


def test_status_names_what_a_dead_worker_left_suspended(fake, tmp_path):
    gid, _ = scaling_group(fake, instances=3)
    first = sorted(fake.backend.ess.instances[gid])[0]
    ess = ess_for(fake.gateway)
    # what a worker killed mid-batch leaves: its records, the processes it suspended, a batch in Standby
    ess.call(
        "TagResources",
        {
            "RegionId": REGION,
            "ResourceType": "scalinggroup",
            "ResourceIds": [gid],
            "Tags": [
                {"Key": "eci-redeploy.suspended", "Value": "ScaleIn,ScaleOut|web-asg"},
                {"Key": "eci-redeploy.standby.1", "Value": first},
            ],
        },
    )
    ess.call("SuspendProcesses", {"RegionId": REGION, "ScalingGroupId": gid, "Processes": ["ScaleIn", "ScaleOut"]})
    ess.call("EnterStandby", {"ScalingGroupId": gid, "InstanceIds": [first]}, region=REGION)
    path = write_rules(tmp_path, rule(gid))
    out = run("status", "--rules", str(path), "--live", env=fake.env)
    assert out.returncode == 0, out.stderr
    [listed] = json.loads(out.stdout)["scaling_groups"]
    assert sorted(listed["SuspendedProcesses"]) == ["ScaleIn", "ScaleOut"]
    assert listed["Instances"][first] == "Standby"
    left = listed["left_by"]
    assert left["rule"] == "web-asg" and left["suspended"] == ["ScaleIn", "ScaleOut"] and left["standby"] == [first]
    assert "next run or reconcile" in left["note"]


def test_status_of_container_group_rules_alone_has_no_scaling_section_and_makes_no_ess_call(tmp_path):
    plain = {
        "name": "plain",
        "source": {"repository": "team/api", "tags": {"semver": "^1.0.0"}},
        "target": {"region": "cn-shanghai", "action": "update", "container_groups": {"tags": {"app": "api"}}},
    }
    out = run("status", "--rules", str(write_rules(tmp_path, plain)))
    assert out.returncode == 0, out.stderr
    assert "scaling_groups" not in json.loads(out.stdout)
    assert "DescribeScalingGroups" not in out.stderr
