"""The cold-start fast path answers only when certain, and never imports the heavy libraries."""

import json
import shutil
import subprocess
import sys

import pytest

from eci_redeploy.fastpath import unwatched_reply, write_index

from helpers import EVENTS, EXAMPLES, ROOT


@pytest.fixture
def rules(tmp_path):
    shutil.copy(EXAMPLES / "rules.yaml", tmp_path / "rules.yaml")
    shutil.copytree(EXAMPLES / "templates", tmp_path / "templates")
    write_index(tmp_path / "rules.yaml", ["team/web", "team/api"])
    return tmp_path / "rules.yaml"


def push_of(repo_name, *, batch=False):
    event = json.loads((EVENTS / "acr-ee-push.json").read_text())
    event["data"]["RepoName"] = repo_name
    return json.dumps([event] if batch else event).encode()


def test_unwatched_push_is_answered_without_the_full_path(rules):
    assert unwatched_reply(push_of("other"), rules) == {
        "ok": True,
        "actions": [],
        "skipped": [{"rule": None, "reason": "no rule watches team/other"}],
    }
    assert unwatched_reply(push_of("other", batch=True), rules)["ok"] is True


@pytest.mark.parametrize(
    "payload",
    [
        push_of("web"),  # watched
        push_of("WEB"),  # watched, in another case
        (EVENTS / "acr-ee-build-completed.json").read_bytes(),  # not a push: the full path explains
        (EVENTS / "acr-webhook.json").read_bytes(),
        b"{broken",
        b"[]",
    ],
)
def test_anything_uncertain_takes_the_full_path(rules, payload):
    assert unwatched_reply(payload, rules) is None


def test_a_stale_or_missing_index_takes_the_full_path(rules):
    rules.write_text(rules.read_text() + "\n# edited after the build\n")
    assert unwatched_reply(push_of("other"), rules) is None
    rules.with_name("rules.index.json").unlink()
    assert unwatched_reply(push_of("other"), rules) is None


def test_the_push_function_skips_heavy_imports_for_unwatched_events(rules, tmp_path):
    (tmp_path / "event.json").write_bytes(push_of("other"))
    code = (
        "import sys, json; sys.path[:0] = ['functions/push', 'shared']; import index;"
        f"print(json.dumps(index.handler(open({str(tmp_path / 'event.json')!r}, 'rb').read(), None)));"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'yaml', 'alibabacloud_eci20180808')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"ECI_REDEPLOY_RULES": str(rules), "PATH": "/usr/bin:/bin"},
    )
    reply, modules = out.stdout.strip().splitlines()
    assert json.loads(reply)["skipped"][0]["reason"] == "no rule watches team/other"
    assert modules == "[]"


def _compiled(rules):
    from eci_redeploy.rules import load_rules
    from eci_redeploy.yamlio import load_yaml_file

    loaded = load_rules(rules)
    write_index(
        rules,
        ["team/web", "team/api"],
        document=load_yaml_file(rules),
        templates=loaded.templates,
        template_files={"templates/api.yaml": rules.parent / "templates" / "api.yaml"},
    )
    return loaded


def test_compiled_rules_load_without_yaml_and_match_the_yaml(rules):
    expected = _compiled(rules)
    code = (
        "import sys; sys.path.insert(0, 'shared'); from eci_redeploy.rules import load_rules;"
        f"r = load_rules({str(rules)!r}); print([x.name for x in r], sorted(r.templates), 'yaml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == f"{[r.name for r in expected]} {sorted(expected.templates)} False", out.stderr


def test_an_edited_template_invalidates_the_compiled_rules(rules):
    from eci_redeploy.fastpath import compiled_rules

    _compiled(rules)
    assert compiled_rules(rules) is not None
    template = rules.parent / "templates" / "api.yaml"
    template.write_text(template.read_text().replace("LOG_LEVEL", "LOG_LEVEL_X"))
    assert compiled_rules(rules) is None  # the YAML is read again, with the edit
