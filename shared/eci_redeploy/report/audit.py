"""The audit trail: one JSON line per decision (kind "audit"), so any change to a container group can
be traced back to the push that caused it, in Simple Log Service or in a log file. Here: the apply's
lines (a step's, a skip's, a push refused before planning), and reading the trail back; every line's
fields and their order are report/auditline.py's, a held change's line is report/holds.py's.

Stable fields: ts, kind, event_id, event_source, rule, target, group_id, action, outcome,
image_before, image_after, digest_before, digest_after, request_id, rollback_request_id,
duration_ms, reason, group_name, tag_before, tag_after, gate, groups, group_names. `gate` is on a
held change's line only, the last two on an approval's. `eci-redeploy audit LOGFILE` summarises
them; `eci-redeploy history` reads them with the groups' own records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.visible import visible
from .auditline import line, write


def _digest(image: str | None) -> str | None:
    return image.split("@", 1)[1] if image and "@" in image else None


def _tag(image: str | None) -> str | None:
    if not image:
        return None
    from ..core.imageref import running_ref

    ref = running_ref(image)
    return ref.tag if ref is not None else None


def lines_for(report: Any) -> list[dict[str, Any]]:
    events = {e.event_id: e for e in report.plan.events}
    out = [_step_line(o, events.get(o.step.event_id)) for o in report.outcomes]
    for skip in report.plan.skipped:
        if skip.rule:
            out.append(_skip_line(skip, _event_of(skip, report.plan.events, events)))
    return out


def _step_line(o: Any, event: Any) -> dict[str, Any]:
    """What one step did to one group: the call, its images, tags and digests on both sides."""
    before = next(iter(o.step.previous.values()), None) if o.step.previous else None
    return line(
        event_id=o.step.event_id or None,
        event_source=event.source if event else None,
        rule=o.step.rule,
        target=o.step.target,
        group_id=o.group_id or o.step.group_id,
        group_name=o.step.group_name,
        action=o.step.action,
        outcome=o.status,
        image_before=before,
        image_after=o.step.image or None,
        tag_before=o.step.tag_before or _tag(before),
        tag_after=(event.tag if event else None) or _tag(o.step.image),
        digest_before=_digest(before),
        digest_after=_digest(o.step.image) or (event.digest if event else None),
        request_id=o.request_id,
        rollback_request_id=o.rollback_request_id,
        duration_ms=round(o.seconds * 1000, 1),
        reason=o.error or o.health,
    )


def refused(event: Any, rule: str | None, reason: str) -> None:
    """A push refused before planning (a digest its registry did not confirm): no step, no group, and
    still one audit line, so that a forged claim is on the trail beside the changes."""
    write(_unplanned(event, rule, "refused", reason, target=None))


def _event_of(skip: Any, ordered: list[Any], by_id: dict[str, Any]) -> Any:
    """The push a skip is about: the one it names; else the one planned for its rule alone (the
    reconcile); else the delivery's only push. Never another rule's push."""
    if skip.event_id:
        return by_id.get(skip.event_id)
    own = [e for e in ordered if e.only_rule == skip.rule]
    if own:
        return own[0]
    anyone = [e for e in ordered if e.only_rule is None]
    return anyone[0] if len(anyone) == 1 and len(ordered) == 1 else None


def _skip_line(skip: Any, event: Any) -> dict[str, Any]:
    outcome = "deferred" if skip.deferred else "skipped"
    return _unplanned(event, skip.rule, outcome, skip.reason, target=skip.target)


def _unplanned(event: Any, rule: str | None, outcome: str, reason: str | None, *, target: str | None) -> dict[str, Any]:
    """A push no call was made for (skipped, deferred, refused): what was pushed, nothing before it."""
    return line(
        event_id=event.event_id if event else None,
        event_source=event.source if event else None,
        rule=rule,
        target=target,
        group_id=target,
        group_name=None,
        outcome=outcome,
        tag_before=None,
        tag_after=event.tag if event else None,
        digest_after=event.digest if event else None,
        reason=reason,
    )


def emit(report: Any) -> None:
    for fields in lines_for(report):
        write(fields)


def read(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            raw = raw.strip()
            start = raw.find("{")  # tolerate a prefix (SLS exports, timestamps)
            if start < 0:
                continue
            try:
                record = json.loads(raw[start:])
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("kind") == "audit":
                yield record


def select(
    records: Iterable[dict[str, Any]],
    *,
    target: str | None = None,
    rule: str | None = None,
    since: datetime | None = None,
    changes_only: bool = False,
) -> list[dict[str, Any]]:
    out = []
    for r in records:
        if target and target not in (r.get("target"), r.get("group_id"), r.get("group_name")):
            continue
        if rule and r.get("rule") != rule:
            continue
        if since and datetime.fromtimestamp(_seconds(r.get("ts")), tz=timezone.utc) < since:
            continue
        if changes_only and r.get("outcome") in ("skipped",):
            continue
        out.append(r)
    return out


def short_digest(digest: str | None) -> str:
    """sha256:0123456789ab (12 hex digits: enough to tell releases apart in a table)."""
    if not digest:
        return ""
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest


def version_text(tag: str | None, digest: str | None, image: str | None = None) -> str:
    """`1.2.0 (sha256:0123456789ab)`: the tag first, the digest beside it; what is known of either."""
    if tag and digest:
        return f"{tag} ({short_digest(digest)})"
    if tag or digest:
        return tag or short_digest(digest)
    return image or "(unknown)"


def change_text(r: dict[str, Any]) -> str:
    before = version_text(
        r.get("tag_before") or _tag(r.get("image_before")), r.get("digest_before"), r.get("image_before")
    )
    after = version_text(r.get("tag_after") or _tag(r.get("image_after")), r.get("digest_after"), r.get("image_after"))
    if not r.get("image_before") and not r.get("tag_before") and not r.get("digest_before"):
        before = "(new group)" if r.get("action") == "CreateContainerGroup" else "(not recorded)"
    return f"{before} -> {after}"


def render(records: list[dict[str, Any]]) -> str:
    """One table line per record. Every field is shown with its control characters escaped
    (core/visible.py): an event id with a newline cannot forge a line, an OSC-8 hyperlink or colour
    sequence reaches the terminal as text."""
    lines = []
    for raw in records:
        r = {k: visible(v) if v is not None else None for k, v in raw.items()}
        when = datetime.fromtimestamp(_seconds(raw.get("ts")), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        where = r.get("target")
        if r.get("group_name") and r.get("group_name") != where:
            where = f"{r.get('group_name')} ({where})"
        if r.get("action"):
            what = change_text(r)
            request = f", request {r['request_id']}" if r.get("request_id") else ""
            if r.get("reason"):
                what += f": {r['reason']}"
        else:  # a skip or an approval: no request was made
            what, request = str(r.get("reason") or ""), ""
        source = r.get("event_source")
        event = f"event {source} {r.get('event_id')}" if r.get("event_id") else f"by {source}"
        lines.append(
            f"{when}Z  {r.get('rule')}  {where or '-'}  {r.get('action') or '-'}  {r.get('outcome')}  "
            f"{what}  ({event}{request})"
        )
    return "\n".join(lines)


def _seconds(ts: Any) -> float:
    try:
        return max(0.0, min(float(ts or 0), 253402300799.0))  # a log line's ts is data too: year 1970-9999
    except (TypeError, ValueError):
        return 0.0
