"""Which pushed tags a rule deploys (semver range, glob, regex or exact, then the ignore list), and in
which order a rule ranks tags (`TagPolicy.order_key`: the one "which push is newer" everyone uses).

Versions: `MAJOR.MINOR.PATCH` or `MAJOR.MINOR` (read as `.0`), an optional `v`/`V`, an optional
prerelease and build metadata, parsed and ordered by python-semver (SemVer 2.0.0 §11 precedence).
Bare integers (`3050`, `20240101`, a short commit hash), four or more parts and leading zeros are
not versions: a semver rule never deploys them.

Ranges: npm's grammar (`>=1.2.0 <2.0.0`, `^1.2`, `~1.2.3`, `1.x`, `*`, `1.2.3 - 2.3.4`, `||`) plus what
users bring from the Go tools built on Masterminds/semver (Keel, Argo CD Image Updater, Flux): `,`
is AND exactly like a space, `!=X` excludes a version (or a whole `!=1.2` / `!=1.x` line). Parsed
here into comparator sets, because no maintained Python library reads that union of grammars: a
clause that cannot be read is a `RangeError` naming it, never dropped. Prereleases never match unless
the rule sets `prerelease: true`; then they match by precedence like any version, with node-semver's
`includePrerelease` desugaring: sugar such as `^1.2.3` ends at `<2.0.0-0`, so it never admits
2.0.0-rc.1, and a partial's lower bound takes its own prereleases (`~1.3`, `1.3.x`, `^1.3`, `>=1.3`,
`1.3 - 2` start at 1.3.0-0; so does a hyphen range's full low end, `1.3.0 - 2`), while a full version
elsewhere is literal (`~1.3.0`, `^1.3.0`, `>=1.3.0` start at 1.3.0). Ranges are read that way always:
without `prerelease: true` no prerelease reaches them, and for releases `-0` changes nothing.

Regexes run on RE2 (google-re2): linear time in the tag's length whatever the pattern, so a pushed
tag cannot stall the function with a pattern like `(a+)+$`. Tags are bounded at 128 characters
(the OCI distribution spec's limit) before any pattern sees them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from semver import Version

MAX_TAG = 128  # OCI distribution spec: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}

# What a version is: the SemVer 2.0.0 grammar (no leading zeros) with MAJOR.MINOR allowed and a v.
_VERSION = re.compile(
    r"[vV]?(?P<core>(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))?)"
    r"(?P<rest>(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)"
)


class RangeError(ValueError):
    """A semver range that cannot be read; the message names the clause."""


@lru_cache(maxsize=4096)
def parse_version(tag: str) -> Version | None:
    """The version a tag names, or None when it is not a version (see the module's rules)."""
    if len(tag) > MAX_TAG:
        return None
    m = _VERSION.fullmatch(tag)
    if m is None:
        return None
    core = m["core"] if m["core"].count(".") == 2 else m["core"] + ".0"
    try:
        return Version.parse(core + m["rest"])  # checks prerelease / build identifiers (no leading zeros)
    except ValueError:
        return None


Key = tuple[Any, ...]


def precedence(version: Version) -> Key:
    """SemVer 2.0.0 §11 as a plain tuple, so that comparing two versions is a tuple comparison (python-
    semver's own compare costs ~10x more, and the planner compares per container group). Identifiers:
    numeric ones numerically and below alphanumeric ones (ASCII order); more identifiers rank higher when
    the others are equal; a release (1,) ranks above any prerelease (0, ...). Build metadata is ignored.
    A test holds this equal to python-semver's compare."""
    if version.prerelease is None:
        return (version.major, version.minor, version.patch, (1,))
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.prerelease.split("."))
    return (version.major, version.minor, version.patch, (0, *parts))


@lru_cache(maxsize=4096)
def version_key(tag: str) -> Key | None:
    version = parse_version(tag)
    return None if version is None else precedence(version)


# --- ranges -----------------------------------------------------------------------------------------

