"""A clone stands on its own: no tracked file points outside the repository, the docs under docs/ are
linked and cover what the code reads (settings, rules keys, commands, audit fields, work orders,
notification bodies), the vendored fc3 schema matches its recorded checksum, and the CI gate on
pytest's JUnit report refuses failures, skips and empty runs.

`.ci/run` proves the rest by running the whole suite in a fresh clone with nothing beside it."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from helpers import ROOT

DOCS = ROOT / "docs"
CONTRACT_DOCS = ("cli.md", "settings.md", "rules.md", "notifications.md", "work-order.md", "audit.md")

# What a tracked file must not mention: the material that lives beside the repository on the
# machine the project started on, and the design document that is not part of the repository.
OUTSIDE = [
    (re.compile(r"\.\./shared\b"), "the folder beside the repository"),
    (re.compile(r"/work/[s]hared\b"), "an absolute path outside the repository"),
    (re.compile(r"\bshared/reference\b"), "reference material outside the repository"),
    (re.compile(r"\bDESIGN\.md\b"), "a document that is not in the repository (link docs/ instead)"),
    (re.compile(r"\bcontract [0-9]"), "a numbered contract of that document (link docs/ instead)"),
    (re.compile(r"""\.parent\s*/\s*["']shared["']"""), "a path to a sibling folder"),
]


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"git ls-files failed in {ROOT} (the tests run from a git checkout): {exc}")
    return [ROOT / name for name in out.decode().split("\0") if name]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
        return None  # binary files, submodules, files deleted in the work tree


def test_no_tracked_file_refers_to_anything_outside_the_repository():
    hits = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for pattern, why in OUTSIDE:
                if pattern.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {why}: {line.strip()[:100]}")
    assert not hits, "\n".join(hits)


def test_the_outside_patterns_catch_what_they_are_for():
    # the scan above must be able to fail: each pattern catches the reference it is named for
    # ("@" keeps this file itself clean of what it looks for)
    samples = [
        'SCHEMA = ROOT.parent / "sh@ared" / "reference" / "fc3-schema.json"',
        "see ../sh@ared/eci-api.md",
        "cat /work/sh@ared/README.md",
        "sh@ared/reference/event-formats.md",
        "the design is in DES@IGN.md",
        "the schema is cont@ract 3 plus:",
    ]
    for sample in (s.replace("@", "") for s in samples):
        assert any(p.search(sample) for p, _ in OUTSIDE), sample
    assert not any(p.search("shared/eci_redeploy/cli.py and docs/rules.md") for p, _ in OUTSIDE)


def markdown_links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_readme_links_every_contract_doc_and_every_relative_link_resolves_inside_the_repository():
    readme = (ROOT / "README.md").read_text()
    linked = set(markdown_links(readme))
    missing = [f"docs/{name}" for name in CONTRACT_DOCS if f"docs/{name}" not in linked]
    assert not missing, f"README.md does not link {missing}"
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md")), ROOT / "deploy" / "README.md"]:
        for link in markdown_links(page.read_text()):
            if re.match(r"^[a-z]+:", link) or link.startswith("#"):
                continue  # web links and anchors
            target = (page.parent / link.split("#", 1)[0]).resolve()
            if not target.is_relative_to(ROOT.resolve()) or not target.exists():
                broken.append(f"{page.relative_to(ROOT)}: {link}")
    assert not broken, broken


