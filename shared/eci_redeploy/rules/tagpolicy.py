"""Which pushed tags a rule deploys (semver range, glob, regex or exact, then the ignore list), and in
which order a rule ranks tags (`TagPolicy.order_key`: the one "which push is newer" everyone uses).

Versions: `MAJOR.MINOR.PATCH` or `MAJOR.MINOR` (read as `.0`), an optional `v`/`V`, an optional
prerelease and build metadata, parsed and ordered by python-semver (SemVer 2.0.0 §11 precedence).
Bare integers (`3050`, `20240101`, a short commit hash), four or more parts, leading zeros and
numbers beyond 2^53-1 (npm's limit, node-semver test/fixtures/invalid-versions.js: "too big") are not
versions: a semver rule never deploys them. Calendar versions have their own policy (`calver`).

Ranges: npm's grammar (`>=1.2.0 <2.0.0`, `^1.2`, `~1.2.3`, `1.x`, `*`, `1.2.3 - 2.3.4`, `||`) plus what
users bring from the Go tools built on Masterminds/semver (Keel, Argo CD Image Updater, Flux): `,`
is AND exactly like a space, `!=X` excludes a version (or a whole `!=1.2` / `!=1.x` line), and `~>`
(Ruby's pessimistic operator, accepted by node-semver) is `~`. Parsed here into comparator sets,
because no maintained Python library reads that union of grammars: a clause that cannot be read is a
`RangeError` naming it, never dropped; an empty range or alternative (`''`, `||`, `1.x ||`, which npm
reads as any version) is refused with a message naming `*`, so that no rule matches everything by a
slip. Prereleases follow npm's rule (node-semver classes/range.js testSet): a prerelease matches a
comparator set only when one of the set's comparators names a prerelease of the same
MAJOR.MINOR.PATCH (`^1.2.3-alpha` takes 1.2.3-beta, never 1.3.0-rc.1: whoever writes a prerelease in
a range means that version's prereleases). With `prerelease: true` every prerelease matches by
precedence like any version, with node-semver's `includePrerelease` desugaring: sugar such as
`^1.2.3` ends at `<2.0.0-0`, so it never admits
2.0.0-rc.1, and a partial's lower bound takes its own prereleases (`~1.3`, `1.3.x`, `^1.3`, `>=1.3`,
`1.3 - 2` start at 1.3.0-0; so does a hyphen range's full low end, `1.3.0 - 2`), while a full version
elsewhere is literal (`~1.3.0`, `^1.3.0`, `>=1.3.0` start at 1.3.0). Ranges are read that way always:
without `prerelease: true` only a prerelease the range names opens its version's prereleases (a `-0`
the desugaring adds names nothing), and for releases `-0` changes nothing.

Why npm's rule rather than "a range naming a prerelease is an error without `prerelease: true`": the
user who writes `^1.2.3-alpha` means that version's prereleases (npm and Masterminds both take them),
and npm's tuple rule keeps the rest of the range stable-only, so no rule silently widens to every
prerelease of later versions.

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
MAX_SAFE = 2**53 - 1  # npm's largest version number (Number.MAX_SAFE_INTEGER, internal/constants.js)

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
    if any(int(part) > MAX_SAFE for part in core.split(".")):
        return None  # npm: "too big" (a number JavaScript cannot hold exactly)
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
_OP_ALIASES = {"=>": ">=", "=<": "<=", "~>": "~"}  # Masterminds' spellings; node-semver's ~> (re.js TILDETRIM)
_X = {"x", "X", "*"}
_PARTIAL = re.compile(
    r"[vV]?(?P<major>0|[1-9]\d*|[xX*])(?:\.(?P<minor>0|[1-9]\d*|[xX*])(?:\.(?P<patch>0|[1-9]\d*|[xX*]))?)?"
    r"(?P<pre>-[0-9A-Za-z.-]+)?(?P<build>\+[0-9A-Za-z.-]+)?"
)
_COMPARATOR = re.compile(r"(?P<op><=|>=|=<|=>|!=|<|>|=|~>|~|\^)?(?P<version>\S*)")
# An operator followed by blanks is glued to its version (`>= 1.2` is `>=1.2`, as npm and Masterminds read it).
_GLUE = re.compile(r"(<=|>=|=<|=>|!=|<|>|=|~>|~|\^)\s+")

Check = Callable[[Key], bool]  # on precedence keys


# The range's parts are plain slotted classes, not dataclasses: each @dataclass costs ~0.4 ms at
# import, and this module is on the matched push's cold path.


class _Cmp:
    """`named`: the MAJOR.MINOR.PATCH of a prerelease the user wrote in this comparator (npm's rule lets
    that version's prereleases through); None for bounds the desugaring made (`<2.0.0-0`)."""

    __slots__ = ("bound", "named", "op")

    def __init__(self, op: str, bound: Version, named: bool = False) -> None:
        self.op, self.bound = op, precedence(bound)
        self.named = (bound.major, bound.minor, bound.patch) if named and bound.prerelease else None

    def __call__(self, version: Key) -> bool:
        return _OPS[self.op](version, self.bound)


class _Outside:
    """`!=1.2`: not on the 1.2.x line, its prereleases included."""

    __slots__ = ("high", "low")

    def __init__(self, low: Version, high: Version | None) -> None:
        self.low, self.high = precedence(low), None if high is None else precedence(high)

    def __call__(self, version: Key) -> bool:
        return not (self.low <= version and (self.high is None or version < self.high))


class _NotPrerelease:
    """`!=4.1-alpha` as Masterminds/semver v3 reads it (constraints.go constraintNotEqual on a constraint
    whose patch is missing, "patchDirty"; constraints_test.go: `!=4.1-alpha` refuses 4.1.0-alpha and
    4.1.1-alpha, takes 4.1.0): no 4.1.x whose prerelease is `alpha`; 4.1.1-beta and 4.1.1 pass."""

    __slots__ = ("major", "minor", "pre")

    def __init__(self, major: int, minor: int, pre: str) -> None:
        self.major, self.minor = major, minor
        self.pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))

    def __call__(self, version: Key) -> bool:
        return not (version[0] == self.major and version[1] == self.minor and version[3][1:] == self.pre)


