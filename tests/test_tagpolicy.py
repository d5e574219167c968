import pytest

from eci_redeploy.tagpolicy import TagPolicy


def semver(pattern, prerelease=False, ignore=()):
    return TagPolicy("semver", pattern, prerelease, tuple(ignore))


@pytest.mark.parametrize(
    ("policy", "tag", "allowed"),
    [
        (semver(">=1.2.0 <2.0.0"), "1.2.0", True),
        (semver(">=1.2.0 <2.0.0"), "1.9.99", True),
        (semver(">=1.2.0 <2.0.0"), "2.0.0", False),
        (semver(">=1.2.0 <2.0.0"), "1.1.9", False),
        (semver(">=1.2.0 <2.0.0"), "v1.3.0", True),  # v prefix tolerated
        (semver(">=1.2.0 <2.0.0"), "1.3.0+build.7", True),  # build metadata ignored
        (semver(">=1.2.0 <2.0.0"), "1.3.0-rc.1", False),  # prereleases excluded by default
        (semver(">=1.2.0 <2.0.0", prerelease=True), "1.3.0-rc.1", True),
        (semver(">=1.2.0 <2.0.0", prerelease=True), "2.0.0-rc.1", False),
        (semver("^1.2"), "1.7.0", True),
        (semver("^1.2"), "2.0.0", False),
        (semver("~1.2.3"), "1.2.9", True),
        (semver("~1.2.3"), "1.3.0", False),
        (semver("1.x"), "1.0.0", True),
        (semver("*"), "latest", False),  # not a version at all
        (semver("*"), "", False),
        (semver(">=1.0.0", ignore=["*-debug"]), "1.4.0-debug", False),
        (semver(">=1.0.0", prerelease=True, ignore=["*-debug"]), "1.4.0-debug", False),
        (TagPolicy("glob", "release-*"), "release-42", True),
        (TagPolicy("glob", "release-*"), "feature-42", False),
        (TagPolicy("glob", "*", ignore=("*-debug",)), "1-debug", False),
        (TagPolicy("regex", r"main-[0-9a-f]{7}"), "main-1a2b3c4", True),
        (TagPolicy("regex", r"main-[0-9a-f]{7}"), "main-1a2b3c4-x", False),  # whole tag must match
        (TagPolicy("exact", ("latest",)), "latest", True),
        (TagPolicy("exact", ("latest", "stable")), "stable", True),
        (TagPolicy("exact", ("latest",)), "latest2", False),
    ],
)
def test_allows(policy, tag, allowed):
    assert policy.allows(tag) is allowed


def test_reasons_name_the_problem():
    assert "prerelease" in semver(">=1.0.0").decide("1.1.0-rc.1")
    assert "outside" in semver("<1.0.0").decide("1.1.0")
    assert "not a semantic version" in semver("*").decide("latest")
    assert "ignored" in TagPolicy("glob", "*", ignore=("x*",)).decide("xy")
    assert "no tag" in TagPolicy("glob", "*").decide(None)


def test_prerelease_ordering_rc10_after_rc9():
    policy = semver(">=1.0.0-rc.1", prerelease=True)
    assert policy.best(["1.0.0-rc.9", "1.0.0-rc.10", "1.0.0-rc.2"]) == "1.0.0-rc.10"
    assert policy.best(["1.0.0-rc.10", "1.0.0"]) == "1.0.0"


def test_best_semver_ignores_prereleases_and_non_versions():
    policy = semver(">=1.0.0 <2.0.0")
    assert policy.best(["1.2.0", "1.10.0", "1.9.9", "2.0.0", "1.11.0-rc.1", "latest", "v1.10.1"]) == "v1.10.1"
    assert policy.best(["latest"]) is None


def test_best_exact_follows_the_first_listed_tag():
    assert TagPolicy("exact", ("stable", "latest")).best(["latest", "stable"]) == "stable"
    assert TagPolicy("glob", "*").best(["a", "b"]) is None
