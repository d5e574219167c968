"""node-semver's own range tables, run through our semver policies.

Source: npm/node-semver, commit 6e05b7637396ac66522cff8731f07cfe0ef49a29,
test/fixtures/range-include.js and test/fixtures/range-exclude.js (each row there is
`[range, version, options]`; the number below is the row's 0-based index in the exported array).
The expectation is the fixture's: True for range-include.js, False for range-exclude.js.

With `prerelease: true` a policy is documented to match like node-semver's `includePrerelease`
(desugaring in classes/range.js, same commit: replaceTilde / replaceCaret / replaceXRange /
hyphenReplace lower a partial's bound to `-0`). So NODE_SEMVER_INCLUDE_PRERELEASE holds every row
whose options are `{includePrerelease: true}`, and every other row whose answer node-semver keeps
under `{includePrerelease: true}` (checked by running that commit's satisfies() with it: the
option only widens a range, so every range-include.js row holds; range-exclude.js rows on releases
hold). Rows whose answer flips under includePrerelease were written for node-semver's default mode,
where a prerelease needs a same-tuple comparator: our default (`prerelease: false`) is that mode
(issue 28: npm's rule, classes/range.js testSet), so NODE_SEMVER_DEFAULT_MODE runs them with
`prerelease: false` and expects them excluded, and NODE_SEMVER_NAMED_PRERELEASE runs the fixture's
default-mode rows whose range names a prerelease with `prerelease: false`, as the fixture says.

Cross-checked (not at test time) against node-semver 7.8.5 (the copy npm bundles): every string row
of both fixtures outside loose mode gives node-semver's answer in both modes, but the two refusals
below (`''`, `||`).

Rows left out, each because our documented grammar (strict SemVer 2.0.0 versions, the npm README's
range grammar, plus `,` and `!=`) deliberately differs:
- loose-mode-only syntax (node-semver's `loose` option; we have no loose mode):
  include 4, 5, 6 (`1.2.3pre+asdf`), include 67 (`~ 1.0.3alpha`),
  exclude 13, 14, 15, 55 (version `1.0.0beta` / `2.0.0beta`), exclude 97 (`== 1.0.0 || foo`).
  (Loose rows whose only loose part is a `v` prefix, which strict mode and we both read, are kept:
  include 14, 35, exclude 27; exclude 68 is in the default-mode table.)
- an empty range or alternative: include 12 (`''`) and 41 (`'||'`) mean "any version" to node-semver;
  a rule's empty range is a RangeError here naming `*` (NODE_SEMVER_REFUSED), never a silent match-all.
- exclude 71 (`['>=2', false]`): the version is the boolean false, not a tag; tags are strings.
"""

import pytest

from eci_redeploy.rules.tagpolicy import RangeError, TagPolicy, parse_range

