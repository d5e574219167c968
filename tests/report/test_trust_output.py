"""Issue 23 item 6 (and the audit table of item 7): payload text is escaped for where it goes.

Hostile strings as reported: an event id `<!channel>` (Slack's @channel mention), a Slack link
`<http://x|y>`, a markdown link `[Approve](http://evil...)` (a fake approve link to phish approver
tokens), a newline that forges a line of its own, an OSC-8 terminal hyperlink. Each reaches a real
local receiver through the pipeline; the bodies are asserted as they arrive.

Sources: Slack, "Formatting text for app surfaces", "Escaping text"
(https://api.slack.com/reference/surfaces/formatting#escaping): `&`, `<`, `>` are replaced by
`&amp;`, `&lt;`, `&gt;`; mentions and links are control sequences written with `<...>`. DingTalk
custom robot `msgtype: markdown` (https://open.dingtalk.com/document/robots/custom-robot-access):
links `[text](url)`, images `![](url)`. OSC 8: "Hyperlinks in terminal emulators"
(https://gist.github.com/egmontkob/eb114294efbcd5adb1944c9f3cb5feda), `ESC ] 8 ; ; URL ESC \\`.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from eci_redeploy.pipeline import run
from notify_stage import HOST, Receiver, push, setup

EVIL = "evil.example"
HOSTILE_ID = f"<!channel> <http://{EVIL}/a|click> [Approve](http://{EVIL}/approve)\n- approve: POST https://{EVIL}/x"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def hostile_push():
    (event,) = push()
    from dataclasses import replace

    return [replace(event, event_id=HOSTILE_ID)]


def bodies(receiver):
    (ding,), (slack,), (hook,) = receiver.at("/robot/send"), receiver.at("/slack"), receiver.at("/hook")
    return json.loads(ding["body"])["markdown"]["text"], json.loads(slack["body"])["text"], json.loads(hook["body"])


def links_in(text):
    """What a chat client could turn into a link: `scheme://`, Slack's `<...>`, markdown `](`."""
    return re.findall(r"[a-z][a-z0-9+.-]*://[^\s)|>]*", text) + re.findall(r"<[^>]*>", text) + re.findall(r"\]\(", text)


def test_6_a_hostile_event_id_is_text_on_slack_dingtalk_and_the_json_webhook(make_rules, receiver, monkeypatch):
    rules, _backend, gateway = setup(make_rules, receiver, monkeypatch)
    report = run(hostile_push(), rules, gateway, os.environ)
    assert [o.status for o in report.outcomes] == ["applied"] * 3
    ding, slack, hook = bodies(receiver)
    # Slack: &, <, > escaped per Slack's docs, the id a code span, the scheme's colon full-width.
    assert (
        "`&lt;!channel&gt; &lt;http\uff1a//evil.example/a|click&gt; [Approve](http\uff1a//evil.example/approve)"
        "\\n- approve: POST https\uff1a//evil.example/x`"
    ) in slack
    assert "<!channel>" not in slack
    # Slack renders no `[text](url)` (mrkdwn links are `<url|text>`); what it would link is gone.
    assert links_in(slack) == ["]("]
    # DingTalk: the markdown link syntax in full-width forms, nothing left to render as a link.
    assert (
        "\uff1c\uff01channel\uff1e \uff1chttp\uff1a//evil.example/a\uff5cclick\uff1e "
        "\uff3bApprove\uff3d\uff08http\uff1a//evil.example/approve\uff09\\n- approve: POST https\uff1a//evil.example/x"
    ) in ding
    assert links_in(ding) == []
    # Neither body has a line the payload wrote: the newline is shown as \n.
    for text in (ding, slack):
        assert not any(line.startswith("- approve") for line in text.splitlines())
    # The JSON webhook keeps the id as data (JSON escapes it), its text shows the newline.
    assert hook["event"]["id"] == HOSTILE_ID and "\n- approve" not in hook["text"]


