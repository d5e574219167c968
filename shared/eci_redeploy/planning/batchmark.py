"""A rollout's progress, recorded on the groups it changes: what a later step of the rollout reads
to decide, from a fresh describe, whether the batch it started is healthy, still coming up, or
failed (and how to put a failed group back). No database and no state in the work order: a worker
killed between steps, or a continuation delivered twice, finds the same tags.

Two tags, written in the request that changes the group (UpdateContainerGroup's `Tag`; a restart's
record, written with TagResources once ECI accepted it: execution/records.py), so they cost no call:

`eci-redeploy.batch`  "<started ms>;<state>;<push key>;<rule>": when the step started the group's batch
                      (wall-clock Unix ms, so any worker instance reads it), `started` or `failed`
                      (rolled back, or reported unhealthy), the push (`push_key`: 12 hex of the rule,
                      the version and, without a digest, the push time) and the rule
`eci-redeploy.undo`   "<container>[,<container>...]=<image>": what the changed containers ran before,
                      for a rollback found by a later step (absent: no rollback possible, said so)

Keys are 18 and 17 characters, values at most 128 (a rule name is at most 63 characters; an undo
that does not fit is left out, and that group's rollout waits in its step as before, see
`execution/stepper.py`). The batch of a rule is the set of its groups with the latest started time:
earlier batches were found healthy before the next began.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..events.model import PushEvent
from . import tracking

BATCH = tracking.PREFIX + "batch"
UNDO = tracking.PREFIX + "undo"
STARTED, FAILED = "started", "failed"
KEYS = (BATCH, UNDO)
# After its timeout, how long a batch may still be judged by a late step (a backed-up queue).
SETTLE_SECONDS = 600.0


@dataclass(frozen=True)
class Mark:
    started_ms: int
    state: str
    push: str
    rule: str

    def value(self) -> str:
        return f"{self.started_ms};{self.state};{self.push};{self.rule}"


def push_key(rule: str, event: PushEvent) -> str:
    """The push under one rule: the same digest (or tag and time) is the same rollout."""
    version = tracking.version_of(event.digest, event.tag)
    when = "" if event.digest else str(tracking.millis(event.time))
    return hashlib.sha256(f"{rule}\x1f{version}\x1f{when}".encode()).hexdigest()[:12]


def mark_of(tags: Mapping[str, str]) -> Mark | None:
    raw = tags.get(BATCH) or ""
    parts = raw.split(";", 3)
    if len(parts) != 4 or parts[1] not in (STARTED, FAILED):
        return None
    try:
        return Mark(int(parts[0]), parts[1], parts[2], parts[3])
    except ValueError:
        return None


def failed_for(group: ContainerGroup, rule: str, event: PushEvent) -> bool:
    """Whether this push already failed on the group (rolled back or reported): not sent again."""
    mark = mark_of(group.tag_map)
    return mark is not None and mark.state == FAILED and mark.rule == rule and mark.push == push_key(rule, event)


def undo_value(previous: Mapping[str, str]) -> str | None:
    """The undo tag for `previous` (container -> image it ran); None when it does not fit one tag."""
    images = set(previous.values())
    if len(images) != 1 or not previous:
        return None
    value = f"{','.join(sorted(previous))}={images.pop()}"
    printable = all(" " < ch <= "~" for ch in value)
    ok = printable and len(value) <= tracking.MAX_VALUE and tracking._tag_value_ok(value)
    return value if ok else None


def undo_of(tags: Mapping[str, str]) -> tuple[list[str], str] | None:
    names, sep, image = (tags.get(UNDO) or "").partition("=")
    if not sep or not names or not image:
        return None
    return names.split(","), image


def with_marks(tags: Iterable[Mapping[str, str]], mark: Mark, undo: str | None) -> list[dict[str, str]] | None:
    """A full tag list (UpdateContainerGroup's `Tag`) with the batch marks; None: no room under 20."""
    kept = [dict(t) for t in tags if t.get("Key") not in KEYS]
    kept.append({"Key": BATCH, "Value": mark.value()})
    if undo is not None:
        kept.append({"Key": UNDO, "Value": undo})
    return kept if len(kept) <= tracking.MAX_TAGS else None


@dataclass(frozen=True)
class Verdict:
    group: ContainerGroup
    mark: Mark
    state: str  # ready | pending | failed
    reason: str = ""


def current_batch(groups: Iterable[ContainerGroup], rule: str) -> list[ContainerGroup]:
    """The rule's groups in its latest started batch (any push of the rule)."""
    marked = [(g, m) for g in groups if (m := mark_of(g.tag_map)) is not None and m.rule == rule]
    started = [(g, m) for g, m in marked if m.state == STARTED]
    if not started:
        return []
    latest = max(m.started_ms for _, m in started)
    return [g for g, m in started if m.started_ms == latest]


def settled(mark: Mark, now_ms: int, timeout_s: float, poll_s: float) -> bool:
    """A batch whose checks are long over (its rollout's steps would have judged it by then): a group
    of it that is unhealthy now broke later, and is not rolled back by a step of another push."""
    return now_ms - mark.started_ms > (timeout_s + max(SETTLE_SECONDS, 10 * poll_s)) * 1000


def judge(group: ContainerGroup, now_ms: int, timeout_s: float, failed_states: frozenset[str]) -> Verdict:
    """Healthy (Running, every container Ready; or a job that Succeeded), failed (a failed state, or
    not healthy `timeout_s` after its batch started), else pending."""
    mark = mark_of(group.tag_map)
    assert mark is not None
    if settled(mark, now_ms, timeout_s, 0.0):
        return Verdict(group, mark, "ready", "settled")
    ready = group.status == "Running" and all(c.ready is not False for c in group.containers)
    if ready or group.status == "Succeeded":
        return Verdict(group, mark, "ready")
    if group.status in failed_states:
        return Verdict(group, mark, "failed", f"failed: the group is {group.status}")
    if now_ms - mark.started_ms > timeout_s * 1000:
        return Verdict(group, mark, "failed", f"timeout: still {group.status} after {timeout_s:g} s")
    return Verdict(group, mark, "pending")


def failures(groups: Iterable[ContainerGroup], rule: str, push: str) -> int:
    return sum(
        1 for g in groups if (m := mark_of(g.tag_map)) and m.state == FAILED and m.rule == rule and m.push == push
    )


def rollback_body(group: ContainerGroup, rule: Any, event: PushEvent, env: Mapping[str, str]) -> dict[str, Any] | None:
    """UpdateContainerGroup back to what the undo tag names, the batch mark turned `failed`; None when
    the group carries no undo (or it does not parse)."""
    from ..core.imageref import ImageRef
    from .pull import pull_parameters
    from .tokens import stepped_rollback_token

    undo = undo_of(group.tag_map)
    mark = mark_of(group.tag_map)
    if undo is None or mark is None:
        return None
    names, image = undo
    try:
        old = ImageRef.parse(image)
    except Exception:  # an undo tag edited by hand: no rollback rather than a bad request
        return None
    body: dict[str, Any] = {
        "RegionId": rule.target.region,
        "ContainerGroupId": group.id,
        "ClientToken": stepped_rollback_token(rule, group.id, mark.value(), image),
        "UpdateType": "IncrementalUpdate",
    }
    for section, containers in (("Container", group.containers), ("InitContainer", group.init_containers)):
        entries = [{"Name": c.name, "Image": image} for c in containers if c.name in names]
        if entries:
            body[section] = entries
    body.update(pull_parameters([old], rule, event, env).for_update())
    failed = Mark(mark.started_ms, FAILED, mark.push, mark.rule)
    # As every other request's Tag (tracking.for_request): no system tag (ECI refuses a request naming
    # one: CreateContainerGroupRequestTag, keys "cannot start with acs: or aliyun") and no key past 64.
    tags = [{"Key": t.key, "Value": t.value} for t in group.tags if t.key not in KEYS]
    body["Tag"] = [*tracking.for_request(tags, group.tag_map).tags, {"Key": BATCH, "Value": failed.value()}]
    return body
