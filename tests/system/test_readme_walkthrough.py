"""The README's "Set it up for your own container groups", run as written: its rules file, its state
file and each `eci-redeploy` line of its shell blocks (in order, with the redirections they show),
against Debian's docker-registry holding acme/api behind the README's basic-auth credentials, and a
FakeEciServer (what `fake-eci` serves), with `registry.example.com` replaced by the local registry's
host. The local registry speaks plain HTTP, so each rule also gets `pull.plain_http` for it (the
README says so beside the rule).

Each `#   ` line under a command is output the README shows for it: it must be a line of what the
command printed (`...` stands for elided text, a time for any time). Every command must exit 0.
`fake-eci` (the FakeEciServer stands for it) and `serve` (tests/functions/test_web_page_browser.py runs it)
are not run. Digests are the registry's own (tests/registry_tools.write_layout)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from eci_redeploy.fake.models import FakeEci
from eci_redeploy.fake.server import FakeEciServer
from registry_tools import Registry, push, write_layout

from helpers import ROOT, Hook, clean_env

SECTION = "## Set it up for your own container groups"
TAGS = ("1.4.0", "1.4.1", "1.5.0", "2.0.0")
PASSWORD = "readme-registry-password"  # the value of $REGISTRY_PASSWORD the README leaves as '...'
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ")


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else None]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", walkthrough(), re.S)


def steps() -> list[tuple[str, list[str]]]:
    """Each shell line of the walk-through, with the `#   ` output lines shown under it."""
    out: list[tuple[str, list[str]]] = []
    for block in blocks("sh"):
        for line in block.splitlines():
            if line.startswith("#   "):
                assert out, f"output shown before any command: {line!r}"
                out[-1][1].append(line[4:].strip())
            elif line.strip() and not line.startswith("#"):
                out.append((line, []))
    return out


def shown(expected: str) -> re.Pattern[str]:
    """A README output line as a pattern: '...' (or '…') elides, a time is any time."""
    parts = re.split(r"(\.\.\.|…|\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)", expected)
    pattern = "".join(
        ".*?" if p in ("...", "…") else TIME.pattern if TIME.fullmatch(p) else re.escape(p) for p in parts
    )
    return re.compile(pattern)


@pytest.fixture
def world(tmp_path):
    root = tmp_path / "registry"
    root.mkdir()
    htpasswd = root / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "ci", PASSWORD], check=True, capture_output=True)
    hook = Hook()
    with Registry(root, htpasswd=htpasswd) as reg, FakeEciServer(FakeEci(update_seconds=0.3)) as fake:
        for tag in TAGS:
            write_layout(root / f"img-{tag}", tag, f"api {tag}")
            push(root / f"img-{tag}", tag, f"{reg.host}/acme/api:{tag}", creds=f"ci:{PASSWORD}")
        yield reg, fake, hook, tmp_path / "work"
    hook.close()


def write_inputs(reg, fake, work):
    work.mkdir()
    (rules_text,) = [b for b in blocks("yaml") if b.startswith("# my-rules.yaml")]
    rules = yaml.safe_load(rules_text.replace("registry.example.com", reg.host))
    for rule in rules["rules"]:
        rule.setdefault("pull", {})["plain_http"] = [reg.host]
    (work / "my-rules.yaml").write_text(yaml.safe_dump(rules))
    (state_text,) = blocks("json")
    state = json.loads(state_text.replace("registry.example.com", reg.host))
    fake.backend.seed(state["ContainerGroups"])


def run_line(line: str, reg, work, env: dict[str, str]) -> subprocess.CompletedProcess[str] | None:
    """One shell line of the README: `export`, `echo ... > file` and `eci-redeploy ...` (with `2>>FILE`,
    `2>/dev/null`); None for the lines not run here."""
    words = shlex.split(line.replace("registry.example.com", reg.host), comments=True)
    if words[0] == "export":
        for word in words[1:]:
            name, _, value = word.partition("=")
            if not name.startswith(("ECI_REDEPLOY_ECI", "ALIBABA_CLOUD")):  # the fake's, set by the test
                env[name] = value
        if "REGISTRY_PASSWORD" in env:
            env["REGISTRY_PASSWORD"] = PASSWORD  # the README leaves the value to the reader
        return None
    if words[0] == "echo":
        assert words[2] == ">", line
        (work / words[3]).write_text(words[1] + "\n")
        return None
    assert words[0] == "eci-redeploy", f"a README command this test does not know: {line!r}"
    if words[1] in ("fake-eci", "serve"):
        return None
    args = [w for w in words[1:] if not w.startswith("2>")]
    done = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *args],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=120,
    )
    for redirect in (w for w in words if w.startswith("2>>")):
        with (work / redirect[3:]).open("a") as log:
            log.write(done.stderr)
    return done


def test_the_readme_walkthrough_runs_as_written(world):
    reg, fake, hook, work = world
    write_inputs(reg, fake, work)
    key, secret = fake.credentials
    env = clean_env(
        ECI_REDEPLOY_ECI_ENDPOINT=fake.url,
        ALIBABA_CLOUD_ACCESS_KEY_ID=key,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=secret,
        TEAM_HOOK_URL=hook.url,
    )
    ran, stderr = [], ""
    for line, expected in steps():
        done = run_line(line, reg, work, env)
        if done is None:
            continue
        ran.append(line.split()[1])
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        printed = [out.strip() for out in done.stdout.splitlines()]
        for want in expected:
            pattern = shown(want.replace("registry.example.com", reg.host))
            assert any(pattern.fullmatch(p) for p in printed), f"{line}\nREADME shows: {want}\nprinted:\n{done.stdout}"
        stderr += done.stderr
        fake.backend.settle()
    assert ran == [
        "validate",
        "test-policy",
        "list",
        "plan",
        "invoke",
        "reconcile",
        "history",
        "rollback",
        "list",
        "unfreeze",
    ]
    # the progress lines the prose quotes, as the commands printed them on stderr
    for quoted in re.findall(r"`(eci-redeploy: [^`]+)`", walkthrough()):
        assert shown(re.sub(r"\d+ s left", "... s left", quoted)).search(stderr), quoted
    assert [m["outcome"] for m in hook.received].count("deployed") >= 3  # invoke, reconcile, rollback were told


def test_what_the_demo_showed_is_what_make_demo_does():
    """The README's first command (`make demo`) and its 'What the demo showed': the recipe it quotes,
    both web-prod groups applied and ready on team/web@sha256:... with ECI's request ids, one batch of
    both on stderr, and one audit line per decision there."""
    recipe = re.search(r"^demo:.*\n\t\$\(BIN\)/eci-redeploy (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "the Makefile's demo target runs eci-redeploy"
    text = (ROOT / "README.md").read_text()
    assert text.index("make demo") < text.index("make test") < text.index("## What the demo showed")
    assert f"`eci-redeploy {recipe[1]}`" in re.sub(r"\s*\n\s*", " ", text), "README quotes the demo's command"
    done = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *shlex.split(recipe[1])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    actions = json.loads(done.stdout)["actions"]
    assert len(actions) == 2 and {a["rule"] for a in actions} == {"web-prod"}
    assert all((a["action"], a["status"], a["health"]) == ("UpdateContainerGroup", "applied", "ready") for a in actions)
    assert all(a["request_id"] and re.fullmatch(r".*team/web@sha256:[0-9a-f]{64}", a["image"]) for a in actions)
    ids = sorted(a["group_id"] for a in actions)
    assert f"eci-redeploy: web-prod: batch 1/1: {', '.join(ids)}" in done.stderr.splitlines()
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert sorted(r["group_id"] for r in logged if r["kind"] == "audit") == ids