# (fixture, row index, range, version, included)
NODE_SEMVER_INCLUDE_PRERELEASE = [
    ("include", 0, "1.0.0 - 2.0.0", "1.2.3", True),
    ("include", 1, "^1.2.3+build", "1.2.3", True),
    ("include", 2, "^1.2.3+build", "1.3.0", True),
    ("include", 3, "1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3", True),
    ("include", 7, "1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2", True),
    ("include", 8, "1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha", True),
    ("include", 9, "1.2.3+asdf - 2.4.3+asdf", "1.2.3", True),
    ("include", 10, "1.0.0", "1.0.0", True),
    ("include", 11, ">=*", "0.2.4", True),
    ("include", 13, "*", "1.2.3", True),
    ("include", 14, "*", "v1.2.3", True),
    ("include", 15, ">=1.0.0", "1.0.0", True),
    ("include", 16, ">=1.0.0", "1.0.1", True),
    ("include", 17, ">=1.0.0", "1.1.0", True),
    ("include", 18, ">1.0.0", "1.0.1", True),
    ("include", 19, ">1.0.0", "1.1.0", True),
    ("include", 20, "<=2.0.0", "2.0.0", True),
    ("include", 21, "<=2.0.0", "1.9999.9999", True),
    ("include", 22, "<=2.0.0", "0.2.9", True),
    ("include", 23, "<2.0.0", "1.9999.9999", True),
    ("include", 24, "<2.0.0", "0.2.9", True),
    ("include", 25, ">= 1.0.0", "1.0.0", True),
    ("include", 26, ">=  1.0.0", "1.0.1", True),
    ("include", 27, ">=   1.0.0", "1.1.0", True),
    ("include", 28, "> 1.0.0", "1.0.1", True),
    ("include", 29, ">  1.0.0", "1.1.0", True),
    ("include", 30, "<=   2.0.0", "2.0.0", True),
    ("include", 31, "<= 2.0.0", "1.9999.9999", True),
    ("include", 32, "<=  2.0.0", "0.2.9", True),
    ("include", 33, "<    2.0.0", "1.9999.9999", True),
    ("include", 34, "<\t2.0.0", "0.2.9", True),
    ("include", 35, ">=0.1.97", "v0.1.97", True),
    ("include", 36, ">=0.1.97", "0.1.97", True),
    ("include", 37, "0.1.20 || 1.2.4", "1.2.4", True),
    ("include", 38, ">=0.2.3 || <0.0.1", "0.0.0", True),
    ("include", 39, ">=0.2.3 || <0.0.1", "0.2.3", True),
    ("include", 40, ">=0.2.3 || <0.0.1", "0.2.4", True),
    ("include", 42, "2.x.x", "2.1.3", True),
    ("include", 43, "1.2.x", "1.2.3", True),
    ("include", 44, "1.2.x || 2.x", "2.1.3", True),
    ("include", 45, "1.2.x || 2.x", "1.2.3", True),
    ("include", 46, "x", "1.2.3", True),
    ("include", 47, "2.*.*", "2.1.3", True),
    ("include", 48, "1.2.*", "1.2.3", True),
    ("include", 49, "1.2.* || 2.*", "2.1.3", True),
    ("include", 50, "1.2.* || 2.*", "1.2.3", True),
    ("include", 51, "*", "1.2.3", True),
    ("include", 52, "2", "2.1.2", True),
    ("include", 53, "2.3", "2.3.1", True),
    ("include", 54, "~0.0.1", "0.0.1", True),
    ("include", 55, "~0.0.1", "0.0.2", True),
    ("include", 56, "~x", "0.0.9", True),
    ("include", 57, "~2", "2.0.9", True),
    ("include", 58, "~2.4", "2.4.0", True),
    ("include", 59, "~2.4", "2.4.5", True),
    ("include", 61, "~1", "1.2.3", True),
    ("include", 64, "~1.0", "1.0.2", True),
    ("include", 65, "~ 1.0", "1.0.2", True),
    ("include", 66, "~ 1.0.3", "1.0.12", True),
    ("include", 68, ">=1", "1.0.0", True),
    ("include", 69, ">= 1", "1.0.0", True),
    ("include", 70, "<1.2", "1.1.1", True),
    ("include", 71, "< 1.2", "1.1.1", True),
    ("include", 72, "~v0.5.4-pre", "0.5.5", True),
    ("include", 73, "~v0.5.4-pre", "0.5.4", True),
    ("include", 74, "=0.7.x", "0.7.2", True),
    ("include", 75, "<=0.7.x", "0.7.2", True),
    ("include", 76, ">=0.7.x", "0.7.2", True),
    ("include", 77, "<=0.7.x", "0.6.2", True),
    ("include", 78, "~1.2.1 >=1.2.3", "1.2.3", True),
    ("include", 79, "~1.2.1 =1.2.3", "1.2.3", True),
    ("include", 80, "~1.2.1 1.2.3", "1.2.3", True),
    ("include", 81, "~1.2.1 >=1.2.3 1.2.3", "1.2.3", True),
    ("include", 82, "~1.2.1 1.2.3 >=1.2.3", "1.2.3", True),
    ("include", 83, ">=1.2.1 1.2.3", "1.2.3", True),
    ("include", 84, "1.2.3 >=1.2.1", "1.2.3", True),
    ("include", 85, ">=1.2.3 >=1.2.1", "1.2.3", True),
    ("include", 86, ">=1.2.1 >=1.2.3", "1.2.3", True),
    ("include", 87, ">=1.2", "1.2.8", True),
    ("include", 88, "^1.2.3", "1.8.1", True),
    ("include", 89, "^0.1.2", "0.1.2", True),
    ("include", 90, "^0.1", "0.1.2", True),
    ("include", 91, "^0.0.1", "0.0.1", True),
    ("include", 92, "^1.2", "1.4.2", True),
    ("include", 93, "^1.2 ^1", "1.4.2", True),
    ("include", 94, "^1.2.3-alpha", "1.2.3-pre", True),
    ("include", 95, "^1.2.0-alpha", "1.2.0-pre", True),
    ("include", 96, "^0.0.1-alpha", "0.0.1-beta", True),
    ("include", 97, "^0.0.1-alpha", "0.0.1", True),
    ("include", 98, "^0.1.1-alpha", "0.1.1-beta", True),
    ("include", 99, "^x", "1.2.3", True),
    ("include", 100, "x - 1.0.0", "0.9.7", True),
    ("include", 101, "x - 1.x", "0.9.7", True),
    ("include", 102, "1.0.0 - x", "1.9.7", True),
    ("include", 103, "1.x - x", "1.9.7", True),
    ("include", 104, "<=7.x", "7.9.9", True),
    ("include", 105, "2.x", "2.0.0-pre.0", True),
    ("include", 106, "2.x", "2.1.0-pre.0", True),
    ("include", 107, "1.1.x", "1.1.0-a", True),
    ("include", 108, "1.1.x", "1.1.1-a", True),
    ("include", 109, "~1.1", "1.1.0-a", True),
    ("include", 110, "~1.1.x", "1.1.0-a", True),
    ("include", 111, "~1.1", "1.1.1-a", True),
    ("include", 112, "~2", "2.0.0-pre.0", True),
    ("include", 113, "~2.x", "2.0.0-pre.0", True),
    ("include", 114, "*", "1.0.0-rc1", True),
    ("include", 115, "^1.0.0-0", "1.0.1-rc1", True),
    ("include", 116, "^1.0.0-rc2", "1.0.1-rc1", True),
    ("include", 117, "^1.0.0", "1.0.1-rc1", True),
    ("include", 118, "^1.0.0", "1.1.0-rc1", True),
    ("include", 119, "1 - 2", "2.0.0-pre", True),
    ("include", 120, "1 - 2", "1.0.0-pre", True),
    ("include", 121, "1.0 - 2", "1.0.0-pre", True),
    ("include", 122, "=0.7.x", "0.7.0-asdf", True),
    ("include", 123, ">=0.7.x", "0.7.0-asdf", True),
    ("include", 124, "<=0.7.x", "0.7.0-asdf", True),
    ("include", 125, ">=1.0.0 <=1.1.0", "1.1.0-pre", True),
    ("exclude", 0, "1.0.0 - 2.0.0", "2.2.3", False),
    ("exclude", 3, "^1.2.3+build", "2.0.0", False),
    ("exclude", 4, "^1.2.3+build", "1.2.0", False),
    ("exclude", 5, "^1.2.3", "1.2.3-pre", False),
    ("exclude", 9, "^1.2.3", "1.2.3-beta", False),
    ("exclude", 16, "1.0.0", "1.0.1", False),
    ("exclude", 17, ">=1.0.0", "0.0.0", False),
    ("exclude", 18, ">=1.0.0", "0.0.1", False),
    ("exclude", 19, ">=1.0.0", "0.1.0", False),
    ("exclude", 20, ">1.0.0", "0.0.1", False),
    ("exclude", 21, ">1.0.0", "0.1.0", False),
    ("exclude", 22, "<=2.0.0", "3.0.0", False),
    ("exclude", 23, "<=2.0.0", "2.9999.9999", False),
    ("exclude", 24, "<=2.0.0", "2.2.9", False),
    ("exclude", 25, "<2.0.0", "2.9999.9999", False),
    ("exclude", 26, "<2.0.0", "2.2.9", False),
    ("exclude", 27, ">=0.1.97", "v0.1.93", False),
    ("exclude", 28, ">=0.1.97", "0.1.93", False),
    ("exclude", 29, "0.1.20 || 1.2.4", "1.2.3", False),
    ("exclude", 30, ">=0.2.3 || <0.0.1", "0.0.3", False),
    ("exclude", 31, ">=0.2.3 || <0.0.1", "0.2.2", False),
    ("exclude", 32, "2.x.x", "1.1.3", False),
    ("exclude", 33, "2.x.x", "3.1.3", False),
    ("exclude", 34, "1.2.x", "1.3.3", False),
    ("exclude", 35, "1.2.x || 2.x", "3.1.3", False),
    ("exclude", 36, "1.2.x || 2.x", "1.1.3", False),
    ("exclude", 37, "2.*.*", "1.1.3", False),
    ("exclude", 38, "2.*.*", "3.1.3", False),
    ("exclude", 39, "1.2.*", "1.3.3", False),
    ("exclude", 40, "1.2.* || 2.*", "3.1.3", False),
    ("exclude", 41, "1.2.* || 2.*", "1.1.3", False),
    ("exclude", 42, "2", "1.1.2", False),
    ("exclude", 43, "2.3", "2.4.1", False),
    ("exclude", 44, "~0.0.1", "0.1.0-alpha", False),
    ("exclude", 45, "~0.0.1", "0.1.0", False),
    ("exclude", 46, "~2.4", "2.5.0", False),
    ("exclude", 47, "~2.4", "2.3.9", False),
    ("exclude", 50, "~1", "0.2.3", False),
    ("exclude", 52, "~1.0", "1.1.0", False),
    ("exclude", 53, "<1", "1.0.0", False),
    ("exclude", 54, ">=1.2", "1.1.1", False),
    ("exclude", 56, "~v0.5.4-beta", "0.5.4-alpha", False),
    ("exclude", 57, "=0.7.x", "0.8.2", False),
    ("exclude", 58, ">=0.7.x", "0.6.2", False),
    ("exclude", 59, "<0.7.x", "0.7.2", False),
    ("exclude", 61, "=1.2.3", "1.2.3-beta", False),
    ("exclude", 62, ">1.2", "1.2.8", False),
    ("exclude", 63, "^0.0.1", "0.0.2-alpha", False),
    ("exclude", 64, "^0.0.1", "0.0.2", False),
    ("exclude", 65, "^1.2.3", "2.0.0-alpha", False),
    ("exclude", 66, "^1.2.3", "1.2.2", False),
    ("exclude", 67, "^1.2", "1.1.9", False),
    ("exclude", 69, "*", "not a version", False),
    ("exclude", 70, ">=2", "glorp", False),
    ("exclude", 72, "2.x", "3.0.0-pre.0", False),
    ("exclude", 73, "^0.0.3", "0.0.3-alpha", False),
    ("exclude", 74, "^0.2.3", "0.2.3-alpha", False),
    ("exclude", 75, "^1.0.0", "1.0.0-rc1", False),
    ("exclude", 76, "^1.0.0", "2.0.0-rc1", False),
    ("exclude", 77, "^1.2.3-rc2", "2.0.0", False),
    ("exclude", 78, "^1.0.0", "2.0.0-rc1", False),
    ("exclude", 79, "1 - 2", "3.0.0-pre", False),
    ("exclude", 83, "1.1.x", "1.0.0-a", False),
    ("exclude", 85, "1.1.x", "1.2.0-a", False),
    ("exclude", 86, "1.1.x", "1.2.0-a", False),
    ("exclude", 87, "1.1.x", "1.0.0-a", False),
    ("exclude", 91, "1.x", "0.0.0-a", False),
    ("exclude", 92, "1.x", "2.0.0-a", False),
    ("exclude", 93, ">=1.0.0 <1.1.0", "1.1.0", False),
    ("exclude", 94, ">=1.0.0 <1.1.0", "1.1.0", False),
    ("exclude", 96, ">=1.0.0 <1.1.0-pre", "1.1.0-pre", False),
]