_OPS: dict[str, Callable[[Key, Key], bool]] = {
    "<": lambda v, b: v < b,
    "<=": lambda v, b: v <= b,
    ">": lambda v, b: v > b,
    ">=": lambda v, b: v >= b,
    "=": lambda v, b: v == b,
    "!=": lambda v, b: v != b,
}
_OP_ALIASES = {"=>": ">=", "=<": "<="}  # Masterminds/semver accepts these spellings
_X = {"x", "X", "*"}
_PARTIAL = re.compile(
    r"[vV]?(?P<major>0|[1-9]\d*|[xX*])(?:\.(?P<minor>0|[1-9]\d*|[xX*])(?:\.(?P<patch>0|[1-9]\d*|[xX*]))?)?"
    r"(?P<pre>-[0-9A-Za-z.-]+)?(?P<build>\+[0-9A-Za-z.-]+)?"
)
_COMPARATOR = re.compile(r"(?P<op><=|>=|=<|=>|!=|<|>|=|~|\^)?(?P<version>\S*)")
# An operator followed by blanks is glued to its version (`>= 1.2` is `>=1.2`, as npm and Masterminds read it).
_GLUE = re.compile(r"(<=|>=|=<|=>|!=|<|>|=|~|\^)\s+")

Check = Callable[[Key], bool]  # on precedence keys


# The range's parts are plain slotted classes, not dataclasses: each @dataclass costs ~0.4 ms at
# import, and this module is on the matched push's cold path.


class _Cmp:
    __slots__ = ("bound", "op")

    def __init__(self, op: str, bound: Version) -> None:
        self.op, self.bound = op, precedence(bound)

    def __call__(self, version: Key) -> bool:
        return _OPS[self.op](version, self.bound)


class _Outside:
    """`!=1.2`: not on the 1.2.x line, its prereleases included."""

    __slots__ = ("high", "low")

    def __init__(self, low: Version, high: Version | None) -> None:
        self.low, self.high = precedence(low), None if high is None else precedence(high)

    def __call__(self, version: Key) -> bool:
        return not (self.low <= version and (self.high is None or version < self.high))


def _never(version: Key) -> bool:
    return False


class _Partial:
    __slots__ = ("major", "minor", "patch", "pre")

    def __init__(self, major: int | None, minor: int | None, patch: int | None, pre: str | None) -> None:
        self.major, self.minor, self.patch, self.pre = major, minor, patch, pre

    def floor(self) -> Version:
        """The lower bound npm's README writes for the partial: `1.2` -> 1.2.0, `1.2.3-rc.1` -> itself."""
        return Version(self.major or 0, self.minor or 0, self.patch or 0, self.pre)

    def below(self) -> Version:
        """Below every version the partial covers, its prereleases included: `1.2` -> 1.2.0-0. A full
        version is its own floor (`~1.2.3`, `^1.2.3` start at 1.2.3, not at 1.2.3-0, as in node-semver)."""
        return self.floor() if self.full else Version(self.major or 0, self.minor or 0, 0, "0")

    def ceiling(self) -> Version | None:
        """The first version above the partial (exclusive): `1.2` -> 1.3.0-0, `1` -> 2.0.0-0, `*` -> None."""
        if self.major is None:
            return None
        if self.minor is None:
            return Version(self.major + 1, 0, 0, "0")
        if self.patch is None:
            return Version(self.major, self.minor + 1, 0, "0")
        return None

    @property
    def full(self) -> bool:
        return self.patch is not None


def _partial(text: str, clause: str) -> _Partial:
    m = _PARTIAL.fullmatch(text)
    if m is None:
        raise RangeError(f"{clause!r} is not a version, x-range or comparator")
    parts = [m["major"], m["minor"], m["patch"]]
    numbers: list[int | None] = []
    for part in parts:
        if part is None or part in _X:
            numbers.append(None)
        elif numbers and numbers[-1] is None:
            raise RangeError(f"{clause!r}: a number cannot follow a wildcard")
        else:
            numbers.append(int(part))
    pre = m["pre"][1:] if m["pre"] else None
    if pre is not None:
        if any(part in _X for part in parts):
            raise RangeError(f"{clause!r}: a prerelease needs a version, not a wildcard")
        # Masterminds reads `!=4.1-alpha` as 4.1.0-alpha: a prerelease makes the partial a full version.
        numbers = [numbers[0], numbers[1] or 0, numbers[2] or 0]
        try:
            Version.parse(f"0.0.0-{pre}")  # SemVer's identifier rules (no empty parts, no leading zeros)
        except ValueError:
            raise RangeError(f"{clause!r}: {pre!r} is not a valid prerelease") from None
    return _Partial(numbers[0], numbers[1], numbers[2], pre)


