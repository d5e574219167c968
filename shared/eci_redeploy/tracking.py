"""What was applied to a container group, recorded in its own ECI tags: no database needed.

`eci-redeploy.digest`      the digest (or tag) the rule last applied
`eci-redeploy.event-time`  the push event's time, in Unix milliseconds: an older event never wins
`eci-redeploy.rule`        the rule that applied it
`eci-redeploy.previous`    what ran before (digest or tag), for the report and a manual rollback
`eci-redeploy.freeze`      set it (any value but "false") and eci-redeploy never touches the group

ECI allows 20 tags per group, keys and values up to 128 characters, no `acs:` / `aliyun` prefixes
and no URLs: these keys and values stay within that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

PREFIX = "eci-redeploy."
DIGEST = PREFIX + "digest"
EVENT_TIME = PREFIX + "event-time"
RULE = PREFIX + "rule"
PREVIOUS = PREFIX + "previous"
FREEZE = PREFIX + "freeze"
OURS = (DIGEST, EVENT_TIME, RULE, PREVIOUS)
MAX_TAGS = 20
MAX_VALUE = 128


@dataclass(frozen=True)
class Applied:
    digest: str | None
    event_time_ms: int | None
    rule: str | None


def applied(tags: Mapping[str, str]) -> Applied:
    raw = tags.get(EVENT_TIME)
    try:
        event_ms = int(raw) if raw else None
    except ValueError:
        event_ms = None
    return Applied(tags.get(DIGEST), event_ms, tags.get(RULE))


def frozen(tags: Mapping[str, str]) -> bool:
    value = tags.get(FREEZE)
    return value is not None and value.strip().lower() != "false"


def millis(time: datetime | None) -> int | None:
    if time is None:
        return None
    try:
        return int(time.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        return None


def record(
    existing: Mapping[str, str], *, version: str, event_time: datetime | None, rule: str, previous: str | None
) -> list[dict[str, str]] | None:
    """The group's full tag list with what is being applied; None if ECI's 20-tag limit leaves no room."""
    tags = {k: v for k, v in existing.items() if k not in OURS}
    ours = {DIGEST: version[-MAX_VALUE:], RULE: rule}
    ms = millis(event_time)
    if ms is not None:
        ours[EVENT_TIME] = str(ms)
    if previous:
        ours[PREVIOUS] = previous[-MAX_VALUE:]
    if len(tags) + len(ours) > MAX_TAGS:
        return None
    return [{"Key": k, "Value": v} for k, v in {**tags, **ours}.items()]


def version_of(digest: str | None, tag: str | None) -> str:
    return digest or f":{tag}"
