"""Which pushed tags a rule deploys: semver range, glob, regex or exact, then the ignore list.

Semver follows npm's range grammar through node-semver (`>=1.2.0 <2.0.0`, `^1.2`, `~1.2.3`, `1.x`),
loose so that `v1.2.3` is accepted; build metadata is ignored; prereleases match only when the
rule asks for them, because users are surprised when `1.3.0-rc.1` deploys.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cmp_to_key, lru_cache
from typing import Any

import nodesemver


def valid_semver_range(text: str) -> bool:
    try:
        return nodesemver.valid_range(text, loose=True) is not None
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=4096)
def parse_version(tag: str) -> nodesemver.SemVer | None:
    try:
        return nodesemver.make_semver(tag, loose=True)
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class TagPolicy:
    kind: str  # semver | glob | regex | exact
    pattern: str | tuple[str, ...]
    prerelease: bool = False
    ignore: tuple[str, ...] = ()

    def decide(self, tag: str | None) -> str | None:
        """None when the tag is deployable; otherwise the reason it is not."""
        if not tag:
            return "the event carries no tag"
        for glob in self.ignore:
            if fnmatch.fnmatchcase(tag, glob):
                return f"tag {tag} is ignored by {glob!r}"
        if self.kind == "semver":
            assert isinstance(self.pattern, str)
            version = parse_version(tag)
            if version is None:
                return f"tag {tag} is not a semantic version"
            if version.prerelease and not self.prerelease:
                return f"tag {tag} is a prerelease (set prerelease: true to deploy prereleases)"
            if not _range(self.pattern).test(tag, include_prerelease=self.prerelease):
                return f"tag {tag} is outside {self.pattern!r}"
            return None
        if self.kind == "glob":
            assert isinstance(self.pattern, str)
            return None if fnmatch.fnmatchcase(tag, self.pattern) else f"tag {tag} does not match {self.pattern!r}"
        if self.kind == "regex":
            assert isinstance(self.pattern, str)
            return None if _regex(self.pattern).fullmatch(tag) else f"tag {tag} does not match /{self.pattern}/"
        if tag in self.pattern:
            return None
        return f"tag {tag} is not {' or '.join(self.pattern)}"

    def allows(self, tag: str | None) -> bool:
        return self.decide(tag) is None

    def order_key(self, tag: str | None) -> Any | None:
        """A value that sorts tags by this rule's own order (higher = newer), or None.

        None means the rule has no order of its own for this tag (glob, exact, unordered regex, or a
        tag that is not a version): callers then fall back to the push's event time. This is the one
        ordering every other module (coalescing, the no-downgrade guard, the reconcile) must use.
        """
        if not tag or self.kind != "semver" or parse_version(tag) is None:
            return None
        return _VERSION_KEY(tag)

    def best(self, tags: Iterable[str]) -> str | None:
        """The tag a reconcile should converge on: the highest allowed version for semver rules."""
        allowed = [t for t in tags if self.allows(t)]
        if not allowed:
            return None
        if self.kind == "semver":
            return max(allowed, key=cmp_to_key(_compare_versions))
        if self.kind == "exact":
            return next((t for t in self.pattern if t in allowed), None)
        return None  # glob / regex have no order: follow pushes, not a maximum


def _compare_versions(a: str, b: str) -> int:
    va, vb = parse_version(a), parse_version(b)
    assert va is not None and vb is not None
    return int(va.compare(vb))


_VERSION_KEY = cmp_to_key(_compare_versions)


@lru_cache(maxsize=1024)
def _range(pattern: str) -> nodesemver.Range:
    # Parsing a range costs ~40 us; a rule's range is tested against every push of its repository.
    return nodesemver.make_range(pattern, loose=True)


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def exact_tags(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
