"""What was applied to a container group, recorded in its own ECI tags: no database needed.

`eci-redeploy.digest`      the digest (or tag) the rule last applied
`eci-redeploy.event-time`  the push event's time, in Unix milliseconds: an older event never wins
`eci-redeploy.rule`        the rule that applied it
`eci-redeploy.previous`    what ran before (digest or tag), for the report and a manual rollback
`eci-redeploy.tag`         the tag that was deployed: a group on `repo@sha256:...` still has a known
                           version, so the no-downgrade guard and `updates` can compare against it
`eci-redeploy.applied.<rule part>`  "<event ms>;<tag>;<digest or :tag>": the record of another rule
                           that changed the group before (one per rule; see below, and `rule_key`)
`eci-redeploy.freeze`      set it (any value but "false") and eci-redeploy never touches the group

The record is per rule: two rules can target one group, each changing its own container (rule A:
team/app -> container `app`, rule B: team/sidecar -> `sidecar`), and each rule's guards (event time,
no downgrade, restart recognition) compare only with its own record. The five keys above hold the
record of the rule that changed the group last (`eci-redeploy.rule`; groups recorded by earlier
versions read the same way); when another rule changes it, that record moves to
`eci-redeploy.applied.<its rule part>` (`rule_key`: at most 64 characters). A group
one rule changes carries the five keys only, as before. Entries of rules no longer in the rules file
are dropped on the next change; when the entries still needed do not fit, the change has no room for
its record (`record` returns None) and is handled as any change without room: not silently.

ECI allows 20 tags per group; CreateContainerGroup documents keys of at most 64 characters
(CreateContainerGroupRequestTag in alibabacloud-eci20180808; the ECI tags guide,
https://www.alibabacloud.com/help/en/eci/user-guide/use-tags-to-manage-elastic-container-instances),
values of at most 128, no `acs:` / `aliyun` prefixes and no URLs. Every key written here is at most
MAX_KEY (64) characters, every value at most MAX_VALUE (128): an entry leaves the tag out when the value
would be too long, and keeps the version's last ENTRY_VERSION characters.

Keys scoped to a rule (`rule_key`): `<base><rule>` while that fits 64 characters (rule names of up to
41-46 characters, by base), else `<base><the rule's first characters>.<10 hex of sha256(rule)>`, exactly
64 characters. A rule name has no `.`, so a key part with one is a hashed part: the rules file's
names are what reads it back (`rule_part`). Keys written by earlier versions with the whole rule name
past 64 characters (`eci-redeploy.applied.<63-character rule>`, 84) are still read; a key in the new
form wins over one in the old (`legacy_key` maps the old to the new), and the old key is never sent
to ECI again.
"""

from __future__ import annotations

import functools
import hashlib
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
ENTRY = PREFIX + "applied."  # + rule_part: another rule's record
# The gates' per-rule hold keys (gates/store.py) are built here too, so that planning can carry them.
HELD_OF = PREFIX + "held."
INFO_OF = PREFIX + "held-info."
APPROVED_OF = PREFIX + "approved."
RULE_SCOPED = (ENTRY, HELD_OF, INFO_OF, APPROVED_OF)
SIGNED = PREFIX + "signed."  # + the digest's first SIGNED_HEX hex digits (gates/store.py)
OURS = (DIGEST, EVENT_TIME, RULE, PREVIOUS)
_REPLACED = (*OURS, TAG)  # ours, rewritten on every change (TAG only where there is room)
MAX_TAGS = 20
MAX_KEY = 64
MAX_VALUE = 128
_HASHED = 10  # hex digits of sha256(rule) in a rule's key part when the whole name does not fit
SIGNED_HEX = MAX_KEY - len(SIGNED)  # 44 hex digits: 176 bits of the digest
_RULE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
SYSTEM_PREFIXES = ("acs:", "aliyun")  # tags users cannot set: ECI refuses them in a request
ENTRY_VERSION = MAX_VALUE - 15  # 13 digits of milliseconds and two separators before it


@functools.lru_cache(maxsize=8192)  # pure, and asked for every rule of every group a plan touches
def rule_part(base: str, rule: str) -> str:
    """The part of a `base` key that names `rule`: the name itself while the key fits MAX_KEY, else
    its first characters, a `.` and a hash of the whole name (a name with a `.`, or any character a
    rule name cannot have, is always hashed, so that a plain part is always a whole rule name)."""
    if len(base) + len(rule) <= MAX_KEY and rule and set(rule) <= _RULE_CHARS:
        return rule
    head = "".join(c for c in rule if c in _RULE_CHARS)[: MAX_KEY - len(base) - _HASHED - 1]
    return f"{head}.{hashlib.sha256(rule.encode()).hexdigest()[:_HASHED]}"


