"""The cold-start fast path answers only when certain, and never imports the heavy libraries.

The oracle for "unwatched" is the full path itself: the real adapter parses the push and the
validated rules' `for_repository` + `planner.registry_mismatch` decide whether any rule matches.
"""

import itertools
import json
import shutil
import subprocess
import sys

import pytest
import yaml

from eci_redeploy.core import yamlio
from eci_redeploy.core.errors import EventError
from eci_redeploy.events.adapters import parse_payload
from eci_redeploy.events.model import PushEvent
from eci_redeploy.planning.planner import registry_mismatch
from eci_redeploy.rules.index import compiled_rules, write_index
from eci_redeploy.rules.model import load_rules
from eci_redeploy.rules.watched import unwatched_reply

from helpers import EVENTS, EXAMPLES, ROOT, rule


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


def test_a_stale_index_is_not_trusted_the_rules_file_decides(rules):
    # Edited after the build: now a rule watches team/other, which the index does not know.
    document = yaml.safe_load(rules.read_text())
    document["rules"].append(rule("other", "team/other"))
    rules.write_text(yaml.safe_dump(document))
    assert unwatched_reply(push_of("other"), rules) is None
    assert unwatched_reply(push_of("third"), rules)["skipped"][0]["reason"] == "no rule watches team/third"


def test_without_an_index_the_rules_file_answers(rules):
    rules.with_name("rules.index.json").unlink()
    assert unwatched_reply(push_of("other"), rules)["skipped"] == [
        {"rule": None, "reason": "no rule watches team/other"}
    ]
    assert unwatched_reply(push_of("web"), rules) is None
    assert unwatched_reply(push_of("api", batch=True), rules) is None


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nrules: [",  # not YAML
        "version: 1\nversion: 1\nrules: []\n",  # a duplicate key, refused by the full path too
        "version: 2\nrules: []\n",
        "version: 1\nrules: {a: 1}\n",
        "version: 1\nrules: [{name: a}]\n",  # no source
        "version: 1\nrules: [{name: a, source: {repository: 7}}]\n",
        "version: 1\nrules: [{name: a, source: {repository: team/x, registry: [cri-a]}}]\n",
        "[]",
    ],
)
def test_a_rules_file_of_unexpected_shape_takes_the_full_path(tmp_path, text):
    (tmp_path / "rules.yaml").write_text(text + "\n# team/other: in the text, so the YAML is read\n")
    assert unwatched_reply(push_of("other"), tmp_path / "rules.yaml") is None


def test_a_missing_rules_file_takes_the_full_path(tmp_path):
    assert unwatched_reply(push_of("other"), tmp_path / "absent.yaml") is None


def test_the_rules_file_is_read_once_per_version(rules, monkeypatch):
    rules.with_name("rules.index.json").unlink()
    rules.write_text(rules.read_text() + "\n# team/other and team/third, named here: the YAML must be read\n")
    reads = []
    real = yamlio.load_yaml_file
    monkeypatch.setattr(yamlio, "load_yaml_file", lambda path: reads.append(path) or real(path))
    assert unwatched_reply(push_of("other"), rules) is not None
    assert unwatched_reply(push_of("third"), rules) is not None
    assert len(reads) == 1
    document = yaml.safe_load(rules.read_text())
    document["rules"].append(rule("other", "team/other"))
    rules.write_text(yaml.safe_dump(document))  # another size: read again
    assert unwatched_reply(push_of("other"), rules) is None
    assert len(reads) == 2


@pytest.mark.parametrize(
    ("repository", "pushed", "watched"),
    [
        ('"team/\\x77eb"', "web", True),  # an escape hides the path from the text: the YAML decides
        ("'Team/Web'", "web", True),
        ("team/web # team/other", "other", False),  # in a comment only: the YAML says unwatched
        ("team/web", "we", False),  # team/we is in the text (team/web), but no rule watches it
        ("team/web", "other", False),  # not in the text at all: answered without YAML
    ],
)
def test_the_text_check_and_the_yaml_read_agree(tmp_path, repository, pushed, watched):
    text = f"version: 1\nrules:\n  - name: a\n    source:\n      repository: {repository}\n"
    (tmp_path / "rules.yaml").write_text(text)
    assert (unwatched_reply(push_of(pushed), tmp_path / "rules.yaml") is None) is watched


