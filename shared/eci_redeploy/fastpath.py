"""The cold-start fast path: answer an event that no rule can match without importing pydantic, YAML
or the ECI SDK (they cost ~150 ms and ~25 MB before the first byte of work).

It needs `rules.index.json` beside the rules file (written by the build from the validated rules)
and takes the fast path only when it is certain: the index matches the rules file byte for byte,
the payload is an ACR push it can read, and none of its repositories is watched. Anything else goes
the full way, which reports errors properly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

INDEX_NAME = "rules.index.json"


def index_path(rules_path: Path) -> Path:
    return rules_path.with_name(INDEX_NAME)


def write_index(
    rules_path: Path,
    repositories: list[str],
    *,
    document: Any = None,
    templates: dict[str, dict[str, Any]] | None = None,
    template_files: dict[str, Path] | None = None,
) -> Path:
    """The index of watched repositories, and optionally the rules document already parsed from YAML
    (with its templates), so that a cold start needs no YAML parser."""
    digest = hashlib.sha256(rules_path.read_bytes()).hexdigest()
    path = index_path(rules_path)
    body: dict[str, Any] = {"rules_sha256": digest, "repositories": sorted(set(repositories))}
    if document is not None:
        body["document"] = document
        body["templates"] = templates or {}
        body["template_sha256"] = {
            name: hashlib.sha256(file.read_bytes()).hexdigest() for name, file in (template_files or {}).items()
        }
    path.write_text(json.dumps(body, default=str))
    return path


def compiled_rules(rules_path: Path) -> tuple[Any, dict[str, dict[str, Any]]] | None:
    """(rules document, templates by rule) from the index, if it is current for the rules and templates."""
    try:
        index = json.loads(index_path(rules_path).read_text())
        if "document" not in index or index.get("rules_sha256") != hashlib.sha256(rules_path.read_bytes()).hexdigest():
            return None
        for name, digest in index.get("template_sha256", {}).items():
            if hashlib.sha256((rules_path.parent / name).read_bytes()).hexdigest() != digest:
                return None
        return index["document"], index["templates"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _watched(rules_path: Path) -> frozenset[str] | None:
    try:
        index = json.loads(index_path(rules_path).read_text())
        if index.get("rules_sha256") != hashlib.sha256(rules_path.read_bytes()).hexdigest():
            return None  # the rules changed since the index was written
        return frozenset(index["repositories"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _acr_push_repository(event: Any) -> str | None:
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
    return f"{namespace}/{name}".lower()


def unwatched_reply(payload: bytes | str, rules_path: Path) -> dict[str, Any] | None:
    watched = _watched(rules_path)
    if watched is None:
        return None
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    events = raw if isinstance(raw, list) else [raw]
    repositories = [_acr_push_repository(e) for e in events]
    if not repositories or any(r is None or r in watched for r in repositories):
        return None
    return {
        "ok": True,
        "actions": [],
        "skipped": [{"rule": None, "reason": f"no rule watches {r}"} for r in dict.fromkeys(repositories)],
    }
