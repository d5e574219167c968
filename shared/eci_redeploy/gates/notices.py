"""Telling what happened to held changes: one audit line per group and one notification per transition
(held, refused, released, superseded), through report/notify.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.log import log_event
from ..rules.model import RuleSet
from .context import GateContext, Transition
from .decide import ScanResult


def _report(transitions: list[Transition], rules: RuleSet, env: Mapping[str, str], ctx: GateContext) -> None:
    from ..report.notify import Message, send

    messages = []
    for t in transitions:
        waiting = t.decision.waiting if t.decision else ()
        reason = (
            t.decision.reason
            if t.decision and t.decision.verdict == "refused"
            else "; ".join(f"{w.gate}: {w.releases_by}" for w in waiting)
        )
        if t.outcome == "superseded":
            reason = "replaced by a newer push"
        hid = t.id
        for gid in t.groups:
            log_event(
                "audit",
                event_id=t.event.event_id,
                event_source=t.event.source,
                rule=t.rule,
                target=gid,
                group_id=gid if gid.startswith("eci-") else None,
                action=None,
                outcome=t.outcome,
                image_before=None,
                image_after=None,
                digest_before=None,
                digest_after=t.version if t.version.startswith("sha256:") else None,
                request_id=None,
                rollback_request_id=None,
                duration_ms=0.0,
                reason=f"{hid}: {reason}" if reason else hid,
                gate=waiting[0].gate if waiting else None,
            )
        if t.outcome in ("held", "refused"):
            detail, link = reason, None
            if t.outcome == "held" and any(w.gate == "approval" for w in waiting):
                link = f"{ctx.webhook_url}/approvals/{hid}" if ctx.webhook_url else f"/approvals/{hid}"
            if t.decision and t.decision.counts:
                detail += "\n- scan: " + ScanResult("COMPLETE", t.decision.counts).summary()
            messages.append(
                Message(
                    t.rule,
                    t.outcome,
                    t.event.describe(),
                    t.event.digest,
                    [{"target": g, "status": t.outcome} for g in t.groups],
                    t.event.summary(),
                    f"{hid}: {detail}",
                    link=link,  # rendered by report/notify.py, the one link a message carries
                )
            )
    if messages:
        send(messages, rules, env)
