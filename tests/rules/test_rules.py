import pytest
import yaml

from eci_redeploy.core.errors import RulesError
from eci_redeploy.rules.model import json_schema, load_rules

from helpers import EXAMPLES, ROOT, rule


def write(tmp_path, data, name="rules.yaml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_sample_rules_are_valid():
    rules = load_rules(EXAMPLES / "rules.yaml")
    assert [r.name for r in rules] == ["web-prod", "api-staging"]
    assert rules.templates["api-staging"]["ContainerGroupName"] == "api-staging"


def test_templates_are_relative_to_the_rules_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the rules file's folder
    assert load_rules(EXAMPLES / "rules.yaml").templates["api-staging"]


BAD = [
    # (what is wrong, rules document, expected fragments of the one-line error)
    ("unknown top key", {"version": 1, "rules": [], "rule": []}, ["rule", "unknown key"]),
    (
        "unknown rule key",
        {"version": 1, "rules": [{**rule("a"), "sorce": {}}]},
        ["rules[0] (a)", "sorce", "unknown key"],
    ),
    (
        "typo in pull",
        {"version": 1, "rules": [rule("a", pull={"digests": True})]},
        ["rules[0] (a).pull: unknown key 'digests' (did you mean 'digest'?)"],
    ),
    ("wrong version", {"version": 2, "rules": []}, ["version"]),
    (
        "bad semver",
        {"version": 1, "rules": [rule("a", tags={"semver": ">=banana"})]},
        ["rules[0] (a).source.tags.semver", "not a semver range"],
    ),
    (
        "bad regex",
        {"version": 1, "rules": [rule("a", tags={"regex": "main-(["})]},
        ["rules[0] (a).source.tags.regex", "not a valid regular expression"],
    ),
    (
        "two policies",
        {"version": 1, "rules": [rule("a", tags={"glob": "*", "exact": "latest"})]},
        ["rules[0] (a).source.tags", "exactly one"],
    ),
    ("no policy", {"version": 1, "rules": [rule("a", tags={"prerelease": True})]}, ["exactly one", "none"]),
    # issue 13: a clause that cannot be read is named; new keys only where they mean something
    (
        "unreadable clause",
        {"version": 1, "rules": [rule("a", tags={"semver": ">=1.2.0 <2.0.0 latest"})]},
        ["rules[0] (a).source.tags.semver", "not a semver range", "'latest'"],
    ),
    (
        "empty alternative",
        {"version": 1, "rules": [rule("a", tags={"semver": "^1.2 ||"})]},
        ["source.tags.semver", "empty alternative"],
    ),
    (
        "updates without semver",
        {"version": 1, "rules": [rule("a", tags={"glob": "*", "updates": "minor"})]},
        ["source.tags", "updates goes with semver"],
    ),
    (
        "bad updates",
        {"version": 1, "rules": [rule("a", tags={"semver": "*", "updates": "major"})]},
        ["source.tags.updates"],
    ),
    (
        # issue 30 item 5: the old key is refused, never read, with the new key and what it keeps
        "stay_within: minor is refused, naming updates: minor",
        {"version": 1, "rules": [rule("a", tags={"semver": "*", "stay_within": "minor"})]},
        ["source.tags", "stay_within is replaced by updates", "'updates: minor'", "the same major"],
    ),
    (
        "stay_within: patch is refused, naming updates: patch",
        {"version": 1, "rules": [rule("a", tags={"semver": "*", "stay_within": "patch"})]},
        ["source.tags", "'updates: patch'", "patch updates only"],
    ),
    (
        "order without regex",
        {"version": 1, "rules": [rule("a", tags={"semver": "*", "order": {"by": "numerical", "key": "b"}})]},
        ["source.tags", "order goes with regex"],
    ),
    (
        "order key not a group",
        {
            "version": 1,
            "rules": [rule("a", tags={"regex": r"main-(\d+)", "order": {"by": "numerical", "key": "build"}})],
        },
        ["source.tags", "'build' is not a named group"],
    ),
    (
        "bad order",
        {"version": 1, "rules": [rule("a", tags={"regex": r"(?P<b>\d+)", "order": {"by": "semver", "key": "b"}})]},
        ["source.tags.order.by"],
    ),
    (
        "backreference (no linear-time form)",
        {"version": 1, "rules": [rule("a", tags={"regex": r"(a)\1"})]},
        ["source.tags.regex", "not a valid regular expression", "linear time"],
    ),
    (
        "allow_downgrade not a bool",
        {"version": 1, "rules": [{**rule("a"), "allow_downgrade": "sometimes"}]},
        ["rules[0] (a).allow_downgrade"],
    ),
    ("duplicate names", {"version": 1, "rules": [rule("a"), rule("a")]}, ["duplicate rule name 'a'"]),
    ("bad name", {"version": 1, "rules": [rule("Web_Prod")]}, ["rules[0] (Web_Prod).name"]),
    ("uppercase repository", {"version": 1, "rules": [rule("a", "Team/web")]}, ["source.repository", "lowercase"]),
    ("repository with tag", {"version": 1, "rules": [rule("a", "team/web:1")]}, ["without tag"]),
    ("bad action", {"version": 1, "rules": [rule("a", action="upgrade")]}, ["target.action"]),
    ("create without template", {"version": 1, "rules": [rule("a", action="create")]}, ["needs a template"]),
    (
        "update without selector",
        {"version": 1, "rules": [{**rule("a"), "target": {"region": "cn-hangzhou", "action": "update"}}]},
        ["needs container_groups"],
    ),
    (
        "two selectors",
        {"version": 1, "rules": [rule("a", selector={"ids": ["eci-1"], "name": "x"})]},
        ["exactly one of ids"],
    ),
    (
        "one arn",
        {"version": 1, "rules": [rule("a", pull={"acr": {"instance_id": "cri-1", "arn_user": "x"}})]},
        ["arn_service and arn_user"],
    ),
    (
        "bad instance id",
        {"version": 1, "rules": [rule("a", pull={"acr": {"instance_id": "abc"}})]},
        ["pull.acr.instance_id"],
    ),
    (
        "bad env name",
        {
            "version": 1,
            "rules": [rule("a", pull={"credentials": [{"server": "r.io", "username": "u", "password_env": "A-B"}]})],
        },
        ["password_env"],
    ),
    ("bad internet", {"version": 1, "rules": [rule("a", pull={"internet": "nat"})]}, ["pull.internet"]),
    (
        "bad plain_http host",
        {"version": 1, "rules": [rule("a", pull={"plain_http": ["http://10.0.0.5"]})]},
        ["not a host"],
    ),
    (
        "bad region",
        {
            "version": 1,
            "rules": [
                rule("a", selector=None)
                | {"target": {"region": "Hangzhou", "action": "restart", "container_groups": {"name": "x"}}}
            ],
        },
        ["target.region"],
    ),
    ("not a mapping", [1, 2], ["must be a mapping"]),
]


@pytest.mark.parametrize(("what", "doc", "fragments"), BAD, ids=[b[0] for b in BAD])
def test_bad_rules_name_file_rule_and_field(tmp_path, what, doc, fragments):
    path = write(tmp_path, doc)
    with pytest.raises(RulesError) as info:
        load_rules(path)
    message = info.value.one_line()
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    ("what", "text", "fragment"),
    [
        ("not yaml", "version: 1\nrules: [\n", "not valid YAML at line"),
        ("duplicate key", "version: 1\nversion: 1\nrules: []\n", "duplicate key 'version'"),
        ("empty", "", "must be a mapping"),
    ],
)
def test_unreadable_rules(tmp_path, what, text, fragment):
    with pytest.raises(RulesError, match=fragment):
        load_rules(write(tmp_path, text))


