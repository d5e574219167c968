"""A held change lives in the tags of the container groups it would change, like what was applied
(planning/tracking.py): no database, it survives restarts, and `DescribeContainerGroups` (which planning does
anyway) reads it back for free. Written with ECI's TagResources / UntagResources, which change no
container and are idempotent, so a retried or duplicated write is harmless; but they are last-writer-
wins, so with a worker function only the single writer writes them (gates.flow.release, run there).

`eci-redeploy.held`       the held version: the digest, or ":tag" without one
`eci-redeploy.held-rule`  the rule that holds it
`eci-redeploy.held-info`  "<held|refused>;<push time ms or ->;<held since ms>;<gates passed, '+'>;<tag>"
`eci-redeploy.approved`   "<approver>;<approved at ms>;<32 hex of the hold's id>" once someone approved
                          this hold (an approval naming another id counts for nothing)
`eci-redeploy.signed.<44 hex>`  "<recorded at ms>;<repository>": a successful SigningCompleted for the
                          digest whose first 44 hex digits (176 bits) these are, that came before
                          anything was held for it (EventBridge does not order events); at most
                          MAX_SIGNED per group, the oldest evicted (`signed_writes`). Earlier versions
                          wrote all 64 digits (an 84-character key): still read, never written.

One held change per rule on a group (a newer push of that rule replaces its own hold only). Two rules
can target one group, each changing its own container (rule A: team/app -> container `app`, rule B:
team/sidecar -> `sidecar`): each rule's hold, evidence and approval are its own (planning/tracking.py
keeps its applied record per rule the same way). The four keys above hold one rule's hold (the rule in
`held-rule`; holds recorded by earlier versions read the same way); while they belong to another rule,
a rule's hold is kept in

`eci-redeploy.held.<rule part>`       its version
`eci-redeploy.held-info.<rule part>`  its held-info
`eci-redeploy.approved.<rule part>`   its approval

(the rule part is planning/tracking.py's `rule_key`: the rule's name while the key fits 64 characters,
else its first characters and a hash of it; keys an earlier version wrote with the whole name past 64
characters are still read, and dropped on the rule's next hold). A group one rule holds carries the four keys
only, as before. Holds of rules no longer in the rules file are dropped on the next hold written to
the group; when a hold does not fit under ECI's 20 tags, `writes` returns None and the change is
skipped with a reason, never recorded over another rule's hold.

Values stay within ECI's 128 characters; a tag too long to fit in `held-info` is cut there (shown,
never used to deploy: the version is, and a version without a digest is read back as the whole tag).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from ..planning.tracking import (
    APPROVED_OF,
    HELD_OF,
    INFO_OF,
    MAX_TAGS,
    MAX_VALUE,
    PREFIX,
    SIGNED,
    SIGNED_HEX,
    rule_key,
    scoped,
)
from .evaluate import Approval

HELD = PREFIX + "held"
HELD_RULE = PREFIX + "held-rule"
HELD_INFO = PREFIX + "held-info"
APPROVED = PREFIX + "approved"
KEYS = (HELD, HELD_RULE, HELD_INFO, APPROVED)
# HELD_OF / INFO_OF / APPROVED_OF + rule part: a rule's hold when it is not in the four keys
_OF = {HELD: HELD_OF, HELD_INFO: INFO_OF, APPROVED: APPROVED_OF}
_SCOPED = tuple(_OF.values())
MAX_SIGNED = 2  # early signatures kept per group (ECI allows 20 tags; room for a hold is kept too)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_APPROVER = re.compile(r"[^A-Za-z0-9_.@-]")


def to_ms(when: datetime | None) -> int | None:
    return int(when.timestamp() * 1000) if when is not None else None


def from_ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms is not None else None


@dataclass(frozen=True)
class Held:
    rule: str
    version: str
    tag: str | None
    state: str  # held | refused
    pushed_ms: int | None
    since_ms: int
    passed: tuple[str, ...] = ()
    approval: Approval | None = None

    @property
    def digest(self) -> str | None:
        return self.version if self.version.startswith("sha256:") else None

    @property
    def since(self) -> datetime:
        return from_ms(self.since_ms)  # type: ignore[return-value]

    @property
    def pushed_at(self) -> datetime | None:
        return from_ms(self.pushed_ms)

    @property
    def id(self) -> str:
        return approval_id(self.rule, self.version, self.since_ms)

    def tags(self) -> dict[str, str]:
        info = f"{self.state};{self.pushed_ms if self.pushed_ms is not None else '-'};{self.since_ms};"
        info += "+".join(self.passed) + ";"
        out = {
            HELD: self.version[-MAX_VALUE:],
            HELD_RULE: self.rule,
            HELD_INFO: info + (self.tag or "")[: MAX_VALUE - len(info)],
        }
        if self.approval is not None:  # bound to this hold's id: it approves nothing else
            name = _APPROVER.sub("_", self.approval.approver)[:64]
            out[APPROVED] = f"{name};{to_ms(self.approval.at)};{self.id.rpartition('.')[2]}"
        return out

    def with_(self, **changes: object) -> Held:
        return replace(self, **changes)  # type: ignore[arg-type]


def read(tags: Mapping[str, str], rule: str | None = None) -> Held | None:
    """The held change of `rule` recorded on a group (the four keys while they are its own, else its
    own keys), or None (also for tags this version cannot read). `rule` None: the four keys."""
    if rule is None or tags.get(HELD_RULE) == rule:
        return _read(tags)
    if not scoped(tags, HELD_OF, rule):
        return None
    own = {base: value for base, of in _OF.items() if (value := scoped(tags, of, rule)) is not None}
    return _read({**own, HELD_RULE: rule})


def keys_of(tags: Mapping[str, str], rule: str) -> list[str]:
    """The keys on a group that record `rule`'s hold."""
    out = list(dict.fromkeys(k for of in _SCOPED for k in (rule_key(of, rule), of + rule) if k in tags))
    if tags.get(HELD_RULE) == rule:
        out += [k for k in KEYS if k in tags]
    return out