def test_6_a_held_change_carries_only_the_settings_approve_link(make_rules, receiver, monkeypatch):
    monkeypatch.setenv("ECI_REDEPLOY_WEBHOOK_URL", "https://fc.example.com/hook")
    monkeypatch.setenv("APPROVERS", "alice:al1ce-token")
    rules, backend, gateway = setup(make_rules, receiver, monkeypatch)
    from eci_redeploy.rules.gates import Gates

    rules.rules[0] = rules.rules[0].model_copy(
        update={"gates": Gates.model_validate({"approval": {"approvers_env": "APPROVERS", "expires": "24h"}})}
    )
    run(hostile_push(), rules, gateway, os.environ)
    assert backend.mutating_calls("UpdateContainerGroup") == []  # held
    ding, slack, hook = bodies(receiver)
    for text in (ding, slack):
        assert "held" in text
        found = [u for u in links_in(text) if u != "]("]
        assert found and all(u.startswith("https://fc.example.com/hook/approvals/web.") for u in found), found
        assert EVIL not in "".join(found) and "al1ce-token" not in text
    assert "https://fc.example.com/hook/approvals/web." in hook["detail"]


def test_6_slack_sets_values_in_code_spans_and_the_image_reads_as_before(make_rules, receiver, monkeypatch):
    rules, _backend, gateway = setup(make_rules, receiver, monkeypatch)
    run(push(), rules, gateway, os.environ)
    ding, slack, _ = bodies(receiver)
    assert f"- image: `{HOST}/team/web@sha256:{'a' * 64}`" in ding and "`ev-42`" in slack


# ---- item 7: `eci-redeploy audit` shows control characters, it does not pass them to the terminal -------

OSC8 = "\x1b]8;;http://evil.example/\x1b\\click here\x1b]8;;\x1b\\"
FORGED = "\n2026-01-01 00:00:00Z  web  eci-prod  UpdateContainerGroup  applied  a -> evil:1"


def test_7_audit_table_shows_newlines_and_terminal_escapes(tmp_path, capsys):
    from eci_redeploy.cli import main

    record = {
        "ts": 1795782000.0,
        "kind": "audit",
        "event_id": f"ev{FORGED}",
        "event_source": "distribution",
        "rule": "web",
        "target": "eci-1",
        "action": None,
        "outcome": "refused",
        "reason": f"tag {OSC8}\u202e moved",
        "request_id": None,
    }
    log = tmp_path / "fc.log"
    log.write_text(json.dumps(record) + "\n")
    assert main(["audit", str(log)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one record, one line: the id's newline forged none
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b]8;;http://evil.example/\\x1b\\click here" in out and "\\u202e" in out
    assert "ev\\n2026-01-01 00:00:00Z  web  eci-prod" in out
    # --json stays exact data: JSON escapes the characters, a reader gets them back unchanged.
    assert main(["audit", str(log), "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["event_id"] == f"ev{FORGED}" and "\x1b" not in line


def test_7_json_logs_and_cli_json_escape_what_json_leaves_raw(capsys):
    # JSON escapes C0 (ESC included) itself; with ensure_ascii=False it leaves the C1 controls (0x9b is
    # CSI, a terminal sequence start), bidi overrides and line separators raw. The logs and the CLI's
    # JSON escape those too; the parsed value is unchanged.
    from eci_redeploy.core.log import log_event
    from eci_redeploy.core.secrets import dumps_masked

    value = "tag\x9b31m red \u202e\u2028 版本"
    log_event("audit", reason=value)
    (line,) = [x for x in capsys.readouterr().err.splitlines() if '"kind": "audit"' in x]
    assert json.loads(line)["reason"] == value and "\\u009b" in line
    assert not any(ch in line for ch in "\x9b\u202e\u2028") and "版本" in line
    printed = dumps_masked({"id": value}, ensure_ascii=False)
    assert json.loads(printed) == {"id": value} and "\x9b" not in printed
