"""The operator's commands (issue 24) on the wire: `eci-redeploy ... --live` with
ECI_REDEPLOY_ECI_ENDPOINT at a FakeEciServer (the persistent local loop the README presents), a real
registry (Debian's docker-registry) for the tags, and a local webhook for the notifications.

Digests expected here are the registry's own (tests/registry_tools.write_layout computes them from the
OCI layout it writes); exit codes are docs/cli.md's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eci_redeploy.fake.models import FakeEci
from eci_redeploy.fake.server import FakeEciServer
from registry_tools import Registry, free_port, push, write_layout

from helpers import ROOT, Hook, clean_env, described

TAGS = ("1.0.0", "1.1.0", "1.2.0", "1.3.0-rc.1", "2.0.0", "latest-build")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    with Registry(root) as reg:
        digests = {}
        for tag in TAGS:
            digests[tag] = write_layout(root / f"img-{tag}", tag, f"web {tag}")
            push(root / f"img-{tag}", tag, f"{reg.host}/team/web:{tag}")
        yield reg, digests


@pytest.fixture
def fake():
    backend = FakeEci()
    with FakeEciServer(backend) as server:
        yield server


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def web_rule(host, *, selector=None, semver="^1.0.0", **extra):
    return {
        "name": "web",
        "source": {"repository": "team/web", "registry": host, "tags": {"semver": semver}},
        "target": {
            "region": "cn-hangzhou",
            "action": "update",
            "container_groups": selector or {"tags": {"app": "web"}},
        },
        "pull": {"plain_http": [host]},
        "notify": [{"webhook": {"url_env": "HOOK_URL"}}],
        **extra,
    }


def write_rules(tmp_path, *rules):
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps({"version": 1, "rules": list(rules)}))
    return path


def cli(fake, *args, hook_url="http://127.0.0.1:9/none", **env):
    key, secret = fake.credentials
    full = clean_env(
        ECI_REDEPLOY_ECI_ENDPOINT=fake.url,
        ALIBABA_CLOUD_ACCESS_KEY_ID=key,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=secret,
        HOOK_URL=hook_url,
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full,
        timeout=120,
    )


def image(fake, gid):
    return fake.backend.group(gid).images()[0]


def test_list_shows_running_newest_and_the_next_action(registry, fake, tmp_path):
    reg, digests = registry
    rules = write_rules(tmp_path, web_rule(reg.host))
    seeded = [
        described("eci-old", f"{reg.host}/team/web:1.0.0", name="web-old"),
        described("eci-new", f"{reg.host}/team/web@{digests['1.2.0']}", name="web-new"),
    ]
    fake.backend.seed(seeded)
    out = cli(fake, "list", "--rules", str(rules), "--live", "--json")
    assert out.returncode == 0, out.stderr
    (web,) = json.loads(out.stdout)["rules"]
    assert web["newest"] == {"tag": "1.2.0", "digest": digests["1.2.0"]}
    groups = {g["id"]: g for g in web["groups"]}
    assert groups["eci-old"]["running"]["tag"] == "1.0.0"
    assert groups["eci-old"]["next"] == {
        "action": "UpdateContainerGroup",
        "image": f"{reg.host}/team/web@{digests['1.2.0']}",
    }
    assert groups["eci-new"]["running"]["digest"] == digests["1.2.0"]
    assert groups["eci-new"]["next"]["action"] == "none" and "already running" in groups["eci-new"]["next"]["reason"]
    assert fake.backend.mutating_calls() == []  # list changes nothing
    table = cli(fake, "list", "--rules", str(rules), "--live")
    assert table.returncode == 0, table.stderr
    assert f"newest allowed: 1.2.0 (sha256:{digests['1.2.0'][7:19]})" in table.stdout
    assert "web-old (eci-old)  Running  runs 1.0.0  next: UpdateContainerGroup ->" in table.stdout
    # the embedded fake alike (--state, no --live): the same listing from the same groups
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"ContainerGroups": seeded}))
    embedded = cli(fake, "list", "--rules", str(rules), "--state", str(state), "--json")
    assert embedded.returncode == 0, embedded.stderr
    assert json.loads(embedded.stdout)["rules"][0]["groups"] == web["groups"]


def test_test_policy_asks_the_registry(registry, fake, tmp_path):
    reg, digests = registry
    rules = write_rules(tmp_path, web_rule(reg.host))
    out = cli(fake, "test-policy", "--rules", str(rules), "--rule", "web", "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    allowed = [t["tag"] for t in body["tags"] if t["allowed"]]
    assert allowed == ["1.2.0", "1.1.0", "1.0.0"]  # ^1.0.0, highest first (npm semver: no 2.0.0, no prerelease)
    refused = {t["tag"]: t["reason"] for t in body["tags"] if not t["allowed"]}
    assert set(refused) == {"1.3.0-rc.1", "2.0.0", "latest-build"}
    assert body["would_deploy"] == {"tag": "1.2.0", "digest": digests["1.2.0"]}
    table = cli(fake, "test-policy", "--rules", str(rules), "--rule", "web")
    assert "would deploy: 1.2.0" in table.stdout and "6 tag(s) in the registry, 3 allowed" in table.stdout
    missing = cli(fake, "test-policy", "--rules", str(rules), "--rule", "nope")
    assert missing.returncode == 2 and "no rule named 'nope'" in missing.stderr


def test_reconcile_fails_loudly_when_the_registry_cannot_be_reached(fake, hook, tmp_path):
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    rules = write_rules(tmp_path, web_rule(dead))
    fake.backend.seed([described("eci-1", f"{dead}/team/web:1.0.0", name="web-1")])
    out = cli(fake, "reconcile", "--rules", str(rules), "--live", hook_url=hook.url)
    assert out.returncode == 1, out.stdout  # before: 0, and nobody told
    (problem,) = json.loads(out.stdout)["problems"]
    assert problem["rule"] == "web" and problem["host"] == dead and problem["problem"] == "unreachable"
    # the fix, not only the error ("no answer (ConnectionError)" named no setting before)
    assert f"check source.registry ({dead}) and that this machine or function can reach it" in problem["reason"]
    assert "plain_http" not in problem["reason"]  # the rule already has the host in pull.plain_http
    (message,) = hook.received
    assert message["rule"] == "web" and message["outcome"] == "error" and dead in message["detail"]
    assert "check source.registry" in message["detail"]
    listed = cli(fake, "list", "--rules", str(rules), "--live")
    assert f"! {problem['reason']}" in listed.stdout.splitlines()[2]  # list says the same, once
    assert listed.stdout.count("check source.registry") == 2  # the rule's note and the group's next


def test_reconcile_fails_loudly_when_the_repository_is_not_in_the_registry(registry, fake, hook, tmp_path):
    reg, _ = registry
    rule = web_rule(reg.host)
    rule["source"]["repository"] = "team/wbe"
    rules = write_rules(tmp_path, rule)
    fake.backend.seed([described("eci-1", f"{reg.host}/team/wbe:1.0.0", name="web-1")])
    out = cli(fake, "reconcile", "--rules", str(rules), "--live", hook_url=hook.url)
    assert out.returncode == 1, out.stdout
    (problem,) = json.loads(out.stdout)["problems"]
    assert (problem["rule"], problem["host"], problem["problem"]) == ("web", reg.host, "not-found")
    assert "check source.repository (team/wbe)" in problem["reason"]
    assert [m["rule"] for m in hook.received] == ["web"]
    assert fake.backend.mutating_calls() == []


def test_reconcile_dry_run_reports_the_problems_and_tells_nobody(fake, hook, tmp_path):
    dead = f"127.0.0.1:{free_port()}"
    rules = write_rules(tmp_path, web_rule(dead))
    fake.backend.seed([described("eci-1", f"{dead}/team/web:1.0.0", name="web-1")])
    out = cli(fake, "reconcile", "--rules", str(rules), "--live", "--dry-run", hook_url=hook.url)
    assert out.returncode == 1, out.stdout  # docs/cli.md: a --dry-run exits 1 but notifies nobody
    assert [p["problem"] for p in json.loads(out.stdout)["problems"]] == ["unreachable"]
    assert f"eci-redeploy: reconcile: web: {dead}" in out.stderr
    assert hook.received == []


def test_reconcile_fails_loudly_when_the_registry_refuses_the_credentials(fake, hook, tmp_path):
    root = tmp_path / "basic"
    root.mkdir()
    htpasswd = root / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(htpasswd), "ci", "right-password"], check=True, capture_output=True)
    with Registry(root, htpasswd=htpasswd) as reg:
        creds = [{"server": reg.host, "username": "ci", "password_env": "REG_PW"}]
        rule = web_rule(reg.host)
        rule["pull"]["credentials"] = creds
        rules = write_rules(tmp_path, rule)
        fake.backend.seed([described("eci-1", f"{reg.host}/team/web:1.0.0", name="web-1")])
        out = cli(fake, "reconcile", "--rules", str(rules), "--live", hook_url=hook.url, REG_PW="wrong-pw-42")
    assert out.returncode == 1, out.stdout
    (problem,) = json.loads(out.stdout)["problems"]
    assert (problem["rule"], problem["host"], problem["problem"]) == ("web", reg.host, "credentials-refused")
    assert "401" in problem["reason"]
    assert f"check $REG_PW, the password of ci in pull.credentials for {reg.host}" in problem["reason"]
    (message,) = hook.received
    assert reg.host in message["detail"] and "wrong-pw-42" not in json.dumps(message) + out.stdout + out.stderr


def test_reconcile_fails_loudly_when_a_selector_matches_no_group(registry, fake, hook, tmp_path):
    reg, _ = registry
    rules = write_rules(tmp_path, web_rule(reg.host, selector={"name": "web-typo"}))
    fake.backend.seed([described("eci-1", f"{reg.host}/team/web:1.0.0", name="web")])
    out = cli(fake, "reconcile", "--rules", str(rules), "--live", hook_url=hook.url)
    assert out.returncode == 1, out.stdout
    (problem,) = json.loads(out.stdout)["problems"]
    assert problem["problem"] == "no-groups" and problem["host"] == reg.host
    assert "name=web-typo in cn-hangzhou" in problem["reason"]  # the selector used
    (message,) = hook.received
    assert message["rule"] == "web" and "web-typo" in message["detail"]


def test_rollback_freeze_history_and_unfreeze(registry, fake, hook, tmp_path):
    reg, digests = registry
    rules = write_rules(tmp_path, web_rule(reg.host))
    fake.backend.seed([described("eci-1", f"{reg.host}/team/web:1.0.0", name="web-1")])
    args = ("--rules", str(rules), "--live")
    assert cli(fake, "reconcile", *args).returncode == 0  # up to 1.2.0, recorded on the group
    fake.backend.settle()
    out = cli(fake, "rollback", "web", "--previous", "--freeze", *args, hook_url=hook.url)
    assert out.returncode == 0, out.stderr
    assert image(fake, "eci-1") == f"{reg.host}/team/web@{digests['1.1.0']}"  # the allowed tag below 1.2.0
    body = json.loads(out.stdout)
    assert body["frozen"] == ["eci-1"] and body["actions"][0]["status"] == "applied"
    assert fake.backend.group("eci-1").spec["Tag"] and any(
        t["Key"] == "eci-redeploy.freeze" for t in fake.backend.group("eci-1").spec["Tag"]
    )
    assert "rolling back to" in out.stderr
    assert [m["outcome"] for m in hook.received] == ["deployed"]  # the rules' channels hear of it
    log = tmp_path / "rollback.log"
    log.write_text(out.stderr)
    fake.backend.settle()

    # Frozen: the next reconcile leaves it on 1.1.0 (before: it moved straight back up)
    again = cli(fake, "reconcile", *args)
    assert again.returncode == 0, again.stdout
    assert image(fake, "eci-1") == f"{reg.host}/team/web@{digests['1.1.0']}"
    assert any("frozen" in s["reason"] for s in json.loads(again.stdout)["skipped"])

    # A frozen group can still be rolled back further, to a named tag
    older = cli(fake, "rollback", "web", "--to", "1.0.0", *args)
    assert older.returncode == 0, older.stderr
    assert image(fake, "eci-1") == f"{reg.host}/team/web@{digests['1.0.0']}"
    with log.open("a") as handle:
        handle.write(older.stderr)

    history = cli(fake, "history", "--rules", str(rules), "--log", str(log), "--group", "web-1", "--json")
    assert history.returncode == 0, history.stderr
    entries = json.loads(history.stdout)
    assert [(e["cause"], e["tag_before"], e["tag_after"], e["outcome"]) for e in entries] == [
        ("rollback", "1.2.0", "1.1.0", "applied"),
        ("rollback", "1.1.0", "1.0.0", "applied"),
    ]
    assert entries[0]["digest_before"] == digests["1.2.0"] and entries[0]["digest_after"] == digests["1.1.0"]
    table = cli(fake, "history", "--rules", str(rules), "--log", str(log), "--live")
    assert f"rollback  applied  1.2.0 (sha256:{digests['1.2.0'][7:19]}) -> 1.1.0" in table.stdout

    thawed = cli(fake, "unfreeze", "web", *args)
    assert thawed.returncode == 0 and json.loads(thawed.stdout)["unfrozen"] == ["eci-1"]
    fake.backend.settle()
    up = cli(fake, "reconcile", *args)
    assert up.returncode == 0, up.stdout
    assert image(fake, "eci-1") == f"{reg.host}/team/web@{digests['1.2.0']}"


def test_rollback_refuses_a_tag_the_rule_does_not_deploy_and_changes_nothing(registry, fake, tmp_path):
    reg, digests = registry
    rules = write_rules(tmp_path, web_rule(reg.host))
    fake.backend.seed([described("eci-1", f"{reg.host}/team/web@{digests['1.2.0']}", name="web-1")])
    out = cli(fake, "rollback", "web", "--to", "2.0.0", "--rules", str(rules), "--live")
    assert out.returncode == 2 and "does not deploy 2.0.0" in out.stderr
    both = cli(fake, "rollback", "web", "--to", "1.0.0", "--previous", "--rules", str(rules), "--live")
    assert both.returncode == 2 and "exactly one of --previous and --to" in both.stderr
    assert fake.backend.mutating_calls() == []


def test_rollback_of_a_rule_whose_selector_matches_nothing_is_an_error(registry, fake, tmp_path):
    reg, _ = registry
    rules = write_rules(tmp_path, web_rule(reg.host, selector={"name": "web-typo"}))
    fake.backend.seed([described("eci-1", f"{reg.host}/team/web:1.2.0", name="web-1")])
    for how in (("--to", "1.0.0"), ("--previous",)):
        out = cli(fake, "rollback", "web", *how, "--freeze", "--rules", str(rules), "--live")
        # before: --to exited 0 with no action (a rollback of nothing read as done), --previous blamed the version
        assert out.returncode == 2, out.stdout
        assert "web: nothing to roll back: no container group matches" in out.stderr and "name=web-typo" in out.stderr
    assert fake.backend.mutating_calls() == []


def test_rollback_that_does_not_become_healthy_is_put_back_and_not_frozen(registry, fake, hook, tmp_path):
    """The rule's rollout and health checks hold for a rollback too (docs/rollouts.md)."""
    reg, digests = registry
    rules = write_rules(tmp_path, web_rule(reg.host, rollout={"timeout_seconds": 10, "poll_seconds": 0.05}))
    fake.backend.seed([described("eci-1", f"{reg.host}/team/web@{digests['1.2.0']}", name="web-1")])
    fake.backend.faults.broken_images = [f"*@{digests['1.1.0']}"]  # 1.1.0 cannot start
    out = cli(fake, "rollback", "web", "--previous", "--freeze", "--rules", str(rules), "--live", hook_url=hook.url)
    assert out.returncode == 1, out.stdout
    body = json.loads(out.stdout)
    assert [a["status"] for a in body["actions"]] == ["rolled-back"] and "frozen" not in body
    assert image(fake, "eci-1") == f"{reg.host}/team/web@{digests['1.2.0']}"  # back on what it ran
    assert not any(t["Key"] == "eci-redeploy.freeze" for t in fake.backend.group("eci-1").spec.get("Tag", []))


