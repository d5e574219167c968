"""`eci-redeploy history`: every change, readable: when, which rule and group, the tags (and digests)
before and after, what caused it (a push, the reconcile, an approval, a gate release, a rollback) and
how it ended. From the audit log (report/audit.py) and from the groups' own tracking records
(planning/tracking.py), which hold the last change of each rule even when no log was kept."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..planning import tracking
from ..report.audit import change_text, version_text
from ..rules.model import RuleSet

CAUSES = {
    "reconcile": "reconcile",
    "approval": "approval",
    "gate-release": "release",  # gates.RELEASE_SOURCE: a held push whose gates opened
    "gate-evidence": "gate",
    "rollback": "rollback",  # planning.planner.ROLLBACK_SOURCE
}


def cause(source: str | None) -> str:
    if not source:
        return "unknown"
    return CAUSES.get(source, "push")


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(float(ts), tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _names(value: Any) -> list[str]:
    """A list of names from a log line (a line is any JSON: anything else is no names)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def from_audit(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes in the audit lines (a skip is not a change; an approval is)."""
    out = []
    for r in records:
        if not r.get("action") and r.get("event_source") != "approval":
            continue
        out.append(
            {
                "time": _iso(r.get("ts")),
                "rule": r.get("rule"),
                "group": r.get("group_id") or r.get("target"),
                "group_name": r.get("group_name"),
                "action": r.get("action"),
                "cause": cause(r.get("event_source")),
                "tag_before": r.get("tag_before"),
                "tag_after": r.get("tag_after"),
                "digest_before": r.get("digest_before"),
                "digest_after": r.get("digest_after"),
                "image_before": r.get("image_before"),
                "image_after": r.get("image_after"),
                "outcome": r.get("outcome"),
                "event_id": r.get("event_id"),
                "request_id": r.get("request_id"),
                "reason": r.get("reason"),
                "from": "audit log",
                "groups": _names(r.get("groups")) + _names(r.get("group_names")),  # an approval's groups
            }
        )
    return out


def from_groups(groups: Iterable[ContainerGroup], rules: RuleSet) -> list[dict[str, Any]]:
    """Each rule's record on each group: the last change that rule made there."""
    out: list[dict[str, Any]] = []
    names = [r.name for r in rules]
    for group in groups:
        tags = group.tag_map
        for name in names:
            done = tracking.applied(tags, name)
            if done.digest is None or (done.rule is not None and done.rule != name):
                continue
            last = tracking.applied(tags).rule == name
            previous = tags.get(tracking.PREVIOUS) if last else None
            out.append(
                {
                    "time": _iso(done.event_time_ms / 1000) if done.event_time_ms is not None else None,
                    "rule": name,
                    "group": group.id,
                    "group_name": group.name,
                    "action": None,
                    "cause": "recorded",
                    "tag_before": None,
                    "tag_after": done.tag,
                    "digest_before": previous if previous and previous.startswith("sha256:") else None,
                    "digest_after": done.digest if done.digest.startswith("sha256:") else None,
                    "image_before": None,
                    "image_after": None,
                    "outcome": "applied",
                    "event_id": None,
                    "request_id": None,
                    "reason": "the group's tracking record (time: the push's)",
                    "from": "group record",
                    "groups": [],
                }
            )
    return out


def history(
    records: Iterable[dict[str, Any]],
    groups: Iterable[ContainerGroup],
    rules: RuleSet,
    *,
    rule: str | None = None,
    group: str | None = None,
) -> list[dict[str, Any]]:
    """Oldest first. A group record that the log already shows (same group, rule and digest) is not repeated."""
    logged = from_audit(records)
    seen = {(e["group"], e["rule"], e["digest_after"]) for e in logged}
    recorded = [e for e in from_groups(groups, rules) if (e["group"], e["rule"], e["digest_after"]) not in seen]

    def wanted(e: dict[str, Any]) -> bool:
        names = (e["group"], e["group_name"], *e["groups"])  # an approval names the groups it releases
        return (rule is None or e["rule"] == rule) and (group is None or group in names)

    every = [e for e in logged + recorded if wanted(e)]
    return sorted(every, key=lambda e: e["time"] or "")


def render(entries: list[dict[str, Any]]) -> str:
    lines = []
    for e in entries:
        where = e["group"] or "-"
        if e["group_name"] and e["group_name"] != where:
            where = f"{e['group_name']} ({where})"
        if e["cause"] == "approval":  # who approved which version (the hold's id stands where the group does)
            what = e["reason"] or "approved"
            if e["tag_after"] or e["digest_after"]:
                what += f": {version_text(e['tag_after'], e['digest_after'])}"
        else:
            what = change_text(e) if e["from"] == "audit log" else f"now {change_text(e).split(' -> ', 1)[1]}"
        extra = f": {e['reason']}" if e["reason"] and e["outcome"] not in ("applied", "approved") else ""
        lines.append(
            f"{(e['time'] or '?')[:19].replace('T', ' ')}Z  {e['rule']}  {where}  {e['cause']}  "
            f"{e['outcome']}  {what}{extra}"
        )
    return "\n".join(lines)
