"""The cold-start fast path: answer an event that no rule can match without importing pydantic, the
version library (node-semver) or the ECI SDK (together ~0.5 s and ~25 MB before the first byte of
work).

"Is this repository watched?" is answered from the build-time index (`rules/index.py`) when it is
current, and otherwise from the rules file itself: when the pushed path does not even occur in its
text, no rule can name it (see `_absent_from`); else a minimal read (PyYAML, then only
`rules[].source.repository` and `.registry`), cached per file (mtime + size) for the warm instance.
Either way the fast path answers only when certain: the payload is an ACR push it can read, the
rules file has the shape it expects, and no rule watches any of the pushed repositories. Anything
else goes the full way, which validates the rules and reports errors properly. Unlike the full way
the minimal read does not validate the whole rules file: an invalid file is reported by the first
event for a watched repository (and by `eci-redeploy validate` and the build), not by an unwatched one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .index import indexed_repositories, write_index

# The build imports write_index from here; its home is rules/index.py.
__all__ = ["unwatched_reply", "watched_sources", "write_index"]

# What a rule watches, as far as the fast path can tell: (repository, ACR EE instance id or None).
# None = "any registry": a host-named registry needs the full path's registry logic to rule out.
Watch = tuple[str, "str | None"]

_read_cache: dict[str, tuple[tuple[int, int], frozenset[Watch] | None]] = {}


def watched_sources(rules_path: Path) -> frozenset[Watch] | None:
    """What the rules watch, or None when the fast path cannot be sure (the full path then decides)."""
    indexed = indexed_repositories(rules_path)
    if indexed is not None:
        return frozenset((repository, None) for repository in indexed)
    return _file_sources(rules_path)


def _file_sources(rules_path: Path) -> frozenset[Watch] | None:
    try:
        stat = rules_path.stat()
    except OSError:
        return None
    key, stamp = str(rules_path), (stat.st_mtime_ns, stat.st_size)
    cached = _read_cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    sources = _read_sources(rules_path)
    _read_cache[key] = (stamp, sources)
    return sources


def _read_sources(rules_path: Path) -> frozenset[Watch] | None:
    from ..core.yamlio import load_yaml_file  # PyYAML's C loader, refusing duplicate keys like the full path

    try:
        document = load_yaml_file(rules_path)
    except Exception:  # unreadable or not YAML: the full path names the error
        return None
    rules = document.get("rules") if isinstance(document, dict) and document.get("version") == 1 else None
    if not isinstance(rules, list):
        return None
    sources: set[Watch] = set()
    for rule in rules:
        source = rule.get("source") if isinstance(rule, dict) else None
        repository = source.get("repository") if isinstance(source, dict) else None
        registry = source.get("registry") if isinstance(source, dict) else None
        if not isinstance(repository, str) or not repository or not isinstance(registry, (str, type(None))):
            return None
        # The rules model lowercases `registry`; an ACR EE instance id then must equal the event's.
        instance = registry.lower() if registry and registry.lower().startswith("cri-") else None
        sources.add((repository.lower(), instance))
    return frozenset(sources)


def _acr_push(event: Any) -> Watch | None:
    """(repository, instance id or None) of a readable ACR EE push, else None."""
    if not isinstance(event, dict) or event.get("source") != "acs.cr":
        return None
    if event.get("type") != "cr:Artifact:PushCompleted" or not event.get("id"):
        return None
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    lowered = {str(k).lower(): v for k, v in data.items()}
    namespace, name = lowered.get("reponamespacename"), lowered.get("reponame")
    if not isinstance(namespace, str) or not isinstance(name, str) or not namespace or not name:
        return None
    repository = f"{namespace}/{name}".lower()
    if not _REPOSITORY.fullmatch(repository):
        return None  # not a repository path: the full path refuses it with the reason
    instance = lowered.get("instanceid")
    return repository, instance if isinstance(instance, str) and instance else None


def _is_watched(push: Watch, watched: frozenset[Watch]) -> bool:
    repository, instance = push
    # As planner.registry_mismatch: a rule naming an ACR EE instance matches only a push that names it.
    return any(r == repository and (i is None or instance is None or i == instance) for r, i in watched)


# A repository path as registries accept it (distribution's reference grammar, lowercased): no
# whitespace, quotes or backslashes, which is what makes `_absent_from` sound.
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")


def _absent_from(rules_path: Path, repositories: list[str]) -> bool:
    """True when no rule can name any of these repositories, decided from the text without YAML.

    A YAML string equal to such a path appears verbatim in the text (plain, single- or
    double-quoted, block scalar or anchored: aliases repeat a value written elsewhere), except
    through a double-quoted escape (`"team/\\x77eb"`), which needs a backslash. So: no backslash in the
    file and none of the paths in it (case-insensitively, as the comparison below) means no match.
    """
    try:
        text = rules_path.read_text(encoding="utf-8").lower()
    except (OSError, UnicodeDecodeError):
        return False
    return "\\" not in text and not any(r in text for r in repositories)


def unwatched_reply(payload: bytes | str, rules_path: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    events = raw if isinstance(raw, list) else [raw]
    pushes = [_acr_push(e) for e in events]
    if not pushes or any(p is None for p in pushes):
        return None
    indexed = indexed_repositories(rules_path)
    if indexed is not None:
        watched: frozenset[Watch] | None = frozenset((repository, None) for repository in indexed)
    else:
        names = [p[0] for p in pushes if p]
        if all(_REPOSITORY.fullmatch(r) for r in names) and _absent_from(rules_path, names):
            return _reply(pushes, frozenset())  # the common case without an index: no YAML parser at all
        watched = _file_sources(rules_path)
    if watched is None or any(p is not None and _is_watched(p, watched) for p in pushes):
        return None
    return _reply(pushes, watched)


def _reply(pushes: list[Watch | None], watched: frozenset[Watch]) -> dict[str, Any]:
    repositories = {r for r, _ in watched}
    reasons = [
        f"no rule watches {r}" + (f" on {i}" if r in repositories else "")
        for r, i in dict.fromkeys(p for p in pushes if p)
    ]
    return {"ok": True, "actions": [], "skipped": [{"rule": None, "reason": reason} for reason in reasons]}
