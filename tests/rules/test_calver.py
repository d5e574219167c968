"""Issue 28: calendar versions and orders of several keys.

- `calver: <format>` with calver.org's tokens (calver.org, "Scheme": YYYY, YY, 0Y, MM, 0M, WW, 0W, DD,
  0D, MAJOR, MINOR, MICRO, MODIFIER), run on the schemes calver.org's case studies name (Ubuntu
  YY.0M.MICRO with its versions 4.10 and 16.04, Twisted YY.MINOR.MICRO, youtube_dl YYYY.0M.0D, pytz
  YYYY.MM, Teradata YY.MM.MINOR.MICRO with 15.10, PyCharm YYYY.MINOR.MICRO, OpenSCAD YYYY.0M,
  fusefs-ntfs YYYY.MM.DD_MICRO, certifi YYYY.MM.DD; calver.org's text at mahmoud/calver
  entries/overview.md and calver.org itself) and the issue's shapes. The versions are calver.org's
  where it names some (Ubuntu 4.10 and 16.04, Teradata 15.10); the others are dates written in each
  scheme, ordered by the calendar;
- `order: {by: numerical, keys: [...]}` (named groups compared in turn);
- `validate` warns when `alphabetical` ranks digit runs of varying width by text;
- the issue's date tags (2024.06.1, 2024.07.2, 2024.07.10) through `plan`, `invoke` and the reconcile
  against Debian's docker-registry.
The order expected is the calendar's: a later date is newer.
"""

import json
import re
import subprocess
import sys

import pytest

from eci_redeploy.core.errors import RulesError
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.rules.calver import CalverError, compile_format
from eci_redeploy.rules.model import parse_rules
from eci_redeploy.rules.tagpolicy import Order, TagPolicy

from helpers import ROOT, clean_env, rule

# (format, tags oldest first): every tag matches, each is newer than the one before.
CALVER_ORG = [
    ("YY.0M[.MICRO]", ["4.10", "16.04", "16.04.1", "16.10"]),  # Ubuntu (calver.org: 4.10 first, 16.04 LTS)
    ("YY.MINOR.MICRO", ["16.6.0", "16.10.0", "17.1.0"]),  # Twisted
    ("YYYY.0M.0D", ["2016.06.19", "2016.12.01", "2017.01.02"]),  # youtube_dl
    ("YYYY.MM", ["2016.4", "2016.10", "2017.2"]),  # pytz
    ("YY.MM.MINOR.MICRO", ["15.10.0.7", "15.10.0.10", "15.10.1.0", "16.10.0.0"]),  # Teradata (15.10)
    ("YYYY.MINOR.MICRO", ["2016.1.4", "2016.2.0", "2016.10.0"]),  # PyCharm
    ("YYYY.0M", ["2015.03", "2019.05", "2021.01"]),  # OpenSCAD
    ("YYYY.MM.DD_MICRO", ["2010.9.30_1", "2010.10.2_1", "2010.10.2_2"]),  # fusefs-ntfs
    ("YYYY.MM.DD", ["2016.2.28", "2016.8.2", "2016.8.24"]),  # certifi
    ("0W.YYYY", ["52.2023", "01.2024", "02.2024"]),  # week first: keys go by significance (year, week)
]
# The issue's shapes.
ISSUE_SHAPES = [
    ("YYYY.0M.MICRO", ["2024.06.1", "2024.07.2", "2024.07.10"]),
    ("YYYY.0M.0D", ["2024.06.30", "2024.07.09", "2024.07.10"]),
    ("YYYY.0M.0D[-MICRO]", ["2024.07.09-3", "2024.07.10", "2024.07.10-1", "2024.07.10-2", "2024.07.11"]),
    ("YYYY0M0D-MICRO-MODIFIER", ["20240709-235959-fff0000", "20240710-093000-abc1234", "20240710-153000-0000000"]),
    ("0D.0M.YYYY", ["31.12.2025", "14.03.2026", "15.03.2026"]),
]


@pytest.mark.parametrize(("fmt", "tags"), CALVER_ORG + ISSUE_SHAPES, ids=[f for f, _ in CALVER_ORG + ISSUE_SHAPES])
def test_calver_orders_by_the_calendar(fmt, tags):
    policy = TagPolicy("calver", fmt)
    assert [policy.decide(t) for t in tags] == [None] * len(tags)
    keys = [policy.order_key(t) for t in tags]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert policy.best(list(reversed(tags))) == tags[-1]
    assert policy.best(sorted(tags)) == tags[-1]  # whatever order the registry lists them in


def test_alphabetical_order_gets_the_issue_wrong_and_calver_right():
    tags = ["2024.06.1", "2024.07.2", "2024.07.10"]
    assert max(tags) == "2024.07.2"  # text order: what the reconcile picked before
    assert TagPolicy("calver", "YYYY.0M.MICRO").best(tags) == "2024.07.10"


