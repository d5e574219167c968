"""The ECI RPC wire form: nested API structures become `Container.1.Image=...` pairs.

`flatten` does what `alibabacloud_openapi_util.Client.query` does (values through `str()`, lists
numbered from 1, None dropped) without importing the SDK; a test holds the two equal. Secrets stay
wrapped so that only the gateway ever sees their values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..core.secrets import Secret

_INDEX = re.compile(r"^[1-9][0-9]*$")


def flatten(nested: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _walk("", nested, out)
    return out


def _walk(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            _walk(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value, start=1):
            _walk(f"{prefix}.{index}", item, out)
    elif isinstance(value, Secret):
        out[prefix] = value
    elif isinstance(value, bytes):
        out[prefix] = value.decode("utf-8")
    else:
        out[prefix] = str(value)


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse, for the fake's wire layer: numbered segments become lists (in index order)."""
    root: dict[Any, Any] = {}
    for key, value in flat.items():
        node = root
        parts = [int(p) if _INDEX.match(p) else p for p in key.split(".")]
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    result = _close_lists(root)
    return result if isinstance(result, dict) else {}


def _close_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(k, int) for k in node):
        return [_close_lists(node[k]) for k in sorted(node)]
    return {str(k): _close_lists(v) for k, v in node.items()}
