"""Calendar versions: a CalVer format (calver.org's conventions) read into a regex with named groups
and the keys a tag is ordered by, compared numerically in turn.

Tokens (calver.org, "Scheme"): `YYYY` full year (2006, 2016, 2106), `YY` short year (6, 16, 106),
`0Y` zero-padded year (06, 16, 106), `MM` short month (1 ... 12), `0M` zero-padded month (01 ... 12),
`WW` / `0W` week (1 ... 53 / 01 ... 53), `DD` / `0D` day (1 ... 31 / 01 ... 31), `MAJOR`, `MINOR`,
`MICRO` (numbers; here any run of digits, compared as a number, so a build counter or a time of day
`153000` fits), `MODIFIER` (a text tag such as dev, rc1 or a commit hash: matched, never compared).
Anything else in the format is literal. A part in brackets is optional: `YYYY.0M.0D[-MICRO]` takes
both 2024.07.10 and 2024.07.10-1, the tag without the part ranking below every tag with it.

Keys are compared from the most significant: year, month, week, day, then major, minor, micro,
whatever their place in the format, so `0D.0M.YYYY` (14.03.2026) orders by date too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# token -> (group, regex); the most significant group first in KEY_ORDER.
_TOKENS: dict[str, tuple[str, str]] = {
    "YYYY": ("year", r"[1-9]\d{3}"),
    "YY": ("year", r"0|[1-9]\d{0,2}"),
    "0Y": ("year", r"\d{2,3}"),
    "MM": ("month", r"1[0-2]|[1-9]"),
    "0M": ("month", r"0[1-9]|1[0-2]"),
    "WW": ("week", r"5[0-3]|[1-4]\d|[1-9]"),
    "0W": ("week", r"0[1-9]|[1-4]\d|5[0-3]"),
    "DD": ("day", r"3[01]|[12]\d|[1-9]"),
    "0D": ("day", r"0[1-9]|[12]\d|3[01]"),
    "MAJOR": ("major", r"\d+"),
    "MINOR": ("minor", r"\d+"),
    "MICRO": ("micro", r"\d+"),
    "MODIFIER": ("modifier", r"[0-9A-Za-z]+(?:[.][0-9A-Za-z]+)*"),
}
KEY_ORDER = ("year", "month", "week", "day", "major", "minor", "micro")
_SCAN = re.compile("|".join(sorted(map(re.escape, _TOKENS), key=len, reverse=True)) + r"|\[|\]|.", re.S)
MAX_FORMAT = 64


class CalverError(ValueError):
    """A CalVer format that cannot be read; the message says why."""


@dataclass(frozen=True)
class Calver:
    regex: str  # RE2 and Python `re` alike: named groups, no lookaround
    keys: tuple[str, ...]  # the groups compared, most significant first


@lru_cache(maxsize=256)
def compile_format(fmt: str) -> Calver:
    if not isinstance(fmt, str) or not fmt.strip():
        raise CalverError("an empty calver format (e.g. 'YYYY.0M.0D', 'YYYY.0M.MICRO', 'YYYY0M0D-MICRO-MODIFIER')")
    if len(fmt) > MAX_FORMAT:
        raise CalverError(f"a calver format longer than {MAX_FORMAT} characters")
    out: list[str] = []
    seen: list[str] = []
    optional = False
    for m in _SCAN.finditer(fmt):
        piece = m.group()
        if piece == "[":
            if optional:
                raise CalverError(f"{fmt!r}: optional parts ([...]) do not nest")
            optional = True
            out.append("(?:")
        elif piece == "]":
            if not optional:
                raise CalverError(f"{fmt!r}: a ']' without its '['")
            optional = False
            out.append(")?")
        elif piece in _TOKENS:
            group, pattern = _TOKENS[piece]
            if group in seen:
                raise CalverError(f"{fmt!r}: {group} appears twice")
            seen.append(group)
            out.append(f"(?P<{group}>{pattern})")
        else:
            out.append(re.escape(piece))
    if optional:
        raise CalverError(f"{fmt!r}: a '[' without its ']'")
    keys = tuple(k for k in KEY_ORDER if k in seen)
    if not keys:
        raise CalverError(
            f"{fmt!r} names no part to order by (YYYY, YY, 0Y, MM, 0M, WW, 0W, DD, 0D, MAJOR, MINOR, MICRO)"
        )
    return Calver("".join(out), keys)