def test_rollback_dry_run_changes_and_freezes_nothing(registry, fake, tmp_path):
    reg, digests = registry
    rules = write_rules(tmp_path, web_rule(reg.host))
    fake.backend.seed([described("eci-1", f"{reg.host}/team/web@{digests['1.2.0']}", name="web-1")])
    out = cli(fake, "rollback", "web", "--previous", "--freeze", "--dry-run", "--rules", str(rules), "--live")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["dry_run"] is True and "frozen" not in body
    (action,) = body["actions"]
    assert action["params"]["Container.1.Image"] == f"{reg.host}/team/web@{digests['1.1.0']}"  # the plan, shown
    assert fake.backend.mutating_calls() == []


def test_test_policy_says_what_to_check_when_the_registry_cannot_be_reached(fake, tmp_path):
    dead = f"127.0.0.1:{free_port()}"
    rule = web_rule(dead)
    rule["pull"] = {}  # https: the hint names pull.plain_http
    rules = write_rules(tmp_path, rule)
    out = cli(fake, "test-policy", "--rules", str(rules), "--rule", "web")
    assert out.returncode == 7, out.stdout  # docs/cli.md: a registry error outside the reconcile
    (line,) = out.stderr.splitlines()
    assert line.startswith(f"eci-redeploy: {dead}: no answer") and f"add {dead} to pull.plain_http" in line


