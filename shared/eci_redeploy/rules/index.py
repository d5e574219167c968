"""The build-time index beside the rules file (`rules.index.json`): the watched repositories and the
rules document already parsed from YAML, each valid only while the files it was built from are
byte-for-byte unchanged.

Standard library only: both the cold path (`rules/watched.py`) and `rules.model.load_rules` read it, and neither
may pay for the other's imports.
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
    validated: Any = None,
) -> Path:
    """The index of watched repositories, and optionally the rules document already parsed from YAML
    (with its templates), so that a cold start needs no YAML parser. `validated`: the rules as the
    build validated them (`RuleSet.dump()`), sealed to the rules' digest, the document and the
    templates, so that a cold start need not validate them again (`sealed_rules`)."""
    digest = hashlib.sha256(rules_path.read_bytes()).hexdigest()
    path = index_path(rules_path)
    body: dict[str, Any] = {"rules_sha256": digest, "repositories": sorted(set(repositories))}
    if document is not None:
        body["document"] = document
        body["templates"] = templates or {}
        body["template_sha256"] = {
            name: hashlib.sha256(file.read_bytes()).hexdigest() for name, file in (template_files or {}).items()
        }
        if validated is not None:
            body["validated"] = validated
            body = json.loads(json.dumps(body, default=str))
            body["seal"] = _seal(body)
    path.write_text(json.dumps(body, default=str))
    return path


def _current_index(rules_path: Path) -> dict[str, Any] | None:
    """The index, if it was written from the rules file as it is now."""
    try:
        index = json.loads(index_path(rules_path).read_text())
        if not isinstance(index, dict):
            return None
        if index.get("rules_sha256") != hashlib.sha256(rules_path.read_bytes()).hexdigest():
            return None  # the rules changed since the index was written
        return index
    except (OSError, ValueError):
        return None


def compiled_rules(rules_path: Path) -> tuple[Any, dict[str, dict[str, Any]]] | None:
    """(rules document, templates by rule) from the index, if it is current for the rules and templates."""
    index = _current_index(rules_path)
    if index is None or not _templates_current(index, rules_path):
        return None
    return index["document"], index["templates"]


def _templates_current(index: dict[str, Any], rules_path: Path) -> bool:
    try:
        if "document" not in index or "templates" not in index:
            return False
        for name, digest in index.get("template_sha256", {}).items():
            if hashlib.sha256((rules_path.parent / name).read_bytes()).hexdigest() != digest:
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _seal(index: dict[str, Any]) -> str:
    """What ties the validated rules to the files and the document they were validated from."""
    parts = [index.get(key) for key in ("rules_sha256", "document", "templates", "template_sha256", "validated")]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def sealed_rules(rules_path: Path) -> tuple[Any, dict[str, dict[str, Any]]] | None:
    """(validated rules, templates) from the index, only if it is current for the rules and templates
    and its seal matches what it holds: anything edited after the build is validated again."""
    index = _current_index(rules_path)
    try:
        if index is None or not _templates_current(index, rules_path):
            return None
        if "validated" not in index or index.get("seal") != _seal(index):
            return None
        return index["validated"], index["templates"]
    except (ValueError, TypeError):
        return None


def indexed_repositories(rules_path: Path) -> frozenset[str] | None:
    """The watched repositories the build recorded, or None without a current index."""
    index = _current_index(rules_path)
    try:
        return None if index is None else frozenset(str(r).lower() for r in index["repositories"])
    except (KeyError, TypeError):
        return None