def _acr_push(repo_name, instance):
    event = json.loads((EVENTS / "acr-ee-push.json").read_text())
    event["id"] = f"{repo_name}-{instance}"
    event["data"]["RepoName"] = repo_name
    if instance is None:
        del event["data"]["InstanceId"]
    else:
        event["data"]["InstanceId"] = instance
    return event


REGISTRIES = [None, "cri-abc123", "cri-other", "CRI-ABC123", "acme-registry.cn-hangzhou.cr.aliyuncs.com", "docker.io"]
PUSHES = list(itertools.product(["web", "other", "WEB"], ["cri-abc123", "cri-other", "CRI-ABC123", "", None]))


@pytest.mark.parametrize("registry", REGISTRIES)
def test_unwatched_only_when_the_full_path_matches_no_rule(tmp_path, registry):
    source = rule("web", "team/web", tags={"glob": "*"})
    if registry is not None:
        source["source"]["registry"] = registry
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"version": 1, "rules": [source, rule("api", "team/api")]}))
    rules = load_rules(tmp_path / "rules.yaml")
    answered = 0
    for batch in [[p] for p in PUSHES] + [list(pair) for pair in itertools.combinations(PUSHES[:4], 2)]:
        payload = json.dumps([_acr_push(*p) for p in batch])
        fast = unwatched_reply(payload, tmp_path / "rules.yaml")
        try:
            events = parse_payload(payload.encode(), source="eventbridge")
        except EventError:
            events = []  # every push refused (an InstanceId `CRI-ABC123` fails the cri-[a-z0-9]+ grammar)
        pushes = [e for e in events if isinstance(e, PushEvent)]
        matched = [
            r.name for e in pushes for r in rules.for_repository(e.repository) if registry_mismatch(r, e) is None
        ]
        if fast is not None:
            answered += 1
            assert matched == [], (batch, fast)
    assert answered > 0  # the fast path does answer for this rules file


HEAVY = (
    "pydantic",
    "semver",
    "re2",
    "alibabacloud_eci20180808",
    "alibabacloud_tea_openapi",
    "eci_redeploy.rules.model",
)


