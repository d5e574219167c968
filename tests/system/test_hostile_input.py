"""Issue 15: each attack reproduced as it was reported, and refused: the status or exit code, the
message, and not a single ECI call. One section per numbered item of the issue (item 7, the fake's
control API, is tested with the fake in issue 16).

Sources of the shapes used here:
- the reference grammar: distribution/reference `reference.go` (tag `[\\w][\\w.-]{0,127}`, Go's `\\w`
  being ASCII `[0-9A-Za-z_]`); digests: OCI image-spec `descriptor.md`, "Registered algorithms":
  `sha256` = 64 and `sha512` = 128 lowercase hex characters;
- payloads: the samples in events/ (ACR webhook, FC HTTP trigger event, FC timer event, ACR EE
  CloudEvent as EventBridge delivers it), copied from the registries' published formats (tests/payloads/SOURCES.md);
- the billion-laughs document: the classic XML entity expansion (OWASP), written with YAML anchors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc

import pytest
import yaml

from eci_redeploy.core.errors import AuthenticationError, ImageReferenceError, RulesError
from eci_redeploy.core.imageref import ImageRef, validate_digest, validate_tag
from eci_redeploy.events.auth import ReplayGuard, check_hmac, sign
from eci_redeploy.rules.model import load_rules
from fcfixtures import HMAC_SECRET, TOKEN, fc_context, http_event, signed_headers

from helpers import EVENTS, ROOT, clean_env, described, rule

GENERIC = json.loads((EVENTS / "generic-ci.json").read_text())
ACR_WEBHOOK = json.loads((EVENTS / "acr-webhook.json").read_text())


def webhook(body, **kw):
    from eci_redeploy.functions import webhook as handler

    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    response = handler.handle(http_event(raw, **kw), fc_context(), default_rules=ROOT)
    return response["statusCode"], json.loads(response["body"])


def nothing_happened(fc):
    assert fc.backend.calls == [], [c.action for c in fc.backend.calls]
    assert fc.dispatcher.seen == set()


# ---- 1. the HMAC requirement follows the payload kind, whatever wraps it -------------------------------

WRAPPED = {
    "array": [GENERIC],
    "batch beside a registry body": [ACR_WEBHOOK, GENERIC],
}


@pytest.mark.parametrize("wrapping", WRAPPED)
@pytest.mark.parametrize("hmac_configured", [True, False], ids=["hmac-set", "hmac-unset"])
def test_1_a_wrapped_ci_call_needs_the_hmac_not_just_the_token(fc, monkeypatch, wrapping, hmac_configured):
    if not hmac_configured:
        monkeypatch.delenv("ECI_REDEPLOY_WEBHOOK_HMAC_SECRET")
    status, body = webhook(WRAPPED[wrapping], query={"token": TOKEN})
    assert status == 401
    assert ("HMAC secret is not configured" if not hmac_configured else "signed call needs") in body["error"]
    nothing_happened(fc)


@pytest.mark.parametrize("hmac_configured", [True, False], ids=["hmac-set", "hmac-unset"])
def test_1_an_array_of_arrays_is_no_delivery_and_deploys_nothing(fc, monkeypatch, hmac_configured):
    # No sender nests arrays: each item must be an event object, so the whole delivery is refused
    # (with the token: 400 naming the item) before any kind could skip a check.
    if not hmac_configured:
        monkeypatch.delenv("ECI_REDEPLOY_WEBHOOK_HMAC_SECRET")
    status, body = webhook([[GENERIC]], query={"token": TOKEN})
    assert status == 400 and "[0]" in body["error"] and "expected a JSON object" in body["error"], body
    nothing_happened(fc)


def test_1_a_signed_array_still_deploys_and_a_mixed_batch_needs_both(fc):
    raw = json.dumps([GENERIC]).encode()
    status, body = webhook(raw, headers=signed_headers(raw))
    assert status == 202, body  # the HMAC covers the array as sent: arrays stay usable for CI
    mixed = json.dumps([ACR_WEBHOOK, {**GENERIC, "time": "2026-11-27T10:36:00Z"}]).encode()
    status, body = webhook(mixed, headers=signed_headers(mixed))  # signed, but no token for the ACR part
    assert status == 401 and "webhook token" in body["error"]


def test_1_an_unreadable_body_is_authenticated_before_it_is_explained(fc):
    status, body = webhook(b'[{"image": "x"', query={})
    assert status == 401  # an anonymous caller learns nothing about the parser
    status, body = webhook(b'[{"image": "x"', query={"token": TOKEN})
    assert status == 400 and "not valid JSON" in body["error"]
    nothing_happened(fc)


# ---- 2. timestamps must be finite decimal numbers -------------------------------------------------------


@pytest.mark.parametrize(
    "stamp",
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1e9",
        "0x6747a1b2",
        "\u0661\u0667\u0669\u0665\u0667\u0664\u0666\u0660\u0664\u0667",
        " 1",
    ],
)
def test_2_a_timestamp_that_is_not_decimal_seconds_is_refused(fc, stamp):
    raw = json.dumps(GENERIC).encode()
    headers = {"X-Eci-Redeploy-Timestamp": stamp, "X-Eci-Redeploy-Signature": sign(HMAC_SECRET, stamp, raw)}
    status, body = webhook(raw, headers=headers)  # correctly signed: only the timestamp is wrong
    assert status == 401 and "not a Unix time" in body["error"]
    nothing_happened(fc)


def test_2_nan_no_longer_passes_the_window_check():
    from eci_redeploy.core.secrets import Secret
    from eci_redeploy.events.adapters.fc_http import HttpRequest

    body = b"{}"
    request = HttpRequest(
        "POST", "/", body, {"x-eci-redeploy-timestamp": "nan", "x-eci-redeploy-signature": sign("s", "nan", body)}
    )
    with pytest.raises(AuthenticationError, match="not a Unix time"):
        check_hmac(request, Secret("s"), ReplayGuard(), window=300, now=1_800_000_000)


# ---- 3. the OCI reference grammar, exactly --------------------------------------------------------------

D256 = "sha256:" + "0123456789abcdef" * 4
D512 = "sha512:" + "0123456789abcdef" * 8


@pytest.mark.parametrize(
    "tag",
    [
        "1.0.61\n",
        "1.0.61\r\n",
        "1.0\x00",
        "\uff11.\uff10.\uff16\uff13",
        "版本",
        "v1.\u0663",
        "a" * 129,
        ".1",
        "-1",
        "1 0",
        "",
    ],
)
def test_3_tags_outside_the_grammar_are_refused(tag):
    with pytest.raises(ImageReferenceError):
        validate_tag(tag)
    with pytest.raises(ImageReferenceError):
        ImageRef.parse(f"reg.example.com/team/web:{tag}")


@pytest.mark.parametrize(
    "digest",
    [
        D256 + "\n",
        "md5:" + "0" * 32,
        "sha1:" + "0" * 40,
        "sha256:" + "0" * 63,
        "sha256:" + "0" * 65,
        "sha512:" + "0" * 64,
        "sha512:" + "0" * 127,
        "SHA256:" + "0" * 64,
        "sha256:" + "\u0660" * 64,
    ],
)
def test_3_digests_other_than_sha256_and_sha512_of_their_exact_length_are_refused(digest):
    with pytest.raises(ImageReferenceError):
        validate_digest(digest)
    with pytest.raises(ImageReferenceError):
        ImageRef.parse(f"reg.example.com/team/web@{digest}")


@pytest.mark.parametrize("text", [f"nginx@{D512}", f"nginx@{D256}", "nginx:" + "a" * 128, "nginx:A_b.c-1"])
def test_3_what_the_grammar_allows_still_parses(text):
    assert ImageRef.parse(text).original == text


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("tag", "2.3.1\n", "not a valid tag"),
        ("tag", "\uff12.\uff13.\uff11", "not a valid tag"),
        ("tag", "版本", "not a valid tag"),
    ],
)
def test_3_a_hostile_tag_or_digest_in_a_registry_webhook_never_reaches_eci(fc, field, value, fragment):
    payload = json.loads(json.dumps(ACR_WEBHOOK))
    payload["push_data"][field] = value
    status, body = webhook(payload, query={"token": TOKEN})
    assert status == 400 and fragment in body["error"]
    nothing_happened(fc)


@pytest.mark.parametrize(
    "value",
    ["md5:" + "0" * 32, "sha256:" + "7" * 64 + "\n", "sha256:" + "\u0660" * 64],
    ids=["md5", "newline", "arabic"],
)
def test_3_a_malformed_acr_digest_never_reaches_eci_the_valid_tag_still_deploys(fc, value):
    # Issue 14 item 3: a malformed digest must not drop a push whose tag is valid; issue 15 item 3: it
    # must not reach ECI either. So the digest is dropped (and said), and the image goes by its tag.
    payload = json.loads(json.dumps(ACR_WEBHOOK))
    payload["push_data"]["digest"] = value
    status, body = webhook(payload, query={"token": TOKEN})
    assert status == 202, body
    (event,) = [e for e in body["events"] if e.get("repository")]
    assert event["digest"] is None and "ignored, the tag is deployed" in event["warning"], event
    sent = [v for c in fc.backend.calls for v in c.params.values()]
    assert sent and not any(value.strip() in str(v) for v in sent)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("RepoNamespaceName", "team\n", "repository: 'team\\n/web' is not a valid repository path"),
        ("Tag", "1.4.0\n", "tag: '1.4.0\\n' is not a valid tag"),
    ],
)
def test_3_a_cloudevent_with_a_hostile_field_is_refused_by_the_push_function(fc, monkeypatch, key, value, fragment):
    from helpers import EXAMPLES

    monkeypatch.setenv("ECI_REDEPLOY_RULES", str(EXAMPLES / "rules.yaml"))
    fc.backend.seed(json.loads((EXAMPLES / "state.json").read_text())["ContainerGroups"])
    event = json.loads((EVENTS / "acr-ee-push.json").read_text())
    event["data"][key] = value
    result = entry("push")(json.dumps(event).encode(), fc_context("push"))
    assert result["ok"] is False and fragment in result["error"], result
    assert fc.backend.calls == []


def test_3_a_group_whose_running_image_does_not_parse_is_repaired_by_a_valid_push(fc):
    # What the trailing-newline attack left behind: ECI accepted `...:2.3.0\n` once.
    fc.backend.groups["eci-api"].spec["Container"][0]["Image"] = (
        "registry-vpc.cn-hangzhou.aliyuncs.com/team/api:2.3.0\n"
    )
    status, body = webhook(ACR_WEBHOOK, query={"token": TOKEN})
    assert status == 202, body  # not a 422 for the whole plan, as before
    sent = [c.params for c in fc.mutations()]
    assert len(sent) == 1
    assert sent[0]["Container.1.Image"] == (
        "registry-vpc.cn-hangzhou.aliyuncs.com/team/api@" + ACR_WEBHOOK["push_data"]["digest"]
    )
    assert all("\n" not in str(v) for params in sent for v in params.values())


def test_3_the_repair_is_reported_and_never_rolled_back_to_the_broken_image(make_rules):
    from eci_redeploy.clients.eci_model import parse_groups
    from eci_redeploy.events.model import PushEvent
    from eci_redeploy.planning.planner import plan_event

    rules = make_rules(rule("web", selector={"name": "web"}, pull={"public": ["reg.example.com"]}))
    groups = parse_groups(
        [
            described("eci-1", "reg.example.com/team/web:1.0.61\n", name="web"),
            described("eci-2", "reg.example.com/team/web:1.0.60", name="web"),
            {
                **described("eci-3", "reg.example.com/team/web:1", name="web"),
                "Containers": [
                    {"Name": "app", "Image": "reg.example.com/team/web:1"},
                    {"Name": "side", "Image": "版本/x:1"},
                ],
            },
        ]
    )
    event = PushEvent("team/web", "1.0.62", D256, "generic", "e1", registry_host="reg.example.com")
    plan = plan_event(event, rules, groups, {})
    steps = {s.target: s for s in plan.steps}
    assert set(steps) == {"eci-1", "eci-2", "eci-3"}
    assert steps["eci-1"].body["Container"] == [{"Name": "app", "Image": f"reg.example.com/team/web@{D256}"}]
    assert steps["eci-1"].rollback is None
    assert any("not a valid reference" in n and "replaced" in n for n in steps["eci-1"].notes)
    assert steps["eci-2"].rollback is not None  # the others keep their rollback
    assert any(n.startswith("side: the running image is not a valid reference") for n in steps["eci-3"].notes)


# ---- 4. templates stay in the rules folder, are small regular files; alias expansion is bounded ------


def rules_with_template(folder, template, **extra):
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"version": 1, "rules": [rule("job", action="create", template=template, **extra)]}
    (folder / "rules.yaml").write_text(yaml.safe_dump(doc))
    return folder / "rules.yaml"


TEMPLATE = "ContainerGroupName: job\nContainer: [{Name: app, Image: reg.example.com/team/web:1}]\n"
LEAKED = "s3cret-from-elsewhere-71c2"


@pytest.fixture
def elsewhere(tmp_path):
    """A file outside the rules folder that a template path must not reach (it holds a password)."""
    (tmp_path / "elsewhere").mkdir()
    secret = tmp_path / "elsewhere" / "job.yaml"
    secret.write_text(TEMPLATE + f"EnvironmentVar: [{{Key: DB, Value: {LEAKED}}}]\n")
    return secret


def test_4_templates_outside_the_rules_folder_are_refused(tmp_path, elsewhere):
    folder = tmp_path / "rules"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "link.yaml").symlink_to(elsewhere)
    cases = {
        str(elsewhere): "relative to the rules file's folder",
        "../elsewhere/job.yaml": "outside the rules file's folder",
        "templates/../../elsewhere/job.yaml": "outside the rules file's folder",
        "templates/link.yaml": "outside the rules file's folder",
    }
    for template, fragment in cases.items():
        with pytest.raises(RulesError, match=fragment) as info:
            load_rules(rules_with_template(folder, template))
        assert LEAKED not in str(info.value)
    # the CLI: validate refuses, plan prints nothing it read
    path = rules_with_template(folder, "templates/link.yaml")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"image": "reg.example.com/team/web:2", "digest": D256}))
    for args in (
        ["validate", str(path)],
        ["plan", str(event), "--rules", str(path)],
        ["invoke", str(event), "--rules", str(path)],  # refused before the embedded fake ECI is even started
    ):
        done = cli(*args)
        assert done.returncode == 2, done.stderr
        assert "outside the rules file's folder" in done.stderr
        assert LEAKED not in done.stdout + done.stderr


def test_4_a_link_that_stays_inside_the_folder_is_fine(tmp_path):
    folder = tmp_path / "rules"
    (folder / "shared").mkdir(parents=True)
    (folder / "shared" / "job.yaml").write_text(TEMPLATE)
    (folder / "job.yaml").symlink_to(folder / "shared" / "job.yaml")
    assert load_rules(rules_with_template(folder, "job.yaml")).templates["job"]["ContainerGroupName"] == "job"


def test_4_devices_fifos_and_big_files_are_refused_without_reading_them(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.yaml")  # opening it for reading would wait for a writer forever
    (folder / "big.yaml").write_text(TEMPLATE + "# " + "x" * (300 * 1024) + "\n")
    cases = {
        "/dev/zero": "relative to the rules file's folder",
        "zero.yaml": "outside the rules file's folder",
        "fifo.yaml": "not a regular file",
        "big.yaml": "larger than the 262,144-byte limit",
    }
    for template, fragment in cases.items():
        with pytest.raises(RulesError, match=fragment):
            load_rules(rules_with_template(folder, template))


def billion_laughs(levels=9):
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_4_a_billion_laughs_template_is_refused_at_validate_with_little_memory(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "laughs.yaml").write_text(TEMPLATE + billion_laughs())
    tracemalloc.start()
    try:
        with pytest.raises(RulesError, match="expands to more than 20,000 nodes"):
            load_rules(rules_with_template(folder, "laughs.yaml"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024  # it took 1 GB before; memory is counted, not timed


def test_4_a_billion_laughs_rules_file_and_a_self_alias_are_refused(tmp_path):
    laughs = tmp_path / "rules.yaml"
    laughs.write_text("version: 1\nrules: []\n" + billion_laughs())
    with pytest.raises(RulesError, match="expands to more than 250,000 nodes"):
        load_rules(laughs)
    (tmp_path / "loop.yaml").write_text("version: 1\nrules: &r [*r]\n")
    with pytest.raises(RulesError, match="refers to a node that contains it"):
        load_rules(tmp_path / "loop.yaml")


def test_4_anchors_used_reasonably_still_load(tmp_path):
    # One target and one source shared by 50 rules through anchors and aliases: the way YAML is meant
    # to be used stays well inside the budget.
    lines = ["version: 1", "rules:"]
    for i in range(50):
        source = "&source {repository: team/web, tags: {glob: '*'}}" if i == 0 else "*source"
        target = "&target {region: cn-hangzhou, action: update, container_groups: {name: web}}" if i == 0 else "*target"
        lines += [f"  - name: r{i}", f"    source: {source}", f"    target: {target}"]
    path = tmp_path / "rules.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert len(load_rules(path)) == 50


# ---- 5. each function takes only its own trigger's events ----------------------------------------------


def entry(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"fc_{name}", ROOT / "functions" / name / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


FOREIGN = {
    # function: [(payload file or object, fragment of the refusal)]
    "push": [
        ("fc-http-acr-webhook.json", "a Function Compute HTTP trigger event"),
        ("acr-webhook.json", "a acr_webhook webhook body"),
        ("distribution-push.json", "a distribution webhook body"),
        ("generic-ci.json", "a generic webhook body"),
        ("timer.json", "a timer event"),
        ({"kind": "eci-redeploy/work-order", "task_id": "x", "events": []}, "a work order"),
    ],
    "timer": [
        ("acr-ee-push.json", "a CloudEvent"),
        ("fc-http-acr-webhook.json", "a Function Compute HTTP trigger event"),
        ([json.loads((EVENTS / "timer.json").read_text())], "a JSON array"),
    ],
    "worker": [
        ("fc-http-acr-webhook.json", "not a work order"),
        ("acr-ee-push.json", "not a work order"),
    ],
}


@pytest.mark.parametrize(
    ("function", "payload", "fragment"),
    [(f, p, m) for f, cases in FOREIGN.items() for p, m in cases],
    ids=[f"{f}-{p if isinstance(p, str) else type(p).__name__}" for f, cases in FOREIGN.items() for p, _ in cases],
)
def test_5_a_function_refuses_another_triggers_events(fc, function, payload, fragment):
    raw = (EVENTS / payload).read_bytes() if isinstance(payload, str) else json.dumps(payload).encode()
    result = entry(function)(raw, fc_context(function))
    assert result["ok"] is False and fragment in result["error"], result
    nothing_happened(fc)


def test_5_the_push_function_no_longer_deploys_a_wrapped_unsigned_webhook(fc):
    # The reported attack: an FC HTTP event around an ACR webhook body, no token, at the EventBridge function.
    result = entry("push")((EVENTS / "fc-http-acr-webhook.json").read_bytes(), fc_context("push"))
    assert result == {
        "ok": False,
        "error": "eventbridge: the push function takes EventBridge CloudEvents only, got a Function Compute "
        "HTTP trigger event; registry webhooks go to the webhook function",
    }
    nothing_happened(fc)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [("acr-ee-push.json", "send them to the push function"), ("timer.json", "send them to the timer function")],
)
def test_5_the_webhook_refuses_cloudevents_and_timer_events(fc, payload, fragment):
    status, body = webhook((EVENTS / payload).read_bytes(), query={"token": TOKEN})
    assert status == 400 and fragment in body["error"]
    status, _ = webhook((EVENTS / payload).read_bytes(), query={})
    assert status == 401
    nothing_happened(fc)


def test_5_a_forged_work_order_with_a_bad_tag_is_refused(fc):
    order = {
        "kind": "eci-redeploy/work-order",
        "task_id": "er-x",
        "events": [{"repository": "team/api", "tag": "2.3.1\n", "source": "acr-webhook", "event_id": "e"}],
    }
    result = entry("worker")(json.dumps(order).encode(), fc_context("worker"))
    assert result == {"ok": False, "error": "invalid work order"}
    nothing_happened(fc)


# ---- 6. literal secrets are refused at validate; credentials masked everywhere -------------------------

PASSWORD = "L1teral-pa55word-0b7e"


def test_6_a_literal_registry_password_in_a_template_is_refused(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "job.yaml").write_text(
        TEMPLATE + f"ImageRegistryCredential: [{{Server: reg.example.com, UserName: ci, Password: {PASSWORD}}}]\n"
    )
    path = rules_with_template(folder, "job.yaml")
    with pytest.raises(RulesError, match=r"ImageRegistryCredential\[0\]\.Password is a literal secret.*password_env"):
        load_rules(path)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"image": "reg.example.com/team/web:2", "digest": D256}))
    for args in (
        ["validate", str(path)],
        ["plan", str(event), "--rules", str(path)],
        ["invoke", str(event), "--rules", str(path)],  # refused before the embedded fake ECI is even started
    ):
        done = cli(*args)
        assert done.returncode == 2 and "password_env" in done.stderr
        assert PASSWORD not in done.stdout + done.stderr


def test_6_a_literal_password_in_the_rules_points_to_password_env(tmp_path):
    doc = {
        "version": 1,
        "rules": [
            rule("web", pull={"credentials": [{"server": "reg.example.com", "username": "ci", "password": PASSWORD}]})
        ],
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(RulesError) as info:
        load_rules(path)
    message = info.value.one_line()
    assert "rules[0] (web).pull.credentials[0]: unknown key 'password'" in message
    assert "name it with 'password_env'" in message and PASSWORD not in message


def test_6_a_plain_password_param_is_masked_in_plan_output():
    from eci_redeploy.planning.steps import Step

    step = Step(
        "r",
        "CreateContainerGroup",
        "job",
        {
            "RegionId": "cn-hangzhou",
            "ImageRegistryCredential": [{"Server": "reg.example.com", "UserName": "ci", "Password": PASSWORD}],
            "ClientToken": "er1-abc",
        },
    )
    shown = step.to_json()["params"]
    assert shown["ImageRegistryCredential.1.Password"] == "******"
    assert shown["ClientToken"] == "er1-abc"  # not a secret, and needed to read the report


def test_6_an_endpoint_with_user_and_password_is_refused_and_masked(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"image": "reg.example.com/team/web:2", "digest": D256}))
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"version": 1, "rules": [rule("web", selector={"name": "web"})]}))
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"ContainerGroups": [described("eci-1", "reg.example.com/team/web:1", name="web")]}))
    done = cli(
        "invoke",
        str(event),
        "--rules",
        str(rules),
        "--state",
        str(state),
        "--live",
        env={
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "a",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "b",
            "ECI_REDEPLOY_ECI_ENDPOINT": f"https://admin:{PASSWORD}@127.0.0.1:9",
        },
    )
    assert done.returncode == 2, done.stderr
    assert "carries a user:password" in done.stderr and "https://******@127.0.0.1:9" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_6_urls_in_error_messages_lose_their_userinfo():
    from eci_redeploy.core.errors import InputError

    error = InputError(f"cannot reach https://ci:{PASSWORD}@hooks.example.com/x", source="notify")
    assert error.one_line() == "notify: cannot reach https://******@hooks.example.com/x"


# ---- 8. a whitespace-only secret is not a configured one ------------------------------------------------


@pytest.mark.parametrize("blank", [" ", "   ", "\t", " \n"])
def test_8_a_blank_webhook_token_refuses_every_call(fc, monkeypatch, blank):
    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_TOKEN", blank)
    for kw in ({"query": {"token": blank}}, {"headers": {"Authorization": f"Bearer {blank}"}}, {"query": {}}):
        status, body = webhook(ACR_WEBHOOK, **kw)
        assert status == 401 and "not configured" in body["error"], body
    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_HMAC_SECRET", blank)
    raw = json.dumps(GENERIC).encode()
    status, body = webhook(raw, headers=signed_headers(raw, secret=blank))
    assert status == 401 and "HMAC secret is not configured" in body["error"]
    nothing_happened(fc)


# ---- 9. the unknown key first, with the closest valid key ----------------------------------------------


def test_9_a_typo_reports_the_cause_with_the_closest_key(tmp_path):
    doc = {"version": 1, "rules": [rule("web-prod")]}
    doc["rules"][0]["source"]["tagz"] = doc["rules"][0]["source"].pop("tags")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    done = cli("validate", str(path))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"eci-redeploy: {path}: rules[0] (web-prod).source: unknown key 'tagz' (did you mean 'tags'?)"
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["rules"][0]["target"].update(acton="update"),
            "rules[0] (r).target: unknown key 'acton' (did you mean 'action'?)",
        ),
        (lambda d: d.update(rule=[]), "(top level): unknown key 'rule' (did you mean 'rules'?)"),
        (
            lambda d: d["rules"][0].update(zzz=1),
            "rules[0] (r): unknown key 'zzz' (valid keys: allow_downgrade, gates, name, notify, pull, rollout, source, "
            "target, update)",
        ),
        (
            lambda d: (d["rules"][0].update(pulll={}), d["rules"][0]["source"].update(tagz=1)),
            "rules[0] (r).source: unknown key 'tagz' (did you mean 'tags'?) (and 1 more unknown key)",
        ),
    ],
)
def test_9_unknown_keys_anywhere(tmp_path, edit, expected):
    doc = {"version": 1, "rules": [rule("r")]}
    edit(doc)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert info.value.one_line() == f"{path}: {expected}"


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "eci_redeploy.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(**(env or {})),
        timeout=120,
    )
