"""The audit trail an operator can read (issue 24): tags beside digests, a replace's row names what it
replaced, a skip has no request, `--target NAME` finds the group by name, and a reconcile's skip lines
carry their own rule's push."""

import json
import subprocess
import sys

from eci_redeploy.clients.registry_api import Resolved
from eci_redeploy.events.model import PushEvent
from eci_redeploy.operations.reconcile import reconcile
from eci_redeploy.pipeline import run
from eci_redeploy.report import audit

from helpers import ROOT, clean_env, described, rule

HOST = "reg.example.com"
D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def audit_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"kind": "audit"' in line]


class StubRegistry:
    """What operations.reconcile asks a registry (clients.registry_api.RegistryClient's two calls)."""

    def __init__(self, tags):
        self.tags, self.requests_made = tags, 0

    def list_tags(self, repository):
        self.requests_made += 1
        return list(self.tags[repository])

    def resolve(self, repository, tag, platform="linux/amd64"):
        self.requests_made += 1
        return Resolved(tag, self.tags[repository][tag])


def test_a_replace_row_names_the_image_it_replaced(make_rules, eci, capsys):
    template = {"ContainerGroupName": "api", "Container": [{"Name": "app", "Image": f"{HOST}/team/web:1.0.0"}]}
    rules = make_rules(
        rule("api", action="replace", template="api.yaml", selector={"name": "api"}, pull={"public": [HOST]}),
        templates={"api.yaml": template},
    )
    eci.backend.seed([described("eci-old", f"{HOST}/team/web:1.0.0", name="api")])
    capsys.readouterr()
    run([PushEvent("team/web", "1.1.0", D2, "distribution", "ev-1", registry_host=HOST)], rules, eci.gateway, {})
    lines = audit_lines(capsys.readouterr().err)
    create = next(x for x in lines if x["action"] == "CreateContainerGroup")
    assert create["image_before"] == f"{HOST}/team/web:1.0.0" and create["tag_before"] == "1.0.0"
    table = audit.render(lines)
    assert "? ->" not in table  # before the fix: "? -> reg.example.com/team/web@sha256:..."
    assert f"1.0.0 -> 1.1.0 (sha256:{'2' * 12})" in table.splitlines()[0]


def test_a_skip_row_has_no_request_and_the_group_name_finds_rows(make_rules, eci, capsys, tmp_path):
    rules = make_rules(rule("web", pull={"public": [HOST]}))
    eci.backend.seed(
        [
            described("eci-1", f"{HOST}/team/web:1.0.0", name="web-a"),
            described("eci-2", f"{HOST}/team/web:1.0.0", name="web-b", status="Updating"),
        ]
    )
    capsys.readouterr()
    run([PushEvent("team/web", "1.1.0", D2, "distribution", "ev-1", registry_host=HOST)], rules, eci.gateway, {})
    log = tmp_path / "fc.log"
    log.write_text(capsys.readouterr().err)
    env = clean_env()

    def cli(*args):
        out = subprocess.run(
            [sys.executable, "-m", "eci_redeploy.cli", "audit", str(log), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    table = cli("--all")
    assert "request None" not in table
    skip = next(row for row in table.splitlines() if "deferred" in row)
    assert "in flight" in skip and "request" not in skip
    # docs/cli.md: --target takes the group's id or its name
    by_name = cli("--target", "web-a").strip().splitlines()
    assert len(by_name) == 1 and "web-a (eci-1)" in by_name[0] and "applied" in by_name[0]


def test_reconcile_skip_lines_carry_their_own_rules_push(make_rules, eci, capsys):
    web = rule("web", "team/web", tags={"semver": "^1.0.0"}, selector={"name": "web"}, pull={"public": [HOST]})
    api = rule("worker", "team/api", tags={"semver": "^1.0.0"}, selector={"name": "api"}, pull={"public": [HOST]})
    for r in (web, api):
        r["source"]["registry"] = HOST
    rules = make_rules(web, api)
    eci.backend.seed(
        [
            described("eci-web", f"{HOST}/team/web:1.0.0", name="web"),
            described("eci-api", f"{HOST}/team/api@{D3}", name="api"),  # already on the newest
        ]
    )
    registry = StubRegistry({"team/web": {"1.0.0": D1, "1.1.0": D2}, "team/api": {"1.0.0": D1, "1.5.0": D3}})
    capsys.readouterr()
    result = reconcile(rules, eci.gateway, lambda r, h: registry, {})
    assert [o.step.rule for o in result.report.outcomes] == ["web"]
    lines = audit_lines(capsys.readouterr().err)
    (api_line,) = [x for x in lines if x["rule"] == "worker"]
    # Before the fix it carried the first push of the tick (web's: reconcile:web:<D2>, digest D2).
    assert api_line["event_id"] == f"reconcile:worker:{D3}" and api_line["digest_after"] == D3
    assert api_line["tag_after"] == "1.5.0" and api_line["outcome"] == "skipped"
