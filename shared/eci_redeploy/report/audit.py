"""The audit trail: one JSON line per decision (kind "audit"), so any change to a container group can
be traced back to the push that caused it, in Simple Log Service or in a log file.

Stable fields: ts, kind, event_id, event_source, rule, target, group_id, action, outcome,
image_before, image_after, digest_before, digest_after, request_id, rollback_request_id,
duration_ms, reason. `eci-redeploy audit LOGFILE` summarises them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.log import log_event
from ..core.visible import visible


def _digest(image: str | None) -> str | None:
    return image.split("@", 1)[1] if image and "@" in image else None


def lines_for(report: Any) -> list[dict[str, Any]]:
    events = {e.event_id: e for e in report.plan.events}
    out = []
    for o in report.outcomes:
        event = events.get(o.step.event_id)
        before = next(iter(o.step.previous.values()), None) if o.step.previous else None
        out.append(
            {
                "event_id": o.step.event_id or None,
                "event_source": event.source if event else None,
                "rule": o.step.rule,
                "target": o.step.target,
                "group_id": o.group_id or o.step.group_id,
                "action": o.step.action,
                "outcome": o.status,
                "image_before": before,
                "image_after": o.step.image or None,
                "digest_before": _digest(before),
                "digest_after": _digest(o.step.image) or (event.digest if event else None),
                "request_id": o.request_id,
                "rollback_request_id": o.rollback_request_id,
                "duration_ms": round(o.seconds * 1000, 1),
                "reason": o.error or o.health,
            }
        )
    first = next(iter(report.plan.events), None)
    for skip in report.plan.skipped:
        if skip.rule is None:
            continue
        out.append(
            {
                "event_id": first.event_id if first else None,
                "event_source": first.source if first else None,
                "rule": skip.rule,
                "target": skip.target,
                "group_id": skip.target,
                "action": None,
                "outcome": "deferred" if skip.deferred else "skipped",
                "image_before": None,
                "image_after": None,
                "digest_before": None,
                "digest_after": first.digest if first else None,
                "request_id": None,
                "rollback_request_id": None,
                "duration_ms": 0.0,
                "reason": skip.reason,
            }
        )
    return out


def refused(event: Any, rule: str | None, reason: str) -> None:
    """A push refused before planning (a digest its registry did not confirm): no step, no group, and
    still one audit line, so that a forged claim is on the trail beside the changes."""
    log_event(
        "audit",
        event_id=event.event_id,
        event_source=event.source,
        rule=rule,
        target=None,
        group_id=None,
        action=None,
        outcome="refused",
        image_before=None,
        image_after=None,
        digest_before=None,
        digest_after=event.digest,
        request_id=None,
        rollback_request_id=None,
        duration_ms=0.0,
        reason=reason,
    )


def emit(report: Any) -> None:
    for line in lines_for(report):
        log_event("audit", **line)


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
        if target and target not in (r.get("target"), r.get("group_id")):
            continue
        if rule and r.get("rule") != rule:
            continue
        if since and datetime.fromtimestamp(_seconds(r.get("ts")), tz=timezone.utc) < since:
            continue
        if changes_only and r.get("outcome") in ("skipped",):
            continue
        out.append(r)
    return out


def render(records: list[dict[str, Any]]) -> str:
    """One table line per record. Every field is shown with its control characters escaped
    (core/visible.py): an event id with a newline cannot forge a line, an OSC-8 hyperlink or colour
    sequence reaches the terminal as text."""
    lines = []
    for raw in records:
        r = {k: visible(v) if v is not None else None for k, v in raw.items()}
        when = datetime.fromtimestamp(_seconds(raw.get("ts")), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        change = f"{r.get('image_before') or '?'} -> {r.get('image_after')}" if r.get("action") else r.get("reason")
        lines.append(
            f"{when}Z  {r.get('rule')}  {r.get('target')}  {r.get('action') or '-'}  {r.get('outcome')}  "
            f"{change}  (event {r.get('event_source')} {r.get('event_id')}, request {r.get('request_id')})"
        )
    return "\n".join(lines)


def _seconds(ts: Any) -> float:
    try:
        return max(0.0, min(float(ts or 0), 253402300799.0))  # a log line's ts is data too: year 1970-9999
    except (TypeError, ValueError):
        return 0.0