def _never(version: Key) -> bool:
    return False


class _Partial:
    __slots__ = ("major", "minor", "minor_wild", "patch", "patch_wild", "pre")

    def __init__(self, major: int | None, minor: int | None, patch: int | None, pre: str | None) -> None:
        self.major, self.minor, self.patch, self.pre = major, minor, patch, pre
        # `1.2-rc.1` / `1-rc.1`: a prerelease on a partial, its missing parts filled with 0 (see _partial)
        self.minor_wild = self.patch_wild = False

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
        elif int(part) > MAX_SAFE:
            raise RangeError(f"{clause!r}: {part} is beyond 2^53-1, npm's largest version number")
        else:
            numbers.append(int(part))
    pre = m["pre"][1:] if m["pre"] else None
    if pre is not None:
        if any(part in _X for part in parts):
            raise RangeError(f"{clause!r}: a prerelease needs a version, not a wildcard")
        try:
            Version.parse(f"0.0.0-{pre}")  # SemVer's identifier rules (no empty parts, no leading zeros)
        except ValueError:
            raise RangeError(f"{clause!r}: {pre!r} is not a valid prerelease") from None
        # `>=1.2-rc.1` is >=1.2.0-rc.1 (Masterminds fills the missing parts with 0); `!=1.2-rc.1` is
        # read in `_comparator` (Masterminds keeps its patch a wildcard there).
        partial = _Partial(numbers[0], numbers[1] or 0, numbers[2] or 0, pre)
        partial.minor_wild, partial.patch_wild = numbers[1] is None, numbers[2] is None
        return partial
    return _Partial(numbers[0], numbers[1], numbers[2], pre)


