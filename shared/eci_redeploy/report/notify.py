"""Telling the team: one message per rollout (rule x push) to each of its rule's channels (one file
each in `channels/`: DingTalk robots (signed), Slack incoming webhooks and generic JSON webhooks
(HMAC-SHA256)), for what deserves one: deployed, rolled back, failed, deferred too long, or skipped
because of an error. Ordinary skips stay quiet.

A notification that fails is retried briefly and logged; it never fails or delays a deploy much
(3-second timeout, two attempts). URLs and secrets come from environment variables named in the
rules and are never printed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..core.log import log_event
from ..rules.model import RuleSet
from . import escape
from .channels import kind_of, request_for

DEFER_ALERT_SECONDS = 600


@dataclass
class Message:
    rule: str
    outcome: str  # deployed | rolled-back | failed | deferred | error | held | refused
    image: str = ""
    digest: str | None = None
    groups: list[dict[str, Any]] = field(default_factory=list)
    event: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    # The approve link of a held change: built from ECI_REDEPLOY_WEBHOOK_URL (settings), the only link a
    # message carries; everything else is payload-derived text, escaped for the channel (report/escape.py).
    link: str | None = None

    @property
    def title(self) -> str:
        icon = {
            "deployed": "✅",
            "rolled-back": "↩️",
            "failed": "❌",
            "deferred": "⏳",
            "error": "⚠️",
            "held": "⏸️",  # gates/: waiting on a gate
            "refused": "⛔",  # gates/: a gate said no
        }[self.outcome]
        return f"{icon} eci-redeploy {self.rule}: {self.outcome}"

    def text(self, flavour: str = "plain") -> str:
        """The message for a channel: `slack` (mrkdwn), `dingtalk` (markdown) or `plain` (the JSON
        webhook). Every value but the title and the approve link is escaped for it (report/escape.py);
        on Slack each is a code span, where nothing is formatted or linked."""
        esc = {"slack": escape.slack, "dingtalk": escape.dingtalk}.get(flavour, escape.plain)
        code = (lambda v: f"`{esc(v)}`") if flavour == "slack" else esc
        lines = [f"**{esc(self.title)}**", "", f"- image: `{esc(self.image)}`"]
        if self.digest:
            lines.append(f"- digest: `{esc(self.digest)}`")
        if self.event:
            e = self.event
            lines.append(
                f"- event: {code(e.get('source'))} {code(e.get('id'))} ({code(e.get('repository'))}:"
                f"{code(e.get('tag'))})"
            )
        for g in self.groups:
            extra = f" — {code(g['error'])}" if g.get("error") else ""
            lines.append(f"- {code(g['target'])}: {code(g['status'])}{extra}")
        for line in self.detail.split("\n") if self.detail else ():
            lines.append(f"- {code(line.removeprefix('- '))}")
        if self.link:
            lines.append(f"- approve: POST {_link(self.link)} with an approver's token (Authorization: Bearer …)")
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "image": self.image,
            "digest": self.digest,
            "groups": self.groups,
            "event": self.event,
            "detail": self.detail + (f"\n- approve: POST {self.link} with an approver's token" if self.link else ""),
            "text": self.text(),
        }


# A scaling-group rollout's procedure (planning/scaling.py): what changes an image is the configuration's
# and the instances' steps; the suspension, the standby moves and their records are told only when they fail.
IMAGE_STEPS = ("ModifyEciScalingConfiguration", "UpdateContainerGroup")


def _bookkeeping(outcome: Any) -> bool:
    step = outcome.step
    return bool(step.scaling_group) and step.action not in IMAGE_STEPS and outcome.status == "applied"


def messages_for(report: Any, now: datetime | None = None) -> list[Message]:
    """One message per (rule, event) that changed something or failed; deferrals only when old."""
    now = now or datetime.now(timezone.utc)
    events = {e.event_id: e for e in report.plan.events}
    by_key: dict[tuple[str, str], list[Any]] = {}
    for outcome in report.outcomes:
        if outcome.status in ("dry-run",) or _bookkeeping(outcome):
            continue
        by_key.setdefault((outcome.step.rule, outcome.step.event_id), []).append(outcome)
    out = []
    for (rule, event_id), outcomes in by_key.items():
        statuses = {o.status for o in outcomes}
        kind = (
            "rolled-back"
            if "rolled-back" in statuses
            else "failed"
            if "failed" in statuses
            else "deployed"
            if "applied" in statuses
            else None
        )
        if kind is None:
            continue
        event = events.get(event_id)
        out.append(
            Message(
                rule,
                kind,
                next((o.step.image for o in outcomes if o.step.image), ""),
                event.digest if event else None,
                [
                    {
                        "target": o.step.target,
                        "action": o.step.action,
                        "status": o.status,
                        **({"error": o.error} if o.error else {}),
                        **({"request_id": o.request_id} if o.request_id else {}),
                    }
                    for o in outcomes
                ],
                event.summary() if event else {},
            )
        )
    for skip in report.plan.deferred:
        event = next(iter(report.plan.events), None)
        if event and event.time and (now - event.time).total_seconds() > DEFER_ALERT_SECONDS:
            out.append(
                Message(
                    skip.rule or "?",
                    "deferred",
                    event.describe(),
                    event.digest,
                    [{"target": skip.target, "status": "deferred", "error": skip.reason}],
                    event.summary(),
                    f"waiting since {event.time.isoformat()}",
                )
            )
    return out


def planning_error_message(rule: str | None, error: str, event: Any = None) -> Message:
    return Message(
        rule or "?",
        "error",
        event.describe() if event else "",
        getattr(event, "digest", None),
        [],
        event.summary() if event else {},
        error,
    )


_LINK = re.compile(r"(?:https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)?(?:/[A-Za-z0-9._~-]+)+")


def _link(url: str) -> str:
    """The approve link as it is when it is what the gates build (settings' URL, `/approvals/<id>`);
    anything else is shown as text, never as a link."""
    return url if _LINK.fullmatch(url) else escape.plain(url).replace("://", "\uff1a//")


def problem_message(problem: Mapping[str, Any]) -> Message:
    """A reconcile that could not do its work (operations.reconcile: a registry unreachable or
    refusing the credentials, a selector matching nothing): told as an error, naming the host."""
    host = problem.get("host") or "?"
    return Message(
        str(problem.get("rule") or "?"),
        "error",
        f"{host}/{problem.get('repository')}",
        None,
        [],
        {},
        f"reconcile: {problem.get('problem')}: {problem.get('reason')}",
    )


Poster = Callable[[str, bytes, dict[str, str]], int]


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    import requests

    return requests.post(url, data=body, headers=headers, timeout=3).status_code


def send(messages: list[Message], rules: RuleSet, env: Mapping[str, str], *, post: Poster = _post) -> int:
    """Send each message to its rule's channels; returns how many deliveries succeeded. Never raises."""
    delivered = 0
    for message in messages:
        for channel in rules.channels(message.rule):
            kind = kind_of(channel)
            request = request_for(channel, message, env)
            if request is None:
                log_event("notify.skipped", channel=kind, rule=message.rule, reason="URL variable not set")
                continue
            url, body, headers = request
            for attempt in (1, 2):
                try:
                    status = post(url, body, headers)
                except Exception as exc:  # a notification must never break a deploy
                    status, error = 0, type(exc).__name__
                else:
                    error = "" if 200 <= status < 300 else f"HTTP {status}"
                if not error:
                    delivered += 1
                    log_event("notify.sent", channel=kind, rule=message.rule, outcome=message.outcome)
                    break
                log_event("notify.failed", channel=kind, rule=message.rule, attempt=attempt, error=error)
                if attempt == 1:
                    time.sleep(0.2)
    return delivered
