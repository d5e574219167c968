"""Payload text escaped for where it goes. What a push carries (an event id, a tag in an error, an
ECI message echoing a parameter) must read as text in a notification, never as markup: no mention,
no link, no forged line.

- Slack mrkdwn: `&`, `<` and `>` become `&amp;`, `&lt;`, `&gt;`, the three characters Slack's
  "Formatting text for app surfaces" asks to escape ("Escaping text",
  https://api.slack.com/reference/surfaces/formatting#escaping): `<!channel>` and `<http://x|y>` are
  control sequences only when written with them. Values are set in code spans, where Slack neither
  formats nor links; a backtick inside would close one, so it becomes U+02CB.
- DingTalk markdown (custom robot `msgtype: markdown`, which renders links `[text](url)`, images
  `![](url)`, emphasis and quotes): it documents no escape character, so the characters of that
  syntax become their full-width forms (`[` -> U+FF3B, ...), which no renderer reads as markup.
- Both: the colon of `scheme://` becomes U+FF1A (full-width colon), so that no payload text is
  auto-linked, and control characters are shown as escapes (core/visible.py): a newline cannot start
  a line of its own.
- The generic JSON webhook gets the text with control characters shown; JSON encoding does the rest.
"""

from __future__ import annotations

import re

from ..core.visible import visible

_SCHEME = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}):(?=//)")
_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "\u02cb"})
_DINGTALK = str.maketrans(
    {
        "[": "\uff3b",
        "]": "\uff3d",
        "(": "\uff08",
        ")": "\uff09",
        "<": "\uff1c",
        ">": "\uff1e",
        "`": "\uff40",
        "*": "\uff0a",
        "!": "\uff01",
        "|": "\uff5c",
        "\\": "\uff3c",
    }
)


def _escaped(text: object, table: dict[int, str]) -> str:
    # Markup first, then control characters (their escapes' backslashes are ours), then links.
    raw = "" if text is None else str(text)
    return _SCHEME.sub("\\1\uff1a", visible(raw.translate(table)))


def slack(text: object) -> str:
    return _escaped(text, _SLACK)


def dingtalk(text: object) -> str:
    return _escaped(text, _DINGTALK)


def plain(text: object) -> str:
    return visible(text)