def _between(
    low: Version | None, low_inclusive: bool, high: Version | None, high_inclusive: bool, named: bool = False
) -> list[Check]:
    """`named`: the low bound's prerelease is the user's own (`^1.2.3-alpha`), not the desugaring's -0."""
    checks: list[Check] = []
    if low is not None:
        checks.append(_Cmp(">=" if low_inclusive else ">", low, named))
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
    named = p.pre is not None  # a prerelease written by the user (npm's rule lets its version's through)
    if op == "~":
        if p.major is None:
            return []
        if p.minor is None:
            return _between(p.below(), True, Version(p.major + 1, 0, 0, "0"), False, named)
        return _between(p.below(), True, Version(p.major, p.minor + 1, 0, "0"), False, named)
    if op == "^":
        if p.major is None:
            return []
        if p.major > 0 or p.minor is None:
            high = Version(p.major + 1, 0, 0, "0")
        elif p.minor > 0 or p.patch is None:
            high = Version(0, p.minor + 1, 0, "0")
        else:
            high = Version(0, 0, p.patch + 1, "0")
        return _between(p.below(), True, high, False, named)
    if op == "!=" and p.pre is not None and p.minor_wild:  # `!=4-alpha`: Masterminds' minorDirty, all of 4.x
        assert p.major is not None
        return [_Outside(Version(p.major, 0, 0, "0"), Version(p.major + 1, 0, 0, "0"))]
    if op == "!=" and p.pre is not None and p.patch_wild:
        assert p.major is not None and p.minor is not None
        return [_NotPrerelease(p.major, p.minor, p.pre)]
    if p.full:
        return [_Cmp(op or "=", p.floor(), named and op != "!=")]  # excluding a prerelease does not ask for any
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
    checks = _between(start, True, None, False, lo.pre is not None) if lo.major is not None else []
    if hi.major is None:
        return checks
    if hi.full:
        return [*checks, _Cmp("<=", hi.floor(), hi.pre is not None)]
    return checks + _between(None, False, hi.ceiling(), False)


class SemverRange:
    """A parsed range: any of its comparator sets, each a conjunction of checks on a Version."""

    __slots__ = ("sets", "text")

    def __init__(self, text: str, sets: tuple[tuple[Check, ...], ...]) -> None:
        self.text, self.sets = text, sets

    def test(self, version: Version | Key, include_prerelease: bool = True) -> bool:
        """`include_prerelease` False: npm's default mode (a prerelease needs a comparator of its set that
        names a prerelease of the same MAJOR.MINOR.PATCH: node-semver classes/range.js testSet)."""
        key = precedence(version) if isinstance(version, Version) else version
        prerelease = key[3][0] == 0
        for checks in self.sets:
            if all(check(key) for check in checks) and (
                include_prerelease or not prerelease or any(getattr(c, "named", None) == key[:3] for c in checks)
            ):
                return True
        return False


@lru_cache(maxsize=1024)
def parse_range(text: str) -> SemverRange:
    """Read a range once (a rule's range is tested against every push of its repository)."""
    if not isinstance(text, str) or not text.strip():
        raise RangeError("an empty range: npm reads it as any version; write '*' if that is meant")
    if len(text) > 1024:
        raise RangeError("a range longer than 1024 characters")
    sets: list[tuple[Check, ...]] = []
    for alternative in text.split("||"):
        if not alternative.strip():
            raise RangeError(
                f"{text!r}: an empty alternative around '||': npm reads it as any version; write '*' if that is meant"
            )
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
    """How a regex rule ranks the tags it matches: by named groups compared in turn (the first that
    differs decides), numerically or alphabetically."""

    by: str  # numerical | alphabetical
    keys: tuple[str, ...]  # the named groups, most significant first

    def __init__(self, by: str, keys: str | Sequence[str]) -> None:
        object.__setattr__(self, "by", by)
        object.__setattr__(self, "keys", (keys,) if isinstance(keys, str) else tuple(keys))

    @property
    def key(self) -> str:
        """The first (most significant) key: what a one-key order (`key: build`) names."""
        return self.keys[0]


