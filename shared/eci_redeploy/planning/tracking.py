"""What was applied to a container group, recorded in its own ECI tags: no database needed.

`eci-redeploy.digest`      the digest (or tag) the rule last applied
`eci-redeploy.event-time`  the push event's time, in Unix milliseconds: an older event never wins
`eci-redeploy.rule`        the rule that applied it
`eci-redeploy.previous`    what ran before (digest or tag), for the report and a manual rollback
`eci-redeploy.tag`         the tag that was deployed: a group on `repo@sha256:...` still has a known
                           version, so the no-downgrade guard and stay_within can compare against it
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
TAG = PREFIX + "tag"
OURS = (DIGEST, EVENT_TIME, RULE, PREVIOUS)
_REPLACED = (*OURS, TAG)  # ours, rewritten on every change (TAG only where there is room)
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
    existing: Mapping[str, str],
    *,
    version: str,
    event_time: datetime | None,
    rule: str,
    previous: str | None,
    tag: str | None = None,
) -> list[dict[str, str]] | None:
    """The group's full tag list with what is being applied; None if ECI's 20-tag limit leaves no room.

    `tag` (the pushed tag) is recorded only when there is room for it too: the guard then falls back to
    the running image's own tag."""
    tags = {k: v for k, v in existing.items() if k not in _REPLACED}
    ours = {DIGEST: version[-MAX_VALUE:], RULE: rule}
    ms = millis(event_time)
    if ms is not None:
        ours[EVENT_TIME] = str(ms)
    if previous:
        ours[PREVIOUS] = previous[-MAX_VALUE:]
    if len(tags) + len(ours) > MAX_TAGS:
        return None
    if tag and len(tag) <= MAX_VALUE and _tag_value_ok(tag) and len(tags) + len(ours) < MAX_TAGS:
        ours[TAG] = tag
    return [{"Key": k, "Value": v} for k, v in {**tags, **ours}.items()]


def version_of(digest: str | None, tag: str | None) -> str:
    return digest or f":{tag}"


def _tag_value_ok(value: str) -> bool:
    # ECI refuses tag values that start with aliyun / acs: or contain a URL.
    low = value.lower()
    return not (low.startswith(("aliyun", "acs:")) or "http://" in low or "https://" in low)


def deployed_tag(tags: Mapping[str, str], running_digest: str | None, running_tag: str | None) -> str | None:
    """The tag a group runs for the rule's repository: the recorded tag while the record still
    describes what runs (same digest, or same tag for tag deploys), else the running image's tag."""
    recorded, what = tags.get(TAG), tags.get(DIGEST)
    if recorded and what:
        if running_digest and what == running_digest[-MAX_VALUE:]:
            return recorded
        if not running_digest and running_tag and what == f":{running_tag}"[-MAX_VALUE:]:
            return recorded
    return running_tag