def _between(low: Version | None, low_inclusive: bool, high: Version | None, high_inclusive: bool) -> list[Check]:
    checks: list[Check] = []
    if low is not None:
        checks.append(_Cmp(">=" if low_inclusive else ">", low))
    if high is not None:
        checks.append(_Cmp("<=" if high_inclusive else "<", high))
    return checks


def _comparator(token: str) -> list[Check]:
    m = _COMPARATOR.fullmatch(token)
    assert m is not None  # the pattern accepts any run of non-blanks
    op = _OP_ALIASES.get(m["op"] or "", m["op"] or "")
    if not m["version"]:
        raise RangeError(f"{token!r}: an operator without a version")
    p = _partial(m["version"], token)
    if op == "~":
        if p.major is None:
            return []
        if p.minor is None:
            return _between(p.below(), True, Version(p.major + 1, 0, 0, "0"), False)
        return _between(p.below(), True, Version(p.major, p.minor + 1, 0, "0"), False)
    if op == "^":
        if p.major is None:
            return []
        if p.major > 0 or p.minor is None:
            high = Version(p.major + 1, 0, 0, "0")
        elif p.minor > 0 or p.patch is None:
            high = Version(0, p.minor + 1, 0, "0")
        else:
            high = Version(0, 0, p.patch + 1, "0")
        return _between(p.below(), True, high, False)
    if p.full:
        return [_Cmp(op or "=", p.floor())]
    ceiling = p.ceiling()
    if op in ("", "="):  # `1.2` = any 1.2.x, its prereleases included
        return _between(p.below(), True, ceiling, False) if p.major is not None else []
    if op == "!=":  # `!=1.2` excludes the whole 1.2.x line (Masterminds)
        if p.major is None:
            return [_never]
        return [_Outside(p.below(), ceiling)]
    if p.major is None:  # `>=*`, `<=*`: anything; `<*`, `>*`: nothing (npm)
        return [] if op in (">=", "<=") else [_never]
    if op == ">":  # above every 1.2.x
        return _between(ceiling, True, None, False)
    if op == ">=":  # `>=1.2` from 1.2.0-0 on
        return _between(p.below(), True, None, False)
    if op == "<":
        return _between(None, False, p.below(), False)
    return _between(None, False, ceiling, False)  # <=


def _hyphen(low: str, high: str, clause: str) -> list[Check]:
    lo, hi = _partial(low, clause), _partial(high, clause)
    # node-semver's hyphenReplace with includePrerelease: a low end without a prerelease of its own starts
    # at -0 (`1.2.3 - 2` is >=1.2.3-0), so its prereleases are in; `1.2.3-rc.1 - 2` starts at rc.1.
    start = lo.floor() if lo.pre is not None else Version(lo.major or 0, lo.minor or 0, lo.patch or 0, "0")
    checks = _between(start, True, None, False) if lo.major is not None else []
    if hi.major is None:
        return checks
    if hi.full:
        return checks + _between(None, False, hi.floor(), True)
    return checks + _between(None, False, hi.ceiling(), False)


class SemverRange:
    """A parsed range: any of its comparator sets, each a conjunction of checks on a Version."""

    __slots__ = ("sets", "text")

    def __init__(self, text: str, sets: tuple[tuple[Check, ...], ...]) -> None:
        self.text, self.sets = text, sets

    def test(self, version: Version | Key) -> bool:
        key = precedence(version) if isinstance(version, Version) else version
        return any(all(check(key) for check in checks) for checks in self.sets)


