"""What was applied to a container group, recorded in its own ECI tags: no database needed.

`eci-redeploy.digest`      the digest (or tag) the rule last applied
`eci-redeploy.event-time`  the push event's time, in Unix milliseconds: an older event never wins
`eci-redeploy.rule`        the rule that applied it
`eci-redeploy.previous`    what ran before (digest or tag), for the report and a manual rollback
`eci-redeploy.tag`         the tag that was deployed: a group on `repo@sha256:...` still has a known
                           version, so the no-downgrade guard and stay_within can compare against it
`eci-redeploy.applied.<rule>`  "<event ms>;<tag>;<digest or :tag>": the record of another rule that
                           changed the group before (one per rule; see below)
`eci-redeploy.freeze`      set it (any value but "false") and eci-redeploy never touches the group

The record is per rule: two rules can target one group, each changing its own container (rule A:
team/app -> container `app`, rule B: team/sidecar -> `sidecar`), and each rule's guards (event time,
no downgrade, restart recognition) compare only with its own record. The five keys above hold the
record of the rule that changed the group last (`eci-redeploy.rule`; groups recorded by earlier
versions read the same way); when another rule changes it, that record moves to
`eci-redeploy.applied.<its rule>` (rule names are at most 63 characters, so the key fits). A group
one rule changes carries the five keys only, as before. Entries of rules no longer in the rules file
are dropped on the next change; when the entries still needed do not fit, the change has no room for
its record (`record` returns None) and is handled as any change without room: not silently.

ECI allows 20 tags per group, keys and values up to 128 characters, no `acs:` / `aliyun` prefixes
and no URLs: these keys and values stay within that (an entry leaves the tag out when the value would
be too long, and keeps the version's last ENTRY_VERSION characters).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

PREFIX = "eci-redeploy."
DIGEST = PREFIX + "digest"
EVENT_TIME = PREFIX + "event-time"
RULE = PREFIX + "rule"
PREVIOUS = PREFIX + "previous"
FREEZE = PREFIX + "freeze"
TAG = PREFIX + "tag"
ENTRY = PREFIX + "applied."  # + rule name: another rule's record
OURS = (DIGEST, EVENT_TIME, RULE, PREVIOUS)
_REPLACED = (*OURS, TAG)  # ours, rewritten on every change (TAG only where there is room)
MAX_TAGS = 20
MAX_VALUE = 128
ENTRY_VERSION = MAX_VALUE - 15  # 13 digits of milliseconds and two separators before it


@dataclass(frozen=True)
class Applied:
    digest: str | None
    event_time_ms: int | None
    rule: str | None
    tag: str | None = None
    limit: int = MAX_VALUE  # how many of the version's last characters were kept

    def holds(self, version: str | None) -> bool:
        """Whether the recorded version is `version` (as far as it was kept)."""
        return bool(self.digest) and version is not None and self.digest == version[-self.limit :]


def _ms(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def applied(tags: Mapping[str, str], rule: str | None = None) -> Applied:
    """The record of `rule` on a group: the five keys while they are its own (or name no rule), else
    its `eci-redeploy.applied.<rule>` entry, else nothing. `rule` None: the five keys (the last change)."""
    last = Applied(tags.get(DIGEST) or None, _ms(tags.get(EVENT_TIME)), tags.get(RULE) or None, tags.get(TAG))
    if rule is None or last.rule == rule:
        return last
    entry = tags.get(ENTRY + rule)
    if entry:
        return _parse(entry, rule)
    if last.rule is None and last.digest is not None:
        return last  # a record that names no rule: it may be this rule's
    return Applied(None, None, rule)


def _parse(value: str, rule: str) -> Applied:
    ms, _, rest = value.partition(";")
    tag, _, version = rest.partition(";")
    return Applied(version or None, _ms(ms), rule, tag or None, ENTRY_VERSION)


def _entry(done: Applied) -> str:
    version = (done.digest or "")[-ENTRY_VERSION:]
    head = f"{done.event_time_ms if done.event_time_ms is not None else ''};"
    tag = done.tag or ""
    if len(head) + len(tag) + 1 + len(version) > MAX_VALUE or ";" in tag or not _tag_value_ok(tag):
        tag = ""  # the guard then falls back to the running image's own tag
    return f"{head}{tag};{version}"


def entries(tags: Mapping[str, str]) -> dict[str, str]:
    """Other rules' records on a group, by rule (empty values read as unset)."""
    return {k[len(ENTRY) :]: v for k, v in tags.items() if k.startswith(ENTRY) and v}


