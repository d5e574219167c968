"""Which of two pushes is newer, under one rule: the one comparator every module asks (issue 27).

Coalescing one delivery (`planning.coalesce`), the single writer dropping superseded work
(`execution.writer`), the gates replacing a held change (`gates.flow`) and the planner's check against
what a group's record says was applied (`planning.planner`) all call `compare`. When two of them
disagreed, a writer could drop a push the planner would have deployed. The rule, in turn:

0. with `updates`, pushes on different lines (`TagPolicy.line`: 1.x and 2.x under `updates: minor`)
   are for different groups: neither is newer, whatever follows;
1. the rule's own order of tags (`TagPolicy.order_key`), when it orders both tags and they differ;
2. then the push time, when both are known and differ;
3. then a stable tie-break: the order the product received them in, when the caller knows it (the
   position in one delivery). A caller that does not know it (the writer, the gates, the planner)
   gets "cannot tell", and then nothing is dropped or skipped for being older.

Time is the time the product trusts (core/clock.py): a payload's push time was already bounded by
the clock at receipt (later than receipt by more than the skew: the push is refused); a time read back
that is still later than now + skew (a record written before that bound, a hand-edited tag) is no
evidence and counts as unknown, so a push dated 2099 can never win on time nor block what follows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Literal

from ..core.clock import trusted_ms
from .tracking import millis

Basis = Literal["the rule's tag order", "event time", "delivery order"]
TAG_ORDER: Final = "the rule's tag order"
EVENT_TIME: Final = "event time"
DELIVERY_ORDER: Final = "delivery order"


def seen(rule: Any, tag: str | None, time: datetime | int | None, received: int | None = None) -> Seen:
    """A push of `rule` as `compare` sees it: its line and its place in the rule's order (order_of)."""
    policy = rule.source.tags.policy() if rule is not None else None
    line = policy.line(tag) if policy is not None else None
    return replace(Seen.of(order_of(rule), tag, time, received), line=line)


def order_of(rule: Any) -> Any | None:
    """The tag order `compare` uses for a rule: its policy's (`TagPolicy.order_key`, through its public
    API), except for a rule with `allow_downgrade`, whose pushes may go below what runs (a rollback
    pipeline): there the later push is the newer one, by time, in every module alike."""
    if rule is None or getattr(rule, "allow_downgrade", False):
        return None
    return rule.source.tags.policy()


@dataclass(frozen=True)
class Seen:
    """A push (or a record of one) as the comparator sees it."""

    key: Any | None  # TagPolicy.order_key of its tag: None when the rule has no order for it
    ms: int | None  # its push time, Unix milliseconds, as trusted (None: unknown)
    received: int | None = None  # receipt order where the caller knows it (None: unknown)
    line: Any | None = None  # TagPolicy.line with `updates` (None: one line)

    @classmethod
    def of(cls, policy: Any, tag: str | None, time: datetime | int | None, received: int | None = None) -> Seen:
        """`policy` a TagPolicy (None: no order), `time` a datetime or Unix ms."""
        key = policy.order_key(tag) if policy is not None else None
        ms = time if isinstance(time, int) or time is None else millis(time)
        return cls(key, trusted_ms(ms), received)


@dataclass(frozen=True)
class Verdict:
    order: int  # 1: the first is newer, -1: the second is, 0: cannot tell
    basis: Basis | None = None

    @property
    def newer(self) -> bool:
        return self.order > 0

    @property
    def older(self) -> bool:
        return self.order < 0


_VERDICTS = {(o, b): Verdict(o, b) for o in (1, -1) for b in (TAG_ORDER, EVENT_TIME, DELIVERY_ORDER)}
_UNKNOWN = Verdict(0)


def compare(a: Seen, b: Seen) -> Verdict:
    """Whether push `a` is newer than push `b`, and what says so."""
    if a.line is not None and b.line is not None and a.line != b.line:
        return _UNKNOWN  # other lines (`updates`): other groups, neither supersedes the other
    if a.key is not None and b.key is not None and a.key != b.key:
        try:
            return _VERDICTS[1 if a.key > b.key else -1, TAG_ORDER]
        except TypeError:  # keys of two policies (a rule edited between a hold and now): not comparable
            pass
    if a.ms is not None and b.ms is not None and a.ms != b.ms:
        return _VERDICTS[1 if a.ms > b.ms else -1, EVENT_TIME]
    if a.received is not None and b.received is not None and a.received != b.received:
        return _VERDICTS[1 if a.received > b.received else -1, DELIVERY_ORDER]
    return _UNKNOWN