@lru_cache(maxsize=1024)
def parse_range(text: str) -> SemverRange:
    """Read a range once (a rule's range is tested against every push of its repository)."""
    if not isinstance(text, str) or not text.strip():
        raise RangeError("an empty range (write '*' for any version)")
    if len(text) > 1024:
        raise RangeError("a range longer than 1024 characters")
    sets: list[tuple[Check, ...]] = []
    for alternative in text.split("||"):
        if not alternative.strip():
            raise RangeError(f"{text!r}: an empty alternative around '||'")
        tokens = [t for t in re.split(r"[\s,]+", _GLUE.sub(r"\1", alternative.strip())) if t]
        if not tokens:
            raise RangeError(f"{alternative.strip()!r}: no comparator")
        checks: list[Check] = []
        i = 0
        while i < len(tokens):
            if i + 2 < len(tokens) and tokens[i + 1] == "-":
                checks += _hyphen(tokens[i], tokens[i + 2], " ".join(tokens[i : i + 3]))
                i += 3
                continue
            if tokens[i] == "-":
                raise RangeError(f"{alternative.strip()!r}: a hyphen range needs a version on each side")
            checks += _comparator(tokens[i])
            i += 1
        sets.append(tuple(checks))
    return SemverRange(text, tuple(sets))


def valid_semver_range(text: str) -> bool:
    try:
        parse_range(text)
    except RangeError:
        return False
    return True


# --- regexes ----------------------------------------------------------------------------------------


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


class RegexError(ValueError):
    """A pattern RE2 cannot compile (backreferences and lookaround have no linear-time form)."""


@lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> Any:
    import re2  # google-re2: imported only by rules that use a regex

    options = re2.Options()
    options.log_errors = False  # RE2 would print the error to stderr; we raise it instead
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RegexError(f"{pattern!r} is not a valid regular expression (RE2 syntax): {detail}") from None


def _fullmatch(pattern: str, tag: str) -> Any:
    try:
        return compile_regex(pattern).fullmatch(tag)
    except UnicodeError:  # RE2 works on UTF-8: a tag with lone surrogates (JSON "\ud800") matches nothing
        return None


# --- policies ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """How a regex rule ranks the tags it matches: by a named group, numerically or alphabetically."""

    by: str  # numerical | alphabetical
    key: str  # the named group


