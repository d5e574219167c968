"""Every audit line the product writes carries the same common fields under the same names (issue 27
item 2: audit lines built in one place in report/). The names are read from docs/audit.md's two
tables ("every audit line carries these", "some lines also carry"), so the doc and the code are held
together: a line kind that drops or renames a common field, or a field no table documents, fails here.

The lines come from the product's own paths: a rollout with a rollback and a repeated push (apply,
skipped), held changes on the wire (held, superseded, released, refused, approved), a push whose
digest was not confirmed, a push dated in the future.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from eci_redeploy.clients.eci import EciGateway, RetryPolicy
from eci_redeploy.events.adapters import parse_body
from eci_redeploy.events.model import PushEvent
from eci_redeploy.fake.inprocess import inprocess_factory
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.functions.gate_endpoints import http_route
from eci_redeploy.pipeline import run
from eci_redeploy.report import audit, auditline
from gates_stage import INSTANCE, REPO, Stage, digest

from helpers import EVENTS, ROOT, described, rule

DOCS = ROOT / "docs"
HOST = "reg.example.com"
GOOD, BAD = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def documented() -> tuple[list[str], list[str]]:
    """docs/audit.md's audit-line fields: (those every line carries, those some lines also carry), each
    the backquoted names in the first column of its table."""
    text = (DOCS / "audit.md").read_text()
    section = text.split("## Audit lines", 1)[1].split("\n## ", 1)[0]
    every, _, some = section.partition("Some lines also carry:")

    def names(table: str) -> list[str]:
        rows = [r for r in table.splitlines() if r.startswith("| `")]
        return [n for r in rows for n in re.findall(r"`([a-z_]+)`", r.split("|")[1])]

    common, optional = names(every), names(some)
    assert {"ts", "kind", "event_id", "rule", "outcome"} <= set(common), common
    assert {"tag_after", "gate"} <= set(optional), optional
    return common, optional


def audit_lines(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.startswith("{") and '"kind": "audit"' in x]


def test_the_builder_holds_the_fields_the_docs_list():
    common, optional = documented()
    assert ["ts", "kind", *auditline.COMMON] == common
    assert sorted(auditline.ORDER) == sorted(set(common + optional) - {"ts", "kind"})
    # docs/reporting.md lists the stable fields again, in prose: the same ones
    listed = re.search(r"the stable fields\s+`([^`]+)`", (DOCS / "reporting.md").read_text())
    assert listed and [f.strip() for f in listed.group(1).split(",")] == list(auditline.COMMON)
    # report/audit.py's docstring (which tests/system/test_self_contained.py holds to audit.md) names them all
    declared = re.search(r"Stable fields:(.*?)\.\s", audit.__doc__ or "", re.S)
    assert declared and {f.strip() for f in declared.group(1).split(",")} == set(common + optional)


def test_a_name_that_is_no_audit_field_is_refused_by_the_builder():
    with pytest.raises(TypeError, match="not an audit field: colour"):
        auditline.line(rule="r", outcome="applied", colour="red")
    assert list(auditline.line(rule="r", outcome="held", gate="scan")) == [*auditline.COMMON, "gate"]


def _apply_lines(make_rules) -> None:
    """A rollout (applied), the same push again (skipped), a broken image (rolled-back)."""
    rules = make_rules(
        {
            **rule("web", pull={"public": [HOST]}),
            "rollout": {"batch_size": 1, "timeout_seconds": 1, "poll_seconds": 0.01, "failure_budget": 1},
        }
    )
    backend = FakeEci()
    backend.seed([described(f"eci-{i}", f"{HOST}/team/web:1.0.0", name=f"web-{i}") for i in range(2)])
    gateway = EciGateway(inprocess_factory(backend), retry=RetryPolicy(max_attempts=2, initial=0.001))
    good = PushEvent("team/web", "1.1.0", GOOD, "distribution", "ev-good", registry_host=HOST)
    run([good], rules, gateway, {})
    backend.settle()
    run([good], rules, gateway, {})
    backend.faults.broken_images = [f"*{BAD}"]
    run([PushEvent("team/web", "1.2.0", BAD, "distribution", "ev-bad", registry_host=HOST)], rules, gateway, {})
    # refused before planning (the webhook's digest confirmation), and dated in the future (the adapters)
    audit.refused(good, "web", "the registry says 1.1.0 is another digest; the push is dropped")
    body = json.loads((EVENTS / "distribution-push.json").read_text())
    body["events"][1]["timestamp"] = "2099-01-01T00:00:00Z"
    parse_body(body, source="webhook")


def _hold_lines(make_rules) -> None:
    """Held, superseded by a newer push, released by its scan; refused by a scan; approved."""
    s = Stage(make_rules, {"scan": {"max_severity": "medium"}})
    try:
        s.push("1.1.0", 1)
        s.later(minutes=1).push("1.2.0", 2)
        s.acr.set_scan(INSTANCE, REPO, "1.2.0", digest(2))
        s.later(minutes=1).event("ScanCompleted", "1.2.0", 2)
        s.later(minutes=1).push("1.3.0", 3)
        s.acr.set_scan(INSTANCE, REPO, "1.3.0", digest(3), critical=1)
        s.event("ScanCompleted", "1.3.0", 3)
    finally:
        s.close()
    s = Stage(make_rules, {"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})
    try:
        s.push("1.1.0", 1)
        [held] = s.status()["held"]
        request = SimpleNamespace(
            path=f"/approvals/{held['id']}", method="POST", headers={"authorization": "Bearer al1ce-token"}, query={}
        )
        dispatcher = SimpleNamespace(dispatch=lambda order: SimpleNamespace(task_id="t-1"))
        reply = http_route(request, None, s.rules, s.env, s.gateway, dispatcher, now=lambda: s.now + timedelta(hours=1))
        assert reply["statusCode"] == 202, reply
    finally:
        s.close()


def test_every_audit_line_carries_the_common_fields_with_the_documented_names(make_rules, capsys):
    common, optional = documented()
    capsys.readouterr()
    _apply_lines(make_rules)
    _hold_lines(make_rules)
    lines = audit_lines(capsys.readouterr().err)
    kinds = {(x["outcome"], x["event_source"]) for x in lines}
    outcomes = {o for o, _ in kinds}
    assert {"applied", "skipped", "rolled-back", "refused", "held", "superseded", "released", "approved"} <= outcomes
    assert ("refused", "distribution") in kinds and ("applied", "gate-release") in kinds
    for x in lines:
        missing = [f for f in common if f not in x]
        assert not missing, f"{x['outcome']} line ({x['event_source']}) lacks {missing}: {x}"
        undocumented = sorted(set(x) - set(common) - set(optional))
        assert not undocumented, (
            f"{x['outcome']} line ({x['event_source']}) has {undocumented}: add them to docs/audit.md"
        )
    # a held change's line names the gate it waits on; the approver's token is never on the trail
    assert {x["gate"] for x in lines if x["outcome"] == "held"} == {"scan", "approval"}
    assert "al1ce-token" not in json.dumps(lines) and "b0b-token" not in json.dumps(lines)