def is_hold_key(key: str) -> bool:
    return key in KEYS or key.startswith(_SCOPED)


def holders(tags: Mapping[str, str]) -> set[str]:
    """The rules with a hold (readable or not) on a group: their names, or for a name too long for a
    key, its key part."""
    out = {k[len(of) :] for k in tags for of in _OF.values() if k.startswith(of)}
    return out | ({tags[HELD_RULE]} if tags.get(HELD_RULE) else set())


def writes(
    tags: Mapping[str, str], held: Held, live: Collection[str] | None = None
) -> tuple[dict[str, str], list[str]] | None:
    """(tags to set, keys to drop) to record `held` on a group with these tags, leaving other rules'
    holds alone (those of rules not in `live` are dropped): in the four keys when they are free, its
    rule's or a dropped rule's, else in the rule's own keys. None when it does not fit ECI's 20 tags."""
    owner = tags.get(HELD_RULE)
    owner_dead = bool(owner) and live is not None and owner not in live and owner != held.rule
    drop: set[str] = set()
    if live is not None:  # the per-rule keys of rules not in `live`
        alive = {k for r in {*live, held.rule} for k in keys_of(tags, r)}
        drop = {k for k in tags if k.startswith(_SCOPED) and k not in alive}
    if owner_dead:
        drop |= {k for k in KEYS if k in tags}
    desired = held.tags()
    if owner and owner != held.rule and not owner_dead:
        desired = {rule_key(_OF[k], held.rule): v for k, v in desired.items() if k in _OF}
    if len(max(desired, key=len)) > MAX_VALUE:
        return None
    drop |= {k for k in keys_of(tags, held.rule) if k not in desired}
    if owner_dead or owner == held.rule:
        drop |= {k for k in KEYS if k in tags and k not in desired}
    drop -= set(desired)
    if len((set(tags) - drop) | set(desired)) > MAX_TAGS:
        return None
    return {k: v for k, v in desired.items() if tags.get(k) != v}, sorted(drop)