@dataclass(frozen=True)
class TagPolicy:
    kind: str  # semver | glob | regex | exact
    pattern: str | tuple[str, ...]
    prerelease: bool = False
    ignore: tuple[str, ...] = ()
    stay_within: str | None = None  # semver only: minor | patch, relative to the running version
    order: Order | None = None  # regex only

    @property
    def ordered(self) -> bool:
        """Whether the rule ranks tags itself (semver, regex with order): then a reconcile picks the
        highest and nothing moves a group down."""
        return self.kind == "semver" or (self.kind == "regex" and self.order is not None)

    def decide(self, tag: str | None) -> str | None:
        """None when the tag is deployable; otherwise the reason it is not."""
        if not tag:
            return "the event carries no tag"
        if len(tag) > MAX_TAG:
            return f"tag {tag[:32]}... is longer than {MAX_TAG} characters (the OCI limit)"
        for glob in self.ignore:
            if fnmatch.fnmatchcase(tag, glob):
                return f"tag {tag} is ignored by {glob!r}"
        if self.kind == "semver":
            assert isinstance(self.pattern, str)
            version = parse_version(tag)
            if version is None:
                return f"tag {tag} is not a version (MAJOR.MINOR[.PATCH][-prerelease][+build])"
            if version.prerelease and not self.prerelease:
                return f"tag {tag} is a prerelease (set prerelease: true to deploy prereleases)"
            if not parse_range(self.pattern).test(precedence(version)):
                return f"tag {tag} is outside {self.pattern!r}"
            return None
        if self.kind == "glob":
            assert isinstance(self.pattern, str)
            return None if fnmatch.fnmatchcase(tag, self.pattern) else f"tag {tag} does not match {self.pattern!r}"
        if self.kind == "regex":
            assert isinstance(self.pattern, str)
            m = _fullmatch(self.pattern, tag)
            if m is None:
                return f"tag {tag} does not match /{self.pattern}/"
            if self.order is not None and self._key(m) is None:
                return f"tag {tag}: its {self.order.key!r} group is not a number, so it has no order"
            return None
        if tag in self.pattern:
            return None
        return f"tag {tag} is not {' or '.join(self.pattern)}"

    def describe(self, allow_downgrade: bool = False) -> str:
        """One line for `eci-redeploy validate`: the policy and what it guarantees."""
        text = "exact " + " or ".join(self.pattern) if self.kind == "exact" else f"{self.kind} {self.pattern!r}"
        extra = []
        if self.kind == "semver":
            extra.append("prereleases by precedence" if self.prerelease else "no prereleases")
        if self.stay_within:
            extra.append(f"stay_within {self.stay_within}")
        if self.order is not None:
            how = "numerically" if self.order.by == "numerical" else "alphabetically"
            extra.append(f"ordered by {self.order.key}, {how}")
        if self.ignore:
            extra.append("ignoring " + ", ".join(self.ignore))
        if self.ordered:
            extra.append("downgrades allowed" if allow_downgrade else "never downgrades")
            extra.append("reconciled to the highest")
        elif self.kind == "exact":
            extra.append("reconciled to the tag's digest")
        else:
            extra.append("follows pushes")
        return f"{text} ({'; '.join(extra)})"

    def allows(self, tag: str | None) -> bool:
        return self.decide(tag) is None

    def order_key(self, tag: str | None) -> Any | None:
        """A value that sorts tags by this rule's own order (higher = newer), or None.

        None means the rule has no order of its own for this tag (glob, exact, unordered regex, or a
        tag that is not a version / does not match): callers then fall back to the push's event time.
        This is the one ordering every other module (coalescing, the no-downgrade guard, the
        reconcile) must use. Keys of one policy compare with each other only.
        """
        if not tag or len(tag) > MAX_TAG:
            return None
        if self.kind == "semver":
            return version_key(tag)  # SemVer 2.0.0 §11 precedence; build metadata ignored
        if self.kind == "regex" and self.order is not None:
            assert isinstance(self.pattern, str)
            m = _fullmatch(self.pattern, tag)
            return None if m is None else self._key(m)
        return None

    def _key(self, match: Any) -> Any | None:
        assert self.order is not None
        value = match.group(self.order.key)
        if value is None:
            return None
        if self.order.by == "alphabetical":
            return value
        # Numerical, as Flux's policy: an integer or decimal, signed, compared exactly (no float rounding
        # of 19-digit build numbers). Decimal alone would also take "1_000", "1e3" and "NaN".
        if not _NUMBER.fullmatch(value):
            return None
        return Decimal(value)

    def within(self, tag: str, running: str | None) -> str | None:
        """With stay_within, why `tag` leaves the running version's line (None: it stays on it)."""
        if self.stay_within is None:
            return None
        new = parse_version(tag)
        old = parse_version(running) if running else None
        if old is None or new is None:
            return f"stay_within {self.stay_within}: the running version is not known (runs {running or '?'})"
        same = new.major == old.major and (self.stay_within == "minor" or new.minor == old.minor)
        if same:
            return None
        line = f"{old.major}.x" if self.stay_within == "minor" else f"{old.major}.{old.minor}.x"
        return f"stay_within {self.stay_within}: {tag} leaves {line} (runs {running})"

    def best(self, tags: Iterable[str], running: str | None = None) -> str | None:
        """The tag a reconcile should converge on: the highest allowed by the rule's order (within the
        running version's line with stay_within); the first listed for exact rules."""
        allowed = [t for t in tags if self.allows(t)]
        if self.stay_within is not None:
            allowed = [t for t in allowed if self.within(t, running) is None]
        if not allowed:
            return None
        if self.ordered:
            keyed = [(k, t) for t in allowed if (k := self.order_key(t)) is not None]
            if not keyed:
                return None
            # Ties (v1.2.0 and 1.2.0, a build suffix): the first listed wins, for a stable answer.
            return max(keyed, key=lambda pair: pair[0])[1]
        if self.kind == "exact":
            return next((t for t in self.pattern if t in allowed), None)
        return None  # glob / unordered regex: follow pushes, not a maximum


def exact_tags(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
