"""Deployability: s.yaml against the fc3 component's JSON Schema, the RAM policy, and the assembled
code folders importing and answering in a clean Python 3.10 interpreter."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from helpers import EVENTS, ROOT

SCHEMA_PATH = ROOT / "deploy" / "fc3-schema.json"  # vendored from devsapp/fc3, see deploy/README.md
FUNCTIONS = ("push", "webhook", "worker", "timer")
TRIGGER_DEFINITIONS = {"eventbridge": "IEventBridge", "http": "IHttpTriggerConfig", "timer": "ITimerTriggerConfig"}


def substituted(text: str) -> str:
    """What `s` does to ${vars.x}, ${env('X')} and ${config('X')} before handing props to fc3."""
    doc = yaml.safe_load(text)
    variables = doc.get("vars", {})

    def value(match):
        expr = match.group(1)
        if expr.startswith("vars."):
            return json.dumps(variables[expr[5:]])
        if expr.startswith(("env(", "config(")):
            return json.dumps("acs:ram::1234567890123456:role/placeholder")
        raise AssertionError(f"unknown expression ${{{expr}}}")

    out = re.sub(r"\$\{([^}]+)\}", value, text)
    return out


@pytest.fixture(scope="module")
def s_yaml():
    return yaml.safe_load(substituted((ROOT / "s.yaml").read_text()))


@pytest.fixture(scope="module")
def schema():
    return json.loads(SCHEMA_PATH.read_text())


def test_every_resource_validates_against_the_fc3_schema(s_yaml, schema):
    assert s_yaml["edition"] == "3.0.0"
    resources = s_yaml["resources"]
    assert set(resources) == set(FUNCTIONS)
    for name, resource in resources.items():
        assert resource["component"] == "fc3"
        jsonschema.Draft7Validator(schema).validate(resource["props"])
        props = resource["props"]
        assert props["runtime"] == "python3.10" and props["handler"] == "index.handler"
        assert props["code"] == f"./build/{name}"
        assert (ROOT / "functions" / name / "index.py").exists()
        env = props["environmentVariables"]
        assert not any(k.startswith("FC_") for k in env), "the FC_ prefix is reserved"


def test_each_trigger_config_validates_against_its_own_definition(s_yaml, schema):
    seen = set()
    for resource in s_yaml["resources"].values():
        for trigger in resource["props"].get("triggers", []):
            definition = {
                **schema["definitions"][TRIGGER_DEFINITIONS[trigger["triggerType"]]],
                "definitions": schema["definitions"],
            }
            jsonschema.Draft7Validator(definition).validate(trigger["triggerConfig"])
            seen.add(trigger["triggerType"])
    assert seen == {"eventbridge", "http", "timer"}
    push = s_yaml["resources"]["push"]["props"]["triggers"][0]["triggerConfig"]
    assert json.loads(push["eventRuleFilterPattern"]) == {
        "source": ["acs.cr"],
        "type": ["cr:Artifact:PushCompleted", "cr:Artifact:ScanCompleted", "cr:Artifact:SigningCompleted"],
    }  # scans and signings release changes the gates hold
    timer = s_yaml["resources"]["timer"]["props"]["triggers"][0]["triggerConfig"]
    assert len(timer["cronExpression"].split()) == 6


def test_async_functions_retry_and_have_a_failure_destination(s_yaml):
    for name in ("push", "worker"):
        config = s_yaml["resources"][name]["props"]["asyncInvokeConfig"]
        assert config["maxAsyncRetryAttempts"] >= 1
        assert config["destinationConfig"]["onFailure"]["destination"]
    assert s_yaml["resources"]["worker"]["props"]["asyncInvokeConfig"]["asyncTask"] is True


def _python310():
    for candidate in (shutil.which("python3.10"), *sorted(Path("/root/.pyenv/versions").glob("3.10*/bin/python3.10"))):
        if candidate and subprocess.run([str(candidate), "-c", "pass"], capture_output=True).returncode == 0:
            return str(candidate)
    return sys.executable


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    # Offline once `make wheelhouse` (part of `make test`) has filled .build-cache/; without it the
    # build downloads the dependencies from the package index.
    out = tmp_path_factory.mktemp("build")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_functions.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    if done.returncode:
        pytest.fail(
            f"build_functions.py failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return out


CLEAN_CALL = r"""
import json, sys, types
sys.path[:0] = [".", "python"]  # what FC does: the code folder, then PYTHONPATH=/code/python
import index
ctx = types.SimpleNamespace(request_id="r-1", credentials=None, function=types.SimpleNamespace(name="{name}"))
print(json.dumps(index.handler(open(sys.argv[1], "rb").read(), ctx)))
"""


@pytest.mark.parametrize("name", FUNCTIONS)
def test_assembled_folder_imports_and_answers_in_a_clean_interpreter(built, name, tmp_path):
    folder = built / name
    assert (folder / "rules.yaml").exists() and (folder / "templates" / "api.yaml").exists()
    assert json.loads((folder / "rules.index.json").read_text())["repositories"] == ["team/api", "team/web"]
    assert list((folder / "python").glob("pydantic_core/*cpython-310-x86_64-linux-gnu.so"))
    events = {
        "push": EVENTS / "acr-ee-build-completed.json",
        "webhook": EVENTS / "fc-http-acr-webhook.json",
        "worker": EVENTS / "acr-ee-push.json",
        "timer": EVENTS / "timer.json",
    }
    env = {"PATH": os.environ["PATH"], "ECI_REDEPLOY_RULES": str(folder / "rules.yaml"), "HOME": str(tmp_path)}
    out = subprocess.run(
        [_python310(), "-I", "-S", "-c", CLEAN_CALL.replace("{name}", name), str(events[name])],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if name == "webhook":
        assert result["statusCode"] == 401  # no token configured: fails closed
    elif name == "push":
        assert result["ok"] is True and result["actions"] == []  # BuildCompleted: acknowledged, no ECI call
    elif name == "worker":
        assert result["ok"] is False  # only work orders
    else:
        assert result["ok"] is False and "credentials" in result["error"]  # no role credentials locally


def test_every_lock_pin_carries_a_hash_and_every_install_requires_them():
    """Issue 23 item 7: a file on the index that changed under a pinned version must be refused."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from build_functions import lock_entries

    for lock in ("build.lock", "dev.lock", "runtime.lock"):
        entries = lock_entries(ROOT / "requirements" / lock)
        assert entries and all(version and hashes for _, version, hashes in entries), lock
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    assert len(installs) == 3
    for line in installs:  # the editable install of the project itself has no file to hash and fetches nothing
        assert "--require-hashes" in line or ("-e ." in line and "--no-deps" in line), line
    script = (ROOT / "scripts" / "build_functions.py").read_text()
    assert script.count('"--require-hashes"') == 2  # the sdist builds and the install for Function Compute