def test_missing_file():
    with pytest.raises(RulesError, match=r"nope\.yaml: file not found"):
        load_rules("nope.yaml")


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        (None, "not found"),
        ("- a\n- b\n", "must be a mapping"),
        ("ContainerGroupName: x\ncontainer: []\n", "not an API field name"),
        ("ContainerGroupName: x\nContainer: []\n", "at least one container"),
        ("ContainerGroupName: x\nContainer: {Name: a}\n", "Container must be a list"),
        ("ContainerGroupName: x\nContainer: [{Image: nginx}]\n", "needs a Name"),
        ("ContainerGroupName: x\nContainer: [{Name: a, Image: Bad/Image}]\n", "lowercase"),
        ("Container: [{Name: a, Image: nginx}]\n", "ContainerGroupName is required"),
    ],
)
def test_bad_templates(tmp_path, template, fragment):
    if template is not None:
        (tmp_path / "t.yaml").write_text(template)
    doc = {"version": 1, "rules": [rule("a", action="create", template="t.yaml")]}
    with pytest.raises(RulesError) as info:
        load_rules(write(tmp_path, doc))
    assert "rules[0] (a).target.template" in str(info.value)
    assert fragment in str(info.value)


def test_committed_json_schema_is_current():
    import json

    committed = json.loads((ROOT / "schema" / "rules.schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema()))


def test_json_schema_accepts_the_sample_and_rejects_a_typo():
    import jsonschema

    schema = json_schema()
    sample = yaml.safe_load((EXAMPLES / "rules.yaml").read_text())
    jsonschema.validate(sample, schema)
    sample["rules"][0]["targte"] = {}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(sample, schema)