# `~>` (node-semver re.js LONETILDE `(?:~>?)`: Ruby's pessimistic operator read as `~`), both modes.
NODE_SEMVER_PESSIMISTIC = [
    ("include", 60, "~>3.2.1", "3.2.2", True),
    ("include", 62, "~>1", "1.2.3", True),
    ("include", 63, "~> 1", "1.2.3", True),
    ("exclude", 48, "~>3.2.1", "3.3.2", False),
    ("exclude", 49, "~>3.2.1", "3.2.0", False),
    ("exclude", 51, "~>1", "2.2.3", False),
]

# Default-mode rows (no options) whose range names a prerelease: npm's rule decides them without
# includePrerelease, and so does `prerelease: false` here.
NODE_SEMVER_NAMED_PRERELEASE = [
    ("include", 7, "1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2", True),
    ("include", 8, "1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha", True),
    ("include", 94, "^1.2.3-alpha", "1.2.3-pre", True),
    ("include", 95, "^1.2.0-alpha", "1.2.0-pre", True),
    ("include", 96, "^0.0.1-alpha", "0.0.1-beta", True),
    ("include", 98, "^0.1.1-alpha", "0.1.1-beta", True),
    ("exclude", 56, "~v0.5.4-beta", "0.5.4-alpha", False),
    ("exclude", 96, ">=1.0.0 <1.1.0-pre", "1.1.0-pre", False),
]