def _read(tags: Mapping[str, str]) -> Held | None:
    version, rule, info = tags.get(HELD), tags.get(HELD_RULE), tags.get(HELD_INFO)
    if not version or not rule or not info:
        return None
    if not version.startswith(("sha256:", ":")) and len(version) == MAX_VALUE:
        version = ":" + version  # a 128-character tag's version, its ':' cut to fit
    parts = info.split(";", 4)
    if len(parts) != 5 or parts[0] not in ("held", "refused"):
        return None
    state, pushed, since, passed, tag = parts
    try:
        pushed_ms = None if pushed == "-" else int(pushed)
        since_ms = int(since)
    except ValueError:
        return None
    held = Held(
        rule,
        version,
        version[1:] if version.startswith(":") else (tag or None),  # a tag version: the tag, whole
        state,
        pushed_ms,
        since_ms,
        tuple(p for p in passed.split("+") if p),
    )
    return held.with_(approval=_approval(tags.get(APPROVED), held.id))


def _approval(raw: str | None, hid: str) -> Approval | None:
    """`<approver>;<at ms>;<32 hex of the id>`: an approval counts for the hold whose id it names only
    (one recorded for another hold, or before ids were bound, is none: approve again)."""
    name, _, rest = (raw or "").partition(";")
    at, _, bound = rest.partition(";")
    if not name or bound != hid.rpartition(".")[2] or not at.isascii() or not at.isdigit():
        return None
    return Approval(name, from_ms(int(at)))  # type: ignore[arg-type]


ID_HEX = 32  # 128 bits


def approval_id(rule: str, version: str, since_ms: int) -> str:
    """`<rule>.<32 hex>`: SHA-256 of the rule, the whole version (the full digest, or the tag) and when
    the hold was created, cut to 128 bits (issue 23). The 12 digest digits it was before (48 bits) let a
    re-push of the tag whose digest shared them keep the id, and an approval of what the approver was
    shown deploy what they were not; a hold made again later gets a new id too."""
    bound = f"{rule}\n{version}\n{since_ms}".encode()
    return f"{rule}.{hashlib.sha256(bound).hexdigest()[:ID_HEX]}"


# ---- signatures that came before their hold ----


def signed_key(digest: str | None) -> str | None:
    """The tag key of a recorded signature of `digest` (`sha256:` + 64 lowercase hex), or None: its
    first SIGNED_HEX hex digits, so that the key fits ECI's 64 characters."""
    if not digest or not digest.startswith("sha256:") or not _HEX64.fullmatch(digest[7:]):
        return None
    return SIGNED + digest[7 : 7 + SIGNED_HEX]


def signed_in(tags: Mapping[str, str], digest: str | None, repository: str) -> bool:
    """Whether the tags record a successful signing of exactly this digest in this repository. A value
    that does not read back is no signature (fail closed)."""
    key = signed_key(digest)
    raw = (tags.get(key) or tags.get(SIGNED + digest[7:])) if key and digest else None  # now, or as written before
    if not raw:
        return False
    at, sep, repo = raw.partition(";")
    return bool(sep) and at.isascii() and at.isdigit() and repo == repository


def signed_writes(
    tags: Mapping[str, str], digest: str, repository: str, at_ms: int
) -> tuple[dict[str, str], list[str]] | None:
    """(tags to set, keys to drop) to record a signature on a group with these tags: at most MAX_SIGNED
    signatures, the oldest evicted, and room left under ECI's 20 tags for a hold's keys. ({}, []) when
    it is there already; None when it cannot be recorded (a digest or repository that does not fit,
    no room)."""
    key, value = signed_key(digest), f"{at_ms};{repository}"
    if key is None or len(value) > MAX_VALUE:
        return None
    if signed_in(tags, digest, repository):
        return {}, []
    ours = sorted((k for k in tags if k.startswith(SIGNED) and k != key), key=lambda k: _at(tags[k]), reverse=True)
    others = len([k for k in tags if not k.startswith(SIGNED)]) + len([k for k in KEYS if k not in tags])
    keep = ours[: MAX_SIGNED - 1]
    while keep and others + len(keep) + 1 > MAX_TAGS:
        keep.pop()
    if others + len(keep) + 1 > MAX_TAGS:
        return None
    return {key: value}, [k for k in ours if k not in keep]


def _at(value: str) -> int:
    at = value.partition(";")[0]
    return int(at) if at.isascii() and at.isdigit() else -1  # unreadable: evicted first