_ABSENT = Decimal(-1)  # an optional part a tag leaves out ranks below every number


@dataclass(frozen=True)
class TagPolicy:
    kind: str  # semver | calver | glob | regex | exact
    pattern: str | tuple[str, ...]  # calver: the format (`YYYY.0M.0D`)
    prerelease: bool = False
    ignore: tuple[str, ...] = ()
    updates: str | None = None  # semver only: minor (minor and patch updates) | patch (patch updates only)
    order: Order | None = None  # regex only (calver's is its format's)

    @property
    def stay_within(self) -> str | None:
        """The old name of `updates` (same values: minor = the running major, patch = its major.minor)."""
        return self.updates

    @property
    def ordered(self) -> bool:
        """Whether the rule ranks tags itself (semver, calver, regex with order): then a reconcile picks
        the highest and nothing moves a group down."""
        return self.kind in ("semver", "calver") or (self.kind == "regex" and self.order is not None)

    def _order(self) -> Order | None:
        assert isinstance(self.pattern, str)
        return _calver(self.pattern)[1] if self.kind == "calver" else self.order

    def _match(self, tag: str) -> Any:
        """The match of a regex or calver rule's pattern on the whole tag, or None."""
        assert isinstance(self.pattern, str)
        if self.kind == "calver":
            return _calver(self.pattern)[0].fullmatch(tag)
        return _fullmatch(self.pattern, tag)

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
            return self._decide_semver(tag)
        if self.kind == "glob":
            assert isinstance(self.pattern, str)
            return None if fnmatch.fnmatchcase(tag, self.pattern) else f"tag {tag} does not match {self.pattern!r}"
        if self.kind in ("regex", "calver"):
            order, m = self._order(), self._match(tag)
            if m is None:
                shape = f"calver {self.pattern}" if self.kind == "calver" else f"/{self.pattern}/"
                return f"tag {tag} does not match {shape}"
            if order is not None and _key(order, m) is None:
                groups = ", ".join(repr(k) for k in order.keys)
                are = "groups are" if len(order.keys) > 1 else "group is"
                return f"tag {tag}: its {groups} {are} not a number, so it has no order"
            return None
        if tag in self.pattern:
            return None
        return f"tag {tag} is not {' or '.join(self.pattern)}"

    def _decide_semver(self, tag: str) -> str | None:
        assert isinstance(self.pattern, str)
        version = parse_version(tag)
        if version is None:
            m = _VERSION.fullmatch(tag)
            if m is not None and any(int(n) > MAX_SAFE for n in m["core"].split(".")):
                return f"tag {tag} is not a version: a number beyond 2^53-1 (npm's limit)"
            return f"tag {tag} is not a version (MAJOR.MINOR[.PATCH][-prerelease][+build])"
        key, rng = precedence(version), parse_range(self.pattern)
        if rng.test(key, include_prerelease=self.prerelease):
            return None
        if version.prerelease and rng.test(key):
            return (
                f"tag {tag} is a prerelease (set prerelease: true to deploy prereleases, or name a prerelease "
                f"of {version.major}.{version.minor}.{version.patch} in the range)"
            )
        return f"tag {tag} is outside {self.pattern!r}"

    def describe(self, allow_downgrade: bool = False) -> str:
        """One line for `eci-redeploy validate`: the policy and what it guarantees (nothing it does not do)."""
        text = "exact " + " or ".join(self.pattern) if self.kind == "exact" else f"{self.kind} {self.pattern!r}"
        extra = []
        if self.kind == "semver":
            named = "prereleases only where the range names one"
            extra.append("all prereleases by precedence" if self.prerelease else named)
        if self.updates:
            extra.append(UPDATES[self.updates])
        if self.kind in ("regex", "calver"):
            order = self._order()
            if order is not None:
                keys = ", ".join(order.keys)
                how = "as numbers" if order.by == "numerical" else "as text"
                turn = " in turn" if len(order.keys) > 1 else ""
                extra.append(f"ordered by {keys}{turn}, {how}")
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

    def warnings(self) -> list[str]:
        """What `validate` warns about: an order that would rank some tags wrongly, or a range that
        looks written for tags it never takes."""
        if self.kind == "regex" and self.order is not None and self.order.by == "alphabetical":
            from .ordercheck import alphabetical_pitfalls

            assert isinstance(self.pattern, str)
            return alphabetical_pitfalls(self.pattern, self.order.keys)
        if self.kind == "semver":
            assert isinstance(self.pattern, str)
            years = sorted(
                {
                    c.bound[0]
                    for checks in parse_range(self.pattern).sets
                    for c in checks
                    if isinstance(c, _Cmp) and 1970 <= c.bound[0] <= 9999
                }
            )
            if years:
                return [
                    f"the range names {years[0]} as a major version: date tags such as {years[0]}.07.10 are not "
                    f"versions (a leading zero) and would all be skipped; for calendar versions use calver"
                ]
        return []

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
        if self.kind in ("regex", "calver"):
            order = self._order()
            if order is None:
                return None
            m = self._match(tag)
            return None if m is None else _key(order, m)
        return None

    def line(self, tag: str | None) -> Any | None:
        """With `updates`, the line a version is on (its major for minor, its major.minor for patch):
        pushes on different lines are for different groups and never supersede each other."""
        version = parse_version(tag) if self.updates and tag else None
        if version is None:
            return None
        return (version.major,) if self.updates == "minor" else (version.major, version.minor)

    def within(self, tag: str, running: str | None) -> str | None:
        """With `updates`, why `tag` leaves the running version's line (None: it stays on it)."""
        if self.updates is None:
            return None
        new = parse_version(tag)
        old = parse_version(running) if running else None
        if old is None or new is None:
            return f"updates: {self.updates}: the running version is not known (runs {running or '?'})"
        if self.line(tag) == self.line(running):
            return None
        line = f"{old.major}.x" if self.updates == "minor" else f"{old.major}.{old.minor}.x"
        return f"updates: {self.updates} ({UPDATES[self.updates]}): {tag} leaves {line} (runs {running})"

    def best(self, tags: Iterable[str], running: str | None = None) -> str | None:
        """The tag a reconcile should converge on: the highest allowed by the rule's order (within the
        running version's line with `updates`); the first listed for exact rules."""
        allowed = [t for t in tags if self.allows(t)]
        if self.updates is not None:
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