def rule_key(base: str, rule: str) -> str:
    return base + rule_part(base, rule)


def legacy_key(key: str) -> str | None:
    """The key an earlier version's over-long key of ours is written as now (None: not one)."""
    if len(key) <= MAX_KEY or not key.startswith(PREFIX):
        return None
    if key.startswith(SIGNED):
        hexdigits = key[len(SIGNED) :]
        return SIGNED + hexdigits[:SIGNED_HEX] if len(hexdigits) == 64 else None
    for base in RULE_SCOPED:
        if key.startswith(base):
            return rule_key(base, key[len(base) :])
    return None


def scoped(tags: Mapping[str, str], base: str, rule: str) -> str | None:
    """The value of `rule`'s `base` key: the key as written now, else (absent) an earlier version's."""
    key = rule_key(base, rule)
    if key in tags:
        return tags[key]
    return tags.get(base + rule)


def is_system(key: str) -> bool:
    """A tag users cannot set (`acs:tag:createdby`, `acs:autoscaling:...`, `aliyun...`): ECI refuses
    it in a request (CreateContainerGroupRequestTag: keys cannot start with acs: or aliyun)."""
    return key[:1] in "aA" and key.lower().startswith(SYSTEM_PREFIXES)


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
    entry = scoped(tags, ENTRY, rule)
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
    """Other rules' records on a group, by key part (`rule_part`; empty values read as unset). A key in
    the current form wins over an earlier version's for the same rule."""
    out: dict[str, str] = {}
    for key, value in sorted(tags.items(), key=lambda kv: legacy_key(kv[0]) is None):
        if key.startswith(ENTRY):
            out[(legacy_key(key) or key)[len(ENTRY) :]] = value
    return {part: v for part, v in out.items() if v}


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
        others[rule_part(ENTRY, last.rule)] = _entry(last)
    others.pop(rule_part(ENTRY, rule), None)
    if live is not None and others:  # most groups carry no other rule's entry: nothing to filter
        alive = {rule_part(ENTRY, r) for r in live}
        others = {r: v for r, v in others.items() if r in alive}
    return {ENTRY + r: v for r, v in sorted(others.items())}


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
    the running image's own tag, which the planner then writes into the image (`repo:tag@digest`,
    see `records_tag`)."""
    tags = {k: v for k, v in existing.items() if not is_tracking(k) and not is_system(k)}
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


def records_tag(tags: list[dict[str, str]] | None) -> bool:
    """Whether a tag list `record` made keeps the pushed tag (`eci-redeploy.tag`): without it, and
    without a tag in the image, the next push could not know the version the group runs."""
    return tags is not None and any(t["Key"] == TAG for t in tags)


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


@dataclass(frozen=True)
class RequestTags:
    """The Tag list a request carries, and the keys of the group's list it leaves out, with why."""

    tags: list[dict[str, str]]
    left_out: dict[str, str]


def for_request(
    tags: list[dict[str, str]], existing: Mapping[str, str] | None = None, clear: Collection[str] = ()
) -> RequestTags:
    """`tags` (a group's list, with what is being recorded) as UpdateContainerGroup or a successor's
    CreateContainerGroup may carry it: never a system tag (ECI adds and keeps those; a request naming
    one is refused), an earlier version's over-long key of ours under its current key (`legacy_key`),
    no other key past MAX_KEY. Then each key of ours in `clear` (an update: our keys the group has and
    the record no longer sets) written empty, which reads as unset (`applied`), while ECI's 20 tags
    leave room: whether Tag.N replaces the group's tags or merges into them (no public document says),
    the group then reads the same (docs/fake.md, "What the fake models")."""
    existing = existing or {}
    out: dict[str, str] = {}
    left_out: dict[str, str] = {}
    system = {k for k in existing if is_system(k)}
    for tag in tags:
        key, value = tag["Key"], tag.get("Value", "")
        if is_system(key):
            system.add(key)
        elif len(key) <= MAX_KEY:
            out[key] = value
        elif (new := legacy_key(key)) is not None:
            out.setdefault(new, value)
        else:
            left_out[key] = f"longer than {MAX_KEY} characters, which ECI refuses in a request"
    for key in sorted(clear):
        if key not in out and is_tracking(key) and len(key) <= MAX_KEY and existing.get(key):
            if len(out) + len(system) >= MAX_TAGS:
                break
            out[key] = ""
    return RequestTags([{"Key": k, "Value": v} for k, v in out.items()], left_out)
