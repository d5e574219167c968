"""What a step's ClientToken is made of (core/idempotency.py hashes it): the image or the event, the
group's recorded state before, the push after, the action word. One place for every action's token.
"""

from __future__ import annotations

from ..clients.eci_model import ContainerGroup
from ..core.imageref import ImageRef
from ..events.model import PushEvent
from ..rules.model import Rule
from . import tracking


def _token_basis(image: ImageRef, event: PushEvent) -> str:
    # Without a digest the image string does not identify the content: the event must.
    return image.render() if image.digest else f"{image.render()}#{event.event_id}"


def _recorded(group: ContainerGroup) -> str:
    """What the group's tracking tags say it last had applied: part of the state a transition leaves."""
    done = tracking.applied(group.tag_map)
    return f"applied={done.digest or ''}@{done.event_time_ms or ''}/{done.rule or ''}"


def _pushed(event: PushEvent) -> str:
    # The push's time goes into the recorded tags, so it belongs to the transition's target too.
    return f"pushed@{tracking.millis(event.time) or ''}"


def _verb(action: str, rule: Rule) -> str:
    """A ClientToken's action word: a full resend is another request than an incremental one, so a rule
    switched between the two never reuses a token for a different body (IdempotentParameterMismatch)."""
    return f"{action}-full" if rule.update.containers == "full" else action