@pytest.mark.parametrize(("with_index", "named_in_text"), [(True, False), (False, False), (False, True)])
def test_the_push_function_skips_heavy_imports_for_unwatched_events(rules, tmp_path, with_index, named_in_text):
    if not with_index:  # rules given by ECI_REDEPLOY_RULES, or edited after the build
        rules.with_name("rules.index.json").unlink()
    if named_in_text:  # the text check cannot rule it out: the YAML is read
        rules.write_text(rules.read_text() + "\n# not team/other\n")
    (tmp_path / "event.json").write_bytes(push_of("other"))
    code = (
        "import sys, json; sys.path[:0] = ['functions/push', 'shared']; import index;"
        f"print(json.dumps(index.handler(open({str(tmp_path / 'event.json')!r}, 'rb').read(), None)));"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'yaml' or m in {HEAVY!r}"
        f" or m.startswith(tuple(h + '.' for h in {HEAVY!r})))))"
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
    # Only when the YAML must be read is PyYAML imported, and nothing heavier ever.
    assert [m for m in json.loads(modules) if m.split(".")[0] != "yaml" or not named_in_text] == []
    assert any(m == "yaml" for m in json.loads(modules)) is named_in_text


def _compiled(rules):
    from eci_redeploy.core.yamlio import load_yaml_file

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
        "import sys; sys.path.insert(0, 'shared'); from eci_redeploy.rules.model import load_rules;"
        f"r = load_rules({str(rules)!r}); print([x.name for x in r], sorted(r.templates), 'yaml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == f"{[r.name for r in expected]} {sorted(expected.templates)} False", out.stderr


def test_an_edited_template_invalidates_the_compiled_rules(rules):
    _compiled(rules)
    assert compiled_rules(rules) is not None
    template = rules.parent / "templates" / "api.yaml"
    template.write_text(template.read_text().replace("LOG_LEVEL", "LOG_LEVEL_X"))
    assert compiled_rules(rules) is None  # the YAML is read again, with the edit


def _sealed(rules):
    from eci_redeploy.core.yamlio import load_yaml_file

    loaded = load_rules(rules)
    write_index(
        rules,
        ["team/web", "team/api"],
        document=load_yaml_file(rules),
        templates=loaded.templates,
        template_files={"templates/api.yaml": rules.parent / "templates" / "api.yaml"},
        validated=loaded.dump(),
    )
    return loaded


def test_sealed_rules_are_built_without_validating_and_equal_the_validated(rules, mocker):
    from eci_redeploy.rules.index import sealed_rules
    from eci_redeploy.rules.model import RulesFile

    expected = _sealed(rules)
    assert sealed_rules(rules) is not None
    validate = mocker.spy(RulesFile, "model_validate")
    loaded = load_rules(rules)
    assert validate.call_count == 0
    assert loaded.rules == expected.rules and repr(loaded.rules) == repr(expected.rules)
    assert (loaded.notify, loaded.gates, loaded.templates, loaded.path) == (
        expected.notify,
        expected.gates,
        expected.templates,
        expected.path,
    )
    assert [r.model_fields_set for r in loaded] == [r.model_fields_set for r in expected]


def test_a_tampered_sealed_index_is_not_trusted(rules, mocker):
    from eci_redeploy.rules.index import sealed_rules
    from eci_redeploy.rules.model import RulesFile

    expected = _sealed(rules)
    index = rules.with_name("rules.index.json")
    body = json.loads(index.read_text())
    body["validated"]["rules"][0]["source"]["repository"] = "team/evil"  # the seal no longer matches
    body["validated"]["rules"][0]["target"]["region"] = "NOT A REGION"
    index.write_text(json.dumps(body))
    assert sealed_rules(rules) is None
    validate = mocker.spy(RulesFile, "model_validate")
    loaded = load_rules(rules)  # validated again, from the document
    assert validate.call_count == 1
    assert [r.source.repository for r in loaded] == [r.source.repository for r in expected]


def test_a_stale_sealed_index_is_not_trusted(rules):
    from eci_redeploy.rules.index import sealed_rules

    _sealed(rules)
    rules.write_text(rules.read_text().replace("team/web", "team/web2"))
    assert sealed_rules(rules) is None
    assert "team/web2" in [r.source.repository for r in load_rules(rules)]
    _sealed(rules)
    template = rules.parent / "templates" / "api.yaml"
    template.write_text(template.read_text().replace("LOG_LEVEL", "LOG_LEVEL_X"))
    assert sealed_rules(rules) is None  # an edited template: the rules are read and validated again


def test_a_sealed_index_from_a_version_that_read_stay_within_is_validated_again(rules):
    """Issue 30 item 5: an index sealed by a version that read `stay_within` (the rules file and its seal
    unchanged since that build) must not be built with the key dropped (the rule would silently lose
    its line): it is validated again from the document, and refused naming `updates`."""
    import hashlib

    from eci_redeploy.core.errors import RulesError
    from eci_redeploy.rules import index as index_module

    _sealed(rules)
    index = rules.with_name("rules.index.json")
    body = json.loads(index.read_text())
    for doc in (body["document"], body["validated"]):  # what that version's build wrote
        doc["rules"][0]["source"]["tags"]["stay_within"] = "minor"
    rules.write_text(json.dumps(body["document"]))  # its rules file (YAML reads JSON)
    body["rules_sha256"] = hashlib.sha256(rules.read_bytes()).hexdigest()
    body["seal"] = index_module._seal(body)
    index.write_text(json.dumps(body))
    assert index_module.sealed_rules(rules) is not None  # a genuine, current seal
    with pytest.raises(RulesError, match="stay_within is replaced by updates"):
        load_rules(rules)
