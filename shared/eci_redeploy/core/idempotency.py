"""Idempotency, in one place: ECI `ClientToken`s, the worker's task ids, and the de-duplication of
task ids seen before (`SeenTasks`: FC's async tasks do it across instances, the in-process writer
and the inline dispatcher the same way in one process).

A ClientToken names a *transition*: under which rule, which action on which target, from what the
group runs now (its images and the push it last recorded) to what it should run (the new images
and the push that asks for them). So:

- a retry or a redelivery of the same push, against the same group state, sends the same token:
  ECI applies it at most once;
- A -> B -> A is three different transitions, so going back to an image a group ran before gets a
  fresh token instead of ECI's `IdempotentParameterMismatch` (the old token with a new body);
- a different push for the same image (another source, another time) is another transition, but
  by then the group is in flight or already runs it, and the planner sends nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class Delivered(Protocol):
    """What a task id is made of (events.model.PushEvent has it; core depends on no other package)."""

    @property
    def source(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def repository(self) -> str: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def digest(self) -> str | None: ...


TOKEN_PREFIX = "er1-"
TASK_PREFIX = "er-"


def client_token(*parts: str) -> str:
    """Deterministic, <= 64 ASCII characters (ECI's limit): the same parts, the same token."""
    return TOKEN_PREFIX + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def transition_token(rule: str, action: str, target: str, *, before: Iterable[str], after: Iterable[str]) -> str:
    """The token of one transition of `target` under `rule`: `before` is what it runs (and what was
    recorded on it), `after` what it should run. The separators keep ("a", "b") -> () and
    ("a",) -> ("b",) apart."""
    return client_token(rule, action, target, "from", *before, "to", *after)


class SeenTasks:
    """Task ids already accepted: a redelivered order is dropped, not run twice. Callers hold their
    own lock (the check and the queueing are one step for them).

    Bounded, so that a long-running `serve` does not grow without end: an id is remembered for
    `seconds` (default a day: FC's default maximum event age, after which a redelivery would be
    refused by the platform's retry anyway) and at most `limit` ids are kept (the oldest forgotten
    first). A delivery repeated after that runs again, and changes nothing twice: every mutating call
    carries its transition's ClientToken and every step decides from a fresh describe."""

    def __init__(self, *, seconds: float = 86400.0, limit: int = 100_000, clock: Any = None) -> None:
        import time
        from collections import OrderedDict

        self.seconds, self.limit = seconds, limit
        self._clock = clock or time.monotonic
        self._ids: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, task: object) -> bool:
        self._forget()
        return task in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Any:
        self._forget()
        return iter(list(self._ids))

    def __eq__(self, other: object) -> bool:  # compares as the set of ids it remembers
        return set(self) == other if isinstance(other, (set, frozenset)) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def first(self, task: str) -> bool:
        """True the first time `task` is seen (and remembers it), False for a duplicate."""
        if task in self:
            return False
        self._ids[task] = self._clock()
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)
        return True

    def _forget(self) -> None:
        horizon = self._clock() - self.seconds
        while self._ids:
            oldest, at = next(iter(self._ids.items()))
            if at >= horizon:
                return
            del self._ids[oldest]


def task_id(events: Sequence[Delivered], *, salt: str = "") -> str:
    """Same events, same id: FC's async task de-duplication drops a redelivery. `salt` tells apart
    hand-offs that must not be dropped as duplicates (two timer ticks wanting the same image)."""
    basis = "\x1f".join(f"{e.source}|{e.event_id}|{e.repository}|{e.tag}|{e.digest}" for e in events)
    basis += f"\x1e{salt}" if salt else ""
    return TASK_PREFIX + hashlib.sha256(basis.encode()).hexdigest()[:40]