@pytest.mark.parametrize(
    ("fmt", "tag", "why"),
    [
        ("YYYY.0M.0D", "2024.7.10", "does not match calver YYYY.0M.0D"),  # 0M: two digits
        ("YYYY.0M.0D", "2024.13.01", "does not match"),  # no 13th month
        ("YYYY.MM.DD", "2024.07.10", "does not match"),  # MM: no leading zero (calver.org: 1, 2 ... 12)
        ("YYYY.0M.0D", "latest", "does not match"),
        ("YYYY0M0D-MICRO-MODIFIER", "20240710-153000", "does not match"),
    ],
)
def test_calver_refuses_other_shapes_with_a_reason(fmt, tag, why):
    assert why in TagPolicy("calver", fmt).decide(tag)


def test_a_modifier_is_matched_never_compared():
    policy = TagPolicy("calver", "YYYY0M0D-MICRO-MODIFIER")
    assert policy.order_key("20240710-153000-abc1234") == policy.order_key("20240710-153000-fff9999")


@pytest.mark.parametrize(
    ("fmt", "fragment"),
    [
        ("", "empty calver format"),
        ("latest", "names no part to order by"),
        ("YYYY.YY", "year appears twice"),
        ("YYYY.[0M", "without its ']'"),
        ("YYYY.0M]", "without its '['"),
        ("YYYY[.0M[.0D]]", "do not nest"),
    ],
)
def test_bad_formats_are_one_clear_error(fmt, fragment):
    with pytest.raises(CalverError, match=re.escape(fragment)):
        compile_format(fmt)
    with pytest.raises(RulesError, match=r"source\.tags\.calver"):
        parse_rules({"version": 1, "rules": [rule("a", tags={"calver": fmt})]}, source="rules.yaml")


# --- keys compared in turn ---------------------------------------------------------------------------

DATE_REGEX = r"^(?P<year>\d{4})\.(?P<month>\d{1,2})\.(?P<build>\d+)$"


def test_numerical_keys_are_compared_in_turn():
    policy = TagPolicy("regex", DATE_REGEX, order=Order("numerical", ("year", "month", "build")))
    tags = ["2023.12.40", "2024.06.1", "2024.07.2", "2024.07.9", "2024.07.10"]
    keys = [policy.order_key(t) for t in tags]
    assert keys == sorted(keys)
    assert policy.best(tags) == "2024.07.10"
    assert Order("numerical", "build").keys == ("build",) and Order("numerical", "build").key == "build"


def test_keys_in_a_rules_file(make_rules):
    keys = {"by": "numerical", "keys": ["year", "month", "build"]}
    rules = make_rules(rule("jobs", tags={"regex": DATE_REGEX, "order": keys}))
    policy = rules.policy(rules.rule("jobs"))
    assert policy.order.keys == ("year", "month", "build")
    assert policy.order_key("2024.07.10") > policy.order_key("2024.07.9")
    assert policy.warnings() == []


@pytest.mark.parametrize(
    ("order", "fragment"),
    [
        ({"by": "numerical"}, "give exactly one of key"),
        ({"by": "numerical", "key": "year", "keys": ["year"]}, "give exactly one of key"),
        ({"by": "numerical", "keys": ["year", "nope"]}, "'nope' is not a named group"),
        ({"by": "numerical", "keys": ["year", "year"]}, "name a group twice"),
        ({"by": "numerical", "keys": []}, "source.tags.order.keys"),
    ],
)
def test_bad_keys_are_one_clear_error(order, fragment):
    with pytest.raises(RulesError, match=fragment):
        parse_rules({"version": 1, "rules": [rule("a", tags={"regex": DATE_REGEX, "order": order})]}, source="r")


def test_alphabetical_on_varying_width_digits_is_warned_not_promised():
    policy = TagPolicy("regex", DATE_REGEX, order=Order("alphabetical", ("year", "month", "build")))
    warnings = policy.warnings()
    assert [w.split("'")[1] for w in warnings] == ["month", "build"]  # year is \d{4}: one width
    assert all("use by: numerical (or calver)" in w for w in warnings)
    assert "as text" in policy.describe() and "numerically" not in policy.describe()
    fixed = TagPolicy("regex", r"^main-(?P<ts>\d{14})$", order=Order("alphabetical", "ts"))
    assert fixed.warnings() == []


def test_a_semver_range_written_for_dates_is_warned():
    # the issue: `semver: '>=2024.1.0'` validated, then skipped every push as "not a version"
    (warning,) = TagPolicy("semver", ">=2024.1.0").warnings()
    assert "date tags such as 2024.07.10 are not versions" in warning and "use calver" in warning
    assert TagPolicy("semver", "2024.07.10").decide("2024.07.10") is not None  # leading zero: not a version
    assert TagPolicy("semver", ">=1.2.0 <2.0.0").warnings() == []


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(),
        timeout=120,
    )