# node-semver: any version; here refused, with a message naming '*' (one rule for '' and '||').
NODE_SEMVER_REFUSED = [("include", 12, "", "1.0.0"), ("include", 41, "||", "1.3.4")]

# Default-mode rows (no includePrerelease) whose prerelease answer node-semver flips under includePrerelease.
NODE_SEMVER_DEFAULT_MODE = [
    ("exclude", 1, "1.2.3+asdf - 2.4.3+asdf", "1.2.3-pre.2", False),
    ("exclude", 2, "1.2.3+asdf - 2.4.3+asdf", "2.4.3-alpha", False),
    ("exclude", 6, "^1.2", "1.2.0-pre", False),
    ("exclude", 7, ">1.2", "1.3.0-beta", False),
    ("exclude", 8, "<=1.2.3", "1.2.3-beta", False),
    ("exclude", 10, "=0.7.x", "0.7.0-asdf", False),
    ("exclude", 11, ">=0.7.x", "0.7.0-asdf", False),
    ("exclude", 12, "<=0.7.x", "0.7.0-asdf", False),
    ("exclude", 60, "<1.2.3", "1.2.3-beta", False),
    ("exclude", 68, "*", "v1.2.3-foo", False),
    ("exclude", 80, "1 - 2", "2.0.0-pre", False),
    ("exclude", 81, "1 - 2", "1.0.0-pre", False),
    ("exclude", 82, "1.0 - 2", "1.0.0-pre", False),
    ("exclude", 84, "1.1.x", "1.1.0-a", False),
    ("exclude", 88, "1.x", "1.0.0-a", False),
    ("exclude", 89, "1.x", "1.1.0-a", False),
    ("exclude", 90, "1.x", "1.2.0-a", False),
    ("exclude", 95, ">=1.0.0 <1.1.0", "1.1.0-pre", False),
]


