"""One protocol for every notification channel: from a rules entry's settings, a message and the
environment (where URLs and secrets live) to the HTTP request to send, or None when its URL variable
is not set. The registry maps the rules key (`dingtalk:`, `slack:`, ...) to its sender."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

Request = tuple[str, bytes, dict[str, str]]  # url, body, headers


class Message(Protocol):
    """What a sender needs of report.notify.Message (not imported: notify imports the channels)."""

    @property
    def title(self) -> str: ...

    def text(self, flavour: str = "plain") -> str: ...

    def payload(self) -> dict[str, Any]: ...


class Sender(Protocol):
    def __call__(self, config: Any, message: Message, env: Mapping[str, str]) -> Request | None: ...


SENDERS: dict[str, Sender] = {}


def register(kind: str) -> Callable[[Sender], Sender]:
    """`@register("dingtalk")`: the sender for the channels written `- dingtalk: {...}` in the rules."""

    def add(sender: Sender) -> Sender:
        if kind in SENDERS:
            raise ValueError(f"notification channel {kind!r} registered twice")
        SENDERS[kind] = sender
        return sender

    return add


def kind_of(channel: Any) -> str:
    """The registered key a rules entry sets (rules.model.Channel allows exactly one)."""
    for kind in SENDERS:
        if getattr(channel, kind, None) is not None:
            return kind
    raise ValueError(f"no registered notification channel in {channel!r}")


def request_for(channel: Any, message: Message, env: Mapping[str, str]) -> Request | None:
    kind = kind_of(channel)
    return SENDERS[kind](getattr(channel, kind), message, env)


JSON = {"Content-Type": "application/json"}
