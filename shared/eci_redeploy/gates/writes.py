"""The hold writes of one pass, buffered (`_Writes`: tags set and keys dropped, by region and value) and
made at the end in as few TagResources / UntagResources calls as ECI allows (`_write`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..clients.eci import tag_calls
from ..core.log import log_event


@dataclass
class _Writes:
    set: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = field(default_factory=dict)
    unset: dict[tuple[str, tuple[str, ...]], list[str]] = field(default_factory=dict)

    def put(self, region: str, gid: str, tags: Mapping[str, str]) -> None:
        self.set.setdefault((region, tuple(sorted(tags.items()))), []).append(gid)

    def drop(self, region: str, gid: str, keys: Iterable[str]) -> None:
        keys = tuple(sorted(keys))
        if keys:
            self.unset.setdefault((region, keys), []).append(gid)


def _write(writes: _Writes, gateway: Any) -> list[str]:
    """UntagResources then TagResources, 20 groups a call; returns the groups whose write failed."""
    failed: list[str] = []
    calls: list[tuple[str, str, list[str], dict[str, Any]]] = [
        ("UntagResources", region, ids, {"TagKey": list(keys)}) for (region, keys), ids in writes.unset.items()
    ]
    calls += [
        ("TagResources", region, ids, {"Tag": [{"Key": k, "Value": v} for k, v in pairs]})
        for (region, pairs), ids in writes.set.items()
    ]
    for action, region, ids, what in calls:
        for chunk, exc in tag_calls(gateway, action, region, ids, what):
            log_event("gates.write_failed", action=action, groups=chunk, error=exc.one_line())
            failed.extend(chunk)
    return failed