def test_validate_warns_and_describes_what_it_implements(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\n"
        "rules:\n"
        "  - name: text\n"
        "    source:\n"
        "      repository: team/jobs\n"
        f"      tags: {{regex: '{DATE_REGEX}', order: {{by: alphabetical, key: build}}}}\n"
        "    target: {region: cn-hangzhou, action: update, container_groups: {name: jobs}}\n"
        "  - name: dates\n"
        "    source: {repository: team/jobs, tags: {calver: YYYY.0M.MICRO}}\n"
        "    target: {region: cn-hangzhou, action: update, container_groups: {name: jobs}}\n"
    )
    out = run_cli("validate", str(rules))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "ordered by build, as text" in lines[1]
    assert lines[2].startswith("    warning: order by alphabetical compares 'build' as text")
    assert "calver 'YYYY.0M.MICRO'" in lines[3] and "ordered by year, month, micro in turn, as numbers" in lines[3]
    assert "never downgrades" in lines[3] and "reconciled to the highest" in lines[3]
    assert len(lines) == 4


# --- the issue's date tags through plan, invoke and the reconcile -----------------------------------

JOBS = "reg.example.com/team/jobs"


def jobs_files(tmp_path, running, pushed, tags="{calver: YYYY.0M.MICRO}"):
    (tmp_path / "rules.yaml").write_text(
        "version: 1\n"
        "rules:\n"
        "  - name: jobs\n"
        f"    source: {{repository: team/jobs, registry: reg.example.com, tags: {tags}}}\n"
        "    target: {region: cn-hangzhou, action: update, container_groups: {name: jobs}}\n"
        "    pull: {public: [reg.example.com]}\n"
    )
    state = {
        "ContainerGroups": [
            {
                "ContainerGroupId": "eci-jobs",
                "ContainerGroupName": "jobs",
                "RegionId": "cn-hangzhou",
                "Status": "Running",
                "Containers": [{"Name": "job", "Image": f"{JOBS}:{running}"}],
            }
        ]
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "push.json").write_text(json.dumps({"image": f"{JOBS}:{pushed}", "time": "2026-12-01T10:00:00Z"}))
    return [str(tmp_path / n) for n in ("push.json", "rules.yaml", "state.json")]


@pytest.mark.parametrize("command", ["plan", "invoke"])
@pytest.mark.parametrize(
    ("running", "pushed", "deploys"),
    [("2024.07.9", "2024.07.10", True), ("2024.07.10", "2024.07.2", False), ("2024.06.1", "2024.07.2", True)],
)
def test_date_tags_through_plan_and_invoke(tmp_path, command, running, pushed, deploys):
    event, rules, state = jobs_files(tmp_path, running, pushed)
    out = run_cli(command, event, "--rules", rules, "--state", state)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    if deploys:
        (action,) = report["actions"]
        assert action["target"] == "eci-jobs"
        if command == "plan":
            assert action["params"]["Container.1.Image"] == f"{JOBS}:{pushed}"
        else:
            assert action["status"] == "applied" and action["result"]["images"]["job"] == f"{JOBS}:{pushed}"
    else:
        assert report["actions"] == []
        assert f"would downgrade {running} -> {pushed}" in [s["reason"] for s in report["skipped"]]


def test_the_reconcile_picks_the_highest_date_tag(tmp_path, make_rules):
    from eci_redeploy.operations.reconcile import client_factory, reconcile
    from reconcile_stage import gateway_on, seed, web_rule
    from registry_tools import Registry, push, require_tools, write_layout

    require_tools()
    with Registry(tmp_path / "registry") as registry:
        digests = {}
        for tag in ("2024.06.1", "2024.07.2", "2024.07.10", "latest"):
            digests[tag] = write_layout(tmp_path / f"img-{tag}", tag, f"jobs {tag}")
            push(tmp_path / f"img-{tag}", tag, f"{registry.host}/team/web:{tag}")
        backend = FakeEci()
        seed(backend, f"{registry.host}/team/web:2024.06.1")
        rules = make_rules(web_rule(registry.host, {"calver": "YYYY.0M.MICRO"}))
        result = reconcile(rules, gateway_on(backend), client_factory({}), {})
        assert result.wanted["web"]["tag"] == "2024.07.10"  # not 2024.07.2, the text order's pick
        running = backend.group("eci-web").spec["Container"][0]["Image"]
        assert running == f"{registry.host}/team/web@{digests['2024.07.10']}"
        again = reconcile(rules, gateway_on(backend), client_factory({}), {})
        assert again.report.outcomes == [] and again.report.plan.skipped[0].reason.startswith("already running")
        # the same with the regex and its keys
        keyed = make_rules(
            web_rule(
                registry.host,
                {"regex": DATE_REGEX, "order": {"by": "numerical", "keys": ["year", "month", "build"]}},
            )
        )
        fresh = FakeEci()
        seed(fresh, f"{registry.host}/team/web:2024.07.2")
        assert reconcile(keyed, gateway_on(fresh), client_factory({}), {}).wanted["web"]["tag"] == "2024.07.10"