@pytest.mark.parametrize(("fixture", "row", "pattern", "version", "included"), NODE_SEMVER_INCLUDE_PRERELEASE)
def test_node_semver_fixture_with_include_prerelease(fixture, row, pattern, version, included):
    assert TagPolicy("semver", pattern, prerelease=True).allows(version) is included


@pytest.mark.parametrize(("fixture", "row", "pattern", "version", "included"), NODE_SEMVER_DEFAULT_MODE)
def test_node_semver_fixture_default_mode(fixture, row, pattern, version, included):
    assert TagPolicy("semver", pattern, prerelease=False).allows(version) is included


@pytest.mark.parametrize(("fixture", "row", "pattern", "version", "included"), NODE_SEMVER_PESSIMISTIC)
def test_node_semver_pessimistic_operator_is_tilde(fixture, row, pattern, version, included):
    assert TagPolicy("semver", pattern, prerelease=False).allows(version) is included
    assert TagPolicy("semver", pattern, prerelease=True).allows(version) is included


@pytest.mark.parametrize(("fixture", "row", "pattern", "version", "included"), NODE_SEMVER_NAMED_PRERELEASE)
def test_node_semver_a_range_naming_a_prerelease_takes_that_versions_prereleases(
    fixture, row, pattern, version, included
):
    assert TagPolicy("semver", pattern, prerelease=False).allows(version) is included


@pytest.mark.parametrize(("fixture", "row", "pattern", "version"), NODE_SEMVER_REFUSED)
def test_node_semver_empty_ranges_are_refused_naming_the_star(fixture, row, pattern, version):
    with pytest.raises(RangeError, match=r"write '\*' if that is meant"):
        parse_range(pattern)


@pytest.mark.parametrize("pattern", ["", "   ", "||", "1.x ||", "|| 1.x", "^1.2 || || 2.x"])
def test_every_empty_range_or_alternative_gets_the_same_message(pattern):
    with pytest.raises(RangeError, match=r"npm reads it as any version; write '\*' if that is meant"):
        parse_range(pattern)


def test_fixture_rows_accounted_for():
    """Every row of both fixtures is in a table or in the module docstring's skip list."""
    skipped = {("include", i) for i in (4, 5, 6, 67)}
    skipped |= {("exclude", i) for i in (13, 14, 15, 55, 71, 97)}
    tables = NODE_SEMVER_INCLUDE_PRERELEASE + NODE_SEMVER_DEFAULT_MODE + NODE_SEMVER_PESSIMISTIC
    tested = {(f, i) for f, i, *_ in tables} | {(f, i) for f, i, *_ in NODE_SEMVER_REFUSED}
    assert not tested & skipped
    assert tested | skipped == {("include", i) for i in range(126)} | {("exclude", i) for i in range(98)}
    named = {(f, i) for f, i, *_ in NODE_SEMVER_NAMED_PRERELEASE}
    assert named <= tested  # the same rows, run in the other mode