def test_history_from_the_groups_records_alone(registry, fake, tmp_path):
    reg, digests = registry
    rules = write_rules(tmp_path, web_rule(reg.host))
    fake.backend.seed([described("eci-1", f"{reg.host}/team/web:1.0.0", name="web-1")])
    assert cli(fake, "reconcile", "--rules", str(rules), "--live").returncode == 0
    out = cli(fake, "history", "--rules", str(rules), "--live", "--json")
    assert out.returncode == 0, out.stderr
    (entry,) = json.loads(out.stdout)
    seen = (entry["from"], entry["rule"], entry["group"], entry["tag_after"])
    assert seen == ("group record", "web", "eci-1", "1.2.0")
    assert entry["digest_after"] == digests["1.2.0"]
    nothing = cli(fake, "history", "--rules", str(rules))
    assert nothing.returncode == 2 and "--log" in nothing.stderr


def test_progress_lines_on_stderr_during_a_rollout(tmp_path):
    rules = write_rules(
        tmp_path,
        {
            "name": "web",
            "source": {"repository": "team/web", "tags": {"glob": "*"}},
            "target": {"region": "cn-hangzhou", "action": "update", "container_groups": {"tags": {"app": "web"}}},
            "pull": {"public": ["reg.example.com"]},
            "rollout": {"batch_size": 1, "poll_seconds": 0.05, "timeout_seconds": 30},
        },
    )
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps({"ContainerGroups": [described(f"eci-{i}", "reg.example.com/team/web:1.0.0") for i in (1, 2)]})
    )
    event = tmp_path / "push.json"
    target = {
        "repository": "team/web",
        "tag": "1.1.0",
        "digest": "sha256:" + "c" * 64,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
    }
    push = {"action": "push", "target": target, "request": {"host": "reg.example.com"}, "id": "ev-1"}
    event.write_text(json.dumps({"events": [{**push, "timestamp": "2026-12-01T00:00:00Z"}]}))
    command = ["invoke", str(event), "--rules", str(rules), "--state", str(state), "--transition-seconds", "0.3"]
    out = subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    progress = [line for line in out.stderr.splitlines() if line.startswith("eci-redeploy: ")]
    assert "eci-redeploy: web: batch 1/2: eci-1" in progress and "eci-redeploy: web: batch 2/2: eci-2" in progress
    waits = [line for line in progress if "waiting for health: 1 of 1 group(s) not ready yet" in line]
    assert waits and waits[0].endswith(" s left")


def test_rollback_is_not_held_by_the_rules_gates(registry, tmp_path):
    """A soak gate holds a push until the image is old enough; a rollback is not a new image coming in."""
    reg, digests = registry
    rules = write_rules(tmp_path, web_rule(reg.host, gates={"soak": "1h"}))
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"ContainerGroups": [described("eci-1", f"{reg.host}/team/web@{digests['1.2.0']}")]}))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "eci_redeploy.cli",
            "rollback",
            "web",
            "--to",
            "1.0.0",
            "--rules",
            str(rules),
            "--state",
            str(state),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    (action,) = json.loads(out.stdout)["actions"]
    assert action["status"] == "applied" and action["image"] == f"{reg.host}/team/web@{digests['1.0.0']}"