def is_tracking(key: str) -> bool:
    """Whether a tag key is part of the record (rewritten by `record`)."""
    return key in _REPLACED or key.startswith(ENTRY)


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


def _others(existing: Mapping[str, str], rule: str, live: Collection[str] | None) -> dict[str, str]:
    """The entries a change by `rule` leaves: the last record moves to its rule's entry, `rule`'s own
    entry goes (the five keys hold it now), and rules not in `live` are dropped."""
    others = entries(existing)
    last = applied(existing)
    if last.rule and last.rule != rule and last.digest:
        others[last.rule] = _entry(last)
    others.pop(rule, None)
    if live is not None:
        others = {r: v for r, v in others.items() if r in live}
    # a rule name is at most 63 characters; a hand-edited `eci-redeploy.rule` may not fit a key
    return {ENTRY + r: v for r, v in sorted(others.items()) if len(ENTRY + r) <= MAX_VALUE and _tag_value_ok(r)}


def record(
    existing: Mapping[str, str],
    *,
    version: str,
    event_time: datetime | None,
    rule: str,
    previous: str | None,
    tag: str | None = None,
    live: Collection[str] | None = None,
) -> list[dict[str, str]] | None:
    """The group's full tag list with what is being applied; None if ECI's 20-tag limit leaves no room
    (for this record and the records of the other rules in `live` that changed the group).

    `tag` (the pushed tag) is recorded only when there is room for it too: the guard then falls back to
    the running image's own tag."""
    # System tags (acs:..., aliyun...: ESS's acs:autoscaling:scalingGroupId) are the cloud's, never sent back.
    tags = {k: v for k, v in existing.items() if not is_tracking(k) and _tag_value_ok(k)}
    others = _others(existing, rule, live)
    ours = {DIGEST: version[-MAX_VALUE:], RULE: rule}
    ms = millis(event_time)
    if ms is not None:
        ours[EVENT_TIME] = str(ms)
    if previous:
        ours[PREVIOUS] = previous[-MAX_VALUE:]
    used = len(tags) + len(others) + len(ours)
    if used > MAX_TAGS:
        return None
    if tag and len(tag) <= MAX_VALUE and _tag_value_ok(tag) and used < MAX_TAGS:
        ours[TAG] = tag
    return [{"Key": k, "Value": v} for k, v in {**tags, **others, **ours}.items()]


def is_system(key: str) -> bool:
    """A tag the cloud set (acs:..., aliyun...): never written back."""
    return not _tag_value_ok(key)


def version_of(digest: str | None, tag: str | None) -> str:
    return digest or f":{tag}"


def _tag_value_ok(value: str) -> bool:
    # ECI refuses tag values that start with aliyun / acs: or contain a URL.
    low = value.lower()
    return not (low.startswith(("aliyun", "acs:")) or "http://" in low or "https://" in low)


def deployed_tag(
    tags: Mapping[str, str], running_digest: str | None, running_tag: str | None, rule: str | None = None
) -> str | None:
    """The tag a group runs for the rule's repository: the rule's recorded tag while its record still
    describes what runs (same digest, or same tag for tag deploys), else the last record (the five keys,
    whatever rule it names: a renamed rule's) while it describes what runs, else the running image's tag."""
    for done in (applied(tags, rule), applied(tags)):
        if done.tag and done.digest:
            if running_digest and done.holds(running_digest):
                return done.tag
            if not running_digest and running_tag and done.holds(f":{running_tag}"):
                return done.tag
    return running_tag