# node-semver test/fixtures/invalid-versions.js (same commit), rows 1-3: `${MAX_SAFE_INTEGER}0.0.0` and
# the like are "too big"; MAX_SAFE_INTEGER itself (internal/constants.js: Number.MAX_SAFE_INTEGER) is valid.
MAX_SAFE_INTEGER = 2**53 - 1
TOO_BIG = [f"{MAX_SAFE_INTEGER}0.0.0", f"0.{MAX_SAFE_INTEGER}0.0", f"0.0.{MAX_SAFE_INTEGER}0"]


@pytest.mark.parametrize("version", TOO_BIG)
def test_node_semver_numbers_beyond_max_safe_integer_are_not_versions(version):
    policy = TagPolicy("semver", "*")
    assert not policy.allows(version) and policy.order_key(version) is None
    assert "2^53-1" in policy.decide(version)
    with pytest.raises(RangeError, match="2\\^53-1"):
        parse_range(f">={version}")


def test_max_safe_integer_itself_is_a_version():
    assert TagPolicy("semver", "*").allows(f"{MAX_SAFE_INTEGER}.0.0")
    assert TagPolicy("semver", f"<={MAX_SAFE_INTEGER}.0.0").allows("1.0.0")


# Masterminds/semver constraints_test.go (commit 71f2b39, TestConstraintsCheck): `!=4.1-alpha` is not
# 4.1.0-alpha alone but every 4.1.x-alpha ({"!=4.1-alpha", "4.1.1-alpha", false}); 4.1.0 passes.
MASTERMINDS_NOT_EQUAL = [
    ("!=4.1-alpha", "4.1.0-alpha", False),
    ("!=4.1-alpha", "4.1.1-alpha", False),
    ("!=4.1-alpha", "4.1.0", True),
    ("!=4.1", "4.1.0", False),
    ("!=4.1", "5.1.0", True),
    ("!=4.x", "4.1.0", False),
    ("!=4.1.x", "4.2.0", True),
    ("!=4.2.x", "4.2.3", False),
]


@pytest.mark.parametrize(("pattern", "version", "included"), MASTERMINDS_NOT_EQUAL)
def test_masterminds_not_equal_with_prereleases_allowed(pattern, version, included):
    assert TagPolicy("semver", pattern, prerelease=True).allows(version) is included


# The review's cases (a rule `semver: "~1.3", prerelease: true` refused 1.3.0-rc.1), each answer from
# `satisfies(version, range, {includePrerelease: true})` at the same node-semver commit. A partial's
# lower bound takes its prereleases (`~1.3` is >=1.3.0-0); a full version's does not (`~1.3.0`,
# `^1.3.0`, `>=1.3.0` start at 1.3.0) except as a hyphen range's low end (`1.3.0 - 2` is >=1.3.0-0).
REVIEW_CASES = [
    ("~1.3", "1.3.0-rc.1", True),
    ("1.3.x", "1.3.0-rc.1", True),
    ("1.3", "1.3.0-rc.1", True),
    ("^1.3", "1.3.0-rc.1", True),
    (">=1.3", "1.3.0-rc.1", True),
    (">1.2", "1.3.0-rc.1", True),
    ("1.3 - 2", "1.3.0-rc.1", True),
    ("1.3.0 - 2", "1.3.0-rc.1", True),
    (">=1.3.0", "1.3.0-rc.1", False),
    ("~1.3.0", "1.3.0-rc.1", False),
    ("^1.3.0", "1.3.0-rc.1", False),
    ("1.3.0", "1.3.0-rc.1", False),
    ("<1.3", "1.3.0-rc.1", False),
    ("1 - 2.3.4", "2.3.5-rc.1", False),
]


@pytest.mark.parametrize(("pattern", "version", "included"), REVIEW_CASES)
def test_review_cases_with_include_prerelease(pattern, version, included):
    assert TagPolicy("semver", pattern, prerelease=True).allows(version) is included
    assert TagPolicy("semver", pattern, prerelease=False).allows(version) is False
