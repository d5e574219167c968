"""What `validate` warns about an order before a push meets it: an alphabetical key whose group takes
digits of varying width ranks `10` below `9` (text order), so `2024.07.10` would lose to `2024.07.9`.

The regex is read with Python's own regex parser (the syntax RE2 shares with it); a pattern it cannot
read (RE2-only syntax) gets no warning rather than a wrong one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:  # Python 3.11+ keeps the parser as re._parser; 3.10 as sre_parse
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef]

_DIGITS = set(range(ord("0"), ord("9") + 1))


def _can_be_digit(items: Any) -> bool:
    """Whether a parsed (sub)pattern can match a digit somewhere."""
    return any(_item_can_be_digit(str(op), arg) for op, arg in items)


def _item_can_be_digit(name: str, arg: Any) -> bool:
    if name == "LITERAL":
        return arg in _DIGITS
    if name in ("ANY", "NOT_LITERAL"):
        return True
    if name == "IN":
        return any(_in_digit(o, a) for o, a in arg)
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return _can_be_digit(arg[2])
    if name == "SUBPATTERN":
        return _can_be_digit(arg[-1])
    if name == "BRANCH":
        return any(_can_be_digit(branch) for branch in arg[1])
    return False


def _in_digit(op: Any, arg: Any) -> bool:
    name = str(op)
    if name == "LITERAL":
        return arg in _DIGITS
    if name == "RANGE":
        return arg[0] <= ord("9") and arg[1] >= ord("0")
    if name == "CATEGORY":
        return str(arg) in ("CATEGORY_DIGIT", "CATEGORY_WORD", "CATEGORY_NOT_SPACE")  # \d, \w, \S
    return name == "NEGATE"  # [^a-z] takes digits


def _group(parsed: Any, index: int) -> Any | None:
    for op, arg in parsed:
        name = str(op)
        if name == "SUBPATTERN":
            if arg[0] == index:
                return arg[-1]
            found = _group(arg[-1], index)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            found = _group(arg[2], index)
        elif name == "BRANCH":
            found = next((g for b in arg[1] if (g := _group(b, index)) is not None), None)
        else:
            continue
        if found is not None:
            return found
    return None


def alphabetical_pitfalls(pattern: str, keys: Sequence[str]) -> list[str]:
    """Warnings for the keys an alphabetical order would rank wrongly."""
    try:
        parsed = _sre.parse(pattern)
    except Exception:  # RE2 syntax Python does not read (\pN, ...): no claim either way
        return []
    out = []
    for key in keys:
        index = parsed.state.groupdict.get(key)
        sub = _group(parsed, index) if index is not None else None
        if sub is None:
            continue
        low, high = sub.getwidth()
        if low != high and _can_be_digit(sub):
            out.append(
                f"order by alphabetical compares {key!r} as text, and its group takes digit runs of varying "
                f"width: '10' sorts below '9', so a newer tag can lose; use by: numerical (or calver)"
            )
    return out
