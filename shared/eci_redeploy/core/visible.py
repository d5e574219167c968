"""Control characters made visible, for text that came from a payload and goes to a person: a terminal
table, a chat message. A newline would forge a line of its own; ESC starts terminal sequences (OSC 8
hyperlinks, colours, cursor moves); bidi overrides (U+202E) reorder what is read. Each such character
is written as its escape (`\\n`, `\\x1b`, `\\u202e`) instead, so that it is seen, not obeyed.
"""

from __future__ import annotations

import re
import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Fast path: most text is printable ASCII, which needs no look-up.
_SUSPECT = re.compile(r"[^\x20-\x7e]")


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    # Cc: C0, DEL, C1 (CSI 0x9b starts sequences too); Cf: bidi overrides, zero-width characters;
    # Zl / Zp: line and paragraph separators, which some renderers break lines at.
    if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return ch


def visible(text: object) -> str:
    """`text` (any value, as str) with every control, format and separator character escaped."""
    s = "" if text is None else str(text)
    if not _SUSPECT.search(s):
        return s
    return "".join(_escape(ch) for ch in s)


# What JSON (with ensure_ascii=False) leaves raw but a terminal or a log viewer obeys: DEL, the C1
# controls (0x9b is CSI, which starts sequences as ESC [ does), bidi overrides and isolates,
# zero-width characters, the line and paragraph separators. JSON escapes C0 itself.
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def json_safe(dumped: str) -> str:
    """A JSON text with those characters as `\\uXXXX` escapes: the same value once parsed, nothing for a
    terminal to act on (they can only occur inside strings, where the escape is valid)."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
