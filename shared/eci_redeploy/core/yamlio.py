"""YAML reading that refuses duplicate keys (a repeated key silently dropping a setting is a typo trap)
and documents that are too big: files over a size cap, anything but a regular file, and alias
expansion past a node budget (a few lines of anchors can stand for a billion nodes)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Defaults sized from real files with a wide margin: a 1,000-rule file is ~40,000 nodes and ~300 KB.
MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 250_000
MAX_DEPTH = 100


class DuplicateKeyError(ValueError):
    pass


class YamlLimitError(ValueError):
    """Over the size, node or depth budget, or not a regular file: refused before it is built."""


class _StrictLoader(_Base):  # type: ignore[misc,valid-type]
    pass


def _mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in out:
            raise DuplicateKeyError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def expanded_size(root: yaml.Node, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> int:
    """How many nodes the document has once every alias is expanded, counted on the composed graph
    (an alias is the same node object seen again), so the count itself costs one visit per distinct
    node. Raises YamlLimitError over the budget, past the depth, or for an alias inside itself."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlLimitError(f"an alias refers to a node that contains it (line {node.start_mark.line + 1})")
        if depth > max_depth:
            raise YamlLimitError(f"nested more than {max_depth} levels deep (line {node.start_mark.line + 1})")
        total = 1
        if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
            active.add(key)
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
            for child in children:
                total += size(child, depth + 1)
                if total > max_nodes:
                    raise YamlLimitError(
                        f"expands to more than {max_nodes:,} nodes through its aliases (anchors reused too often)"
                    )
            active.discard(key)
        sizes[key] = total
        return total

    return size(root, 0)


def load_yaml_text(text: str, *, max_nodes: int = MAX_NODES) -> Any:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node, max_nodes=max_nodes)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_bounded(path: Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """A regular file's bytes, at most `max_bytes` (checked on the opened file: no swap in between).
    /dev/zero, a FIFO or a directory is refused instead of read until memory runs out."""
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer (no effect on files).
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise YamlLimitError("not a regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise YamlLimitError(f"larger than the {max_bytes:,}-byte limit")
    return data


def load_yaml_file(path: Path, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES) -> Any:
    return load_yaml_text(read_bounded(path, max_bytes=max_bytes).decode("utf-8"), max_nodes=max_nodes)