@lru_cache(maxsize=256)
def _calver(fmt: str) -> tuple[re.Pattern[str], Order]:
    """A calver format's pattern and order. Python's `re`, not RE2: the pattern is built from the
    format's fixed tokens (no user regex, no nested repetition, tags at most 128 characters), so it
    cannot backtrack badly, and `re` matches ~40x faster than the RE2 binding (bench/tagpolicy.py)."""
    from .calver import compile_format

    calver = compile_format(fmt)
    return re.compile(calver.regex), Order("numerical", calver.keys)


UPDATES = {"minor": "minor and patch updates within the running major", "patch": "patch updates only"}


def _key(order: Order, match: Any) -> Any | None:
    """The tuple a match ranks by: one entry per key, in turn. A key group that did not take part (an
    optional part) ranks below every value; one that took part and is not a number: no order."""
    out: list[Any] = []
    for name in order.keys:
        value = match.group(name)
        if value is None:
            out.append(_ABSENT if order.by == "numerical" else "")
            continue
        if order.by == "alphabetical":
            out.append(value)
            continue
        # Numerical, as Flux's policy: an integer or decimal, signed, compared exactly (no float rounding
        # of 19-digit build numbers). Decimal alone would also take "1_000", "1e3" and "NaN".
        if not _NUMBER.fullmatch(value):
            return None
        out.append(Decimal(value))
    if all(v is _ABSENT or v == "" for v in out):
        return None  # nothing to rank by
    return out[0] if len(out) == 1 else tuple(out)


def exact_tags(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
