"""What a held change's transition reads like: its audit lines (one per group) and its notification,
and the line of an approval given. gates/notices.py (and functions/gate_endpoints.py for an approval)
decides when there is something to say and hands it here as plain data (`Notice`, strings): report/
sits below gates/ and reads none of its types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..events.model import PushEvent
from .auditline import line, write
from .notify import Message


@dataclass(frozen=True)
class Notice:
    """One transition of one held change."""

    outcome: str  # held | refused | released | superseded
    rule: str
    hold_id: str  # store.approval_id: what a notification shows and an approval names
    version: str  # the held version: a digest, or a tag when the rule pulls by tag
    event: PushEvent  # the push that is held
    groups: Sequence[str]  # the groups it is held on: ids (names for a create)
    reason: str = ""  # why: the refusal, the gates waited on and when they open, or the newer push
    gate: str | None = None  # the first gate waited on


def lines(notice: Notice) -> list[dict[str, Any]]:
    """One audit line per group: no call was made, so no images, requests or duration; the reason
    starts with the hold's id, which the approvals route (POST /approvals/<id>) takes."""
    reason = f"{notice.hold_id}: {notice.reason}" if notice.reason else notice.hold_id
    digest = notice.version if notice.version.startswith("sha256:") else None
    return [
        line(
            event_id=notice.event.event_id,
            event_source=notice.event.source,
            rule=notice.rule,
            target=gid,
            group_id=gid if gid.startswith("eci-") else None,
            outcome=notice.outcome,
            digest_after=digest,
            reason=reason,
            gate=notice.gate,
        )
        for gid in notice.groups
    ]


def approval(
    rule: str, hold_id: str, digest: str | None, tag: str | None, groups: Sequence[str], names: Sequence[str], by: str
) -> None:
    """The line of an approval given (POST /approvals/<id>): on the hold, naming the groups the approved
    change goes to (`history --group` finds the approval under them)."""
    write(
        line(
            event_source="approval",
            rule=rule,
            target=hold_id,
            outcome="approved",
            digest_after=digest,
            tag_after=tag,
            groups=sorted(groups),
            group_names=sorted(set(names)),
            reason=f"approved by {by}",
        )
    )


def emit(notice: Notice) -> None:
    for fields in lines(notice):
        write(fields)


def message(notice: Notice, *, scan: str | None = None, link: str | None = None) -> Message:
    """The notification of a held or refused change: the reason (and the scan's counts when a scan
    decided), the approve link when an approval is waited on."""
    detail = notice.reason + (f"\n- scan: {scan}" if scan is not None else "")
    return Message(
        notice.rule,
        notice.outcome,
        notice.event.describe(),
        notice.event.digest,
        [{"target": g, "status": notice.outcome} for g in notice.groups],
        notice.event.summary(),
        f"{notice.hold_id}: {detail}",
        link=link,  # rendered by report/notify.py, the one link a message carries
    )