def code_text() -> str:
    files = [*(ROOT / "shared").rglob("*.py"), *(ROOT / "functions").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")]
    return "\n".join(p.read_text() for p in files) + (ROOT / "s.yaml").read_text()


def test_docs_settings_names_every_variable_the_code_reads():
    names = set(re.findall(r"\bECI_REDEPLOY_[A-Z0-9_]*[A-Z0-9]\b", code_text()))
    assert {"ECI_REDEPLOY_RULES", "ECI_REDEPLOY_ECI_ENDPOINT", "ECI_REDEPLOY_WEBHOOK_TOKEN"} <= names
    documented = set(re.findall(r"`(ECI_REDEPLOY_[A-Z0-9_]+)`", (DOCS / "settings.md").read_text()))
    assert not names - documented, f"add to docs/settings.md: {sorted(names - documented)}"


def schema_keys(node: object) -> set[str]:
    keys: set[str] = set()
    if isinstance(node, dict):
        for name, value in (node.get("properties") or {}).items():
            keys.add(name)
            keys |= schema_keys(value)
        for key, value in node.items():
            if key != "properties":
                keys |= schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= schema_keys(value)
    return keys


def test_docs_rules_names_every_key_of_the_rules_schema():
    schema = json.loads((ROOT / "schema" / "rules.schema.json").read_text())
    from eci_redeploy.rules.model import json_schema

    assert json_schema() == schema, "schema/rules.schema.json is stale: eci-redeploy schema > schema/rules.schema.json"
    keys = schema_keys(schema)
    assert {"version", "rules", "source", "tags", "semver", "rollout", "failure_budget"} <= keys
    text = (DOCS / "rules.md").read_text()
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"add to docs/rules.md: {missing}"


def test_docs_cli_names_every_command_and_option():
    from eci_redeploy.cli import cli

    text = (DOCS / "cli.md").read_text()
    missing = []
    for name, command in cli.commands.items():
        if f"eci-redeploy {name}" not in text:
            missing.append(name)
        for param in command.params:
            missing += [f"{name} {opt}" for opt in param.opts if opt.startswith("--") and opt not in text]
    assert not missing, f"add to docs/cli.md: {missing}"


def audit_fields(doc: str) -> list[str]:
    """The stable fields audit.py declares in its docstring ("Stable fields: ts, kind, ...")."""
    declared = re.search(r"Stable fields:(.*?)\.\s", doc, re.S)
    assert declared, "audit.py's docstring lists its stable fields"
    fields = [f.strip() for f in declared.group(1).split(",")]
    assert {"event_id", "rule", "outcome", "request_id"} <= set(fields)
    return fields


def test_docs_name_every_audit_field_work_order_field_and_notification_key():
    import eci_redeploy.report.audit
    from eci_redeploy.execution.handoff import GateWork, WorkApproval, WorkEvent, WorkEvidence, WorkOrder
    from eci_redeploy.report.notify import Message

    checks = {
        "audit.md": audit_fields(eci_redeploy.report.audit.__doc__ or ""),
        "work-order.md": [
            *WorkOrder.model_fields,
            *WorkEvent.model_fields,
            *GateWork.model_fields,
            *WorkEvidence.model_fields,
            *WorkApproval.model_fields,
        ],
        "notifications.md": list(Message("r", "deployed").payload()),
    }
    missing = []
    for page, names in checks.items():
        text = (DOCS / page).read_text()
        missing += [f"{page}: {n}" for n in names if f"`{n}`" not in text and f'"{n}"' not in text]
    assert not missing, missing


def test_vendored_fc3_schema_matches_the_checksum_its_readme_records():
    recorded = re.search(r"sha256 `([0-9a-f]{64})`", (ROOT / "deploy" / "README.md").read_text())
    assert recorded, "deploy/README.md records the fc3 schema's sha256"
    actual = hashlib.sha256((ROOT / "deploy" / "fc3-schema.json").read_bytes()).hexdigest()
    assert actual == recorded.group(1), "deploy/fc3-schema.json changed: update its source and checksum"


def _check_junit():
    spec = importlib.util.spec_from_file_location("check_junit", ROOT / ".ci" / "check_junit.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("body", "gate"),
    [
        ("def test_a():\n    pass\n\ndef test_b():\n    pass\n", 0),
        ("import pytest\n\ndef test_a():\n    pass\n\ndef test_b():\n    pytest.skip('no tool')\n", 1),
        ("import pytest\n\n@pytest.mark.xfail(reason='known')\ndef test_a():\n    assert False\n", 1),
        ("def test_a():\n    assert False\n", 1),
        ("import nothing_of_that_name\n", 1),  # a collection error
        ("# no tests\n", 1),  # pytest exit 5
    ],
    ids=["all-pass", "a-skip", "an-xfail", "a-failure", "collection-error", "no-tests"],
)
def test_ci_gate_passes_only_a_run_where_every_collected_test_passed(tmp_path, body, gate, capsys):
    """.ci/run's last word, fed with real pytest JUnit reports."""
    sample = tmp_path / f"test_sample_{tmp_path.name}.py"  # a module name of its own per case
    sample.write_text(body)
    junit = tmp_path / "junit.xml"
    # in-process (a subprocess per case costs seconds of interpreter and plugin start-up)
    pytest.main(
        [
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            f"--rootdir={tmp_path}",
            "-c",
            os.devnull,
            f"--junitxml={junit}",
            str(sample),
        ]
    )
    capsys.readouterr()  # the inner run's report is not this test's output
    assert _check_junit().main(str(junit)) == gate
