"""When to tell what happened to held changes: audit lines (one per group) for every transition (held,
refused, released, superseded), a notification for held and refused ones. What the lines and the
message say is report/holds.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..rules.model import RuleSet
from .context import GateContext, Transition
from .evaluate import ScanResult

if TYPE_CHECKING:
    from ..report.holds import Notice


def _report(transitions: list[Transition], rules: RuleSet, env: Mapping[str, str], ctx: GateContext) -> None:
    from ..report import holds
    from ..report.notify import send

    messages = []
    for t in transitions:
        notice = _notice(t)
        holds.emit(notice)
        if t.outcome in ("held", "refused"):
            messages.append(holds.message(notice, scan=_scan(t), link=_approve_link(t, ctx)))
    if messages:
        send(messages, rules, env)


def _notice(t: Transition) -> Notice:
    """The transition as plain data for report/holds: why, and the first gate waited on."""
    from ..report.holds import Notice

    waiting = t.decision.waiting if t.decision else ()
    if t.outcome == "superseded":
        reason = "replaced by a newer push"
    elif t.decision and t.decision.verdict == "refused":
        reason = t.decision.reason
    else:
        reason = "; ".join(f"{w.gate}: {w.releases_by}" for w in waiting)
    gate = waiting[0].gate if waiting else None
    return Notice(t.outcome, t.rule, t.id, t.version, t.event, t.groups, reason, gate)


def _scan(t: Transition) -> str | None:
    """The scan's counts, when a scan result decided."""
    if t.decision and t.decision.counts:
        return ScanResult("COMPLETE", t.decision.counts).summary()
    return None


def _approve_link(t: Transition, ctx: GateContext) -> str | None:
    """Where an approver approves a held change that waits on an approval (functions/gate_endpoints.http_route)."""
    if t.outcome == "held" and t.decision and any(w.gate == "approval" for w in t.decision.waiting):
        return f"{ctx.webhook_url}/approvals/{t.id}" if ctx.webhook_url else f"/approvals/{t.id}"
    return None
