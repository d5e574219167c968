"""The single writer: every change to ECI made by this process goes through one queue, one work
order at a time, decided against a fresh describe.

In Function Compute the worker function is the writer: `instanceConcurrency: 1` and a reserved
concurrency of 1 (s.yaml) make FC run one invocation at a time; its async queue is the queue and its
async retry policy the retries. Locally (`serve`, and tests) this module plays that part in-process:

- `submit()` is the async invocation: it queues the order (a task id seen before is dropped, like
  FC's async task de-duplication) and returns at once;
- one thread takes the orders in arrival order. Before running one it drops every event that a
  newer queued push supersedes for every rule the event would act on (newer by `planning.newer`: the
  rule's own order, then event time): under a burst of pushes only the newest runs;
- a `RetryLater` (throttling, 5xx, a group in flight) requeues the order with exponential backoff and
  jitter until the retry budget or the maximum age is spent, like FC's `maxAsyncRetryAttempts` /
  `maxAsyncEventAgeInSeconds`; then it is reported (`work.gave_up`) as FC's on-failure destination would.

- a rollout's next step (execution/stepper.py) comes back as a continuation, `submit(order, delay=...)`,
  queued like any order but ready only after its delay: the thread serves other orders meanwhile, so
  one rule's health wait never delays another rule's push. A continuation is never dropped as
  superseded (it may have a failed batch to roll back; a newer push recorded on the groups ends it).

There is no lock of our own around ECI: one thread is the lock, and the decisions it makes read the
groups' own state (status, tracking tags) just before acting.

Memory stays bounded however long it runs: task ids are remembered for a day and at most 100,000
(core.idempotency.SeenTasks), results and superseded pairs for the last RESULTS orders.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.idempotency import SeenTasks
from ..core.log import log_event
from ..events.model import EVIDENCE_SOURCE, PushEvent
from ..planning.newer import compare, seen
from ..rules.model import RuleSet
from .handoff import WorkEvent, WorkOrder


@dataclass(frozen=True)
class RetryBudget:
    """How often, and for how long, a work order that failed with a retryable error is tried again."""

    retries: int = 3  # s.yaml: maxAsyncRetryAttempts
    initial: float = 1.0
    maximum: float = 30.0
    max_age: float = 86400.0  # s.yaml: maxAsyncEventAgeInSeconds

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RetryBudget:
        from ..core.settings import env_number

        return cls(
            retries=env_number(env, "ECI_REDEPLOY_WORKER_RETRIES", cls.retries, int, least=0),
            initial=env_number(env, "ECI_REDEPLOY_WORKER_BACKOFF_SECONDS", cls.initial, float, least=0.0),
            max_age=env_number(env, "ECI_REDEPLOY_WORKER_MAX_AGE_SECONDS", cls.max_age, float, least=0.0),
        )

    def delay(self, retry: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter on its upper half: retry 1 waits ~initial, then doubles."""
        ceiling = min(self.maximum, self.initial * 2 ** (retry - 1))
        return ceiling / 2 + rng.random() * ceiling / 2


# ---- supersession: which queued pushes a newer one makes pointless ----


def newer(rules: RuleSet, rule_name: str, a: PushEvent, b: PushEvent) -> bool:
    """Whether push `a` is strictly newer than `b` under one rule: planning.newer.compare, without a
    receipt order (two pushes it cannot tell apart both run; the planner decides between them). With
    `updates`, pushes on different lines are for different groups and never supersede each other."""
    rule = next((r for r in rules if r.name == rule_name), None)
    return compare(seen(rule, a.tag, a.time), seen(rule, b.tag, b.time)).newer


def acting_rules(rules: RuleSet, event: PushEvent) -> list[str]:
    """The rules that would act on this push (the planner's own skip test)."""
    from ..planning.planner import skip_reason

    only = event.only_rule
    return [
        r.name
        for r in rules.for_repository(event.repository)
        if (only is None or r.name == only) and not skip_reason(r, event, rules)
    ]


def superseded(event: PushEvent, others: list[PushEvent], rules: RuleSet) -> PushEvent | None:
    """A queued push that is newer than `event` for every rule `event` would act on, if any (a push
    that a rule would not act on, such as a prerelease for a stable-only rule, counts for nothing). A
    signature handed over before its push ran (gates.early) is evidence, not a push: it neither drops
    nor is dropped (the push of its version would otherwise lose its only signature)."""
    acting = acting_rules(rules, event) if event.source != EVIDENCE_SOURCE else []
    if not acting:
        return None
    rivals = [
        (o, set(acting_rules(rules, o)))
        for o in others
        if o is not event and o.repository == event.repository and o.source != EVIDENCE_SOURCE
    ]
    winner: PushEvent | None = None
    for rule in acting:
        beaten_by = next((o for o, theirs in rivals if rule in theirs and newer(rules, rule, o, event)), None)
        if beaten_by is None:
            return None
        winner = winner or beaten_by
    return winner


# ---- the queue ----


@dataclass
class Job:
    order: WorkOrder
    seq: int
    submitted: float
    ready_at: float
    retries: int = 0
    events: list[PushEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Accepted:
    task_id: str
    via: str
    request_id: str | None = None


class Writer:
    """The in-process single writer (see the module's docstring). `work(order)` runs one order: it
    returns a result, or raises `RetryLater` to be tried again."""

    def __init__(
        self,
        work: Callable[[WorkOrder], Any],
        rules: Callable[[], RuleSet],
        *,
        budget: RetryBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        self.work = work
        self.rules = rules
        self.budget = budget or RetryBudget()
        self.clock = clock
        # task id -> last result ("superseded", "gave-up: ...", or the worker's): the last RESULTS orders
        self.results: Results = Results()
        self.counts = {
            "submitted": 0,
            "duplicate": 0,
            "run": 0,
            "retried": 0,
            "superseded": 0,
            "gave_up": 0,
            "delayed": 0,
        }
        # (a superseded push, the newer one), the last RESULTS of them
        self.dropped: deque[tuple[PushEvent, PushEvent]] = deque(maxlen=RESULTS)
        self._rng = random.Random(seed)
        self._queue: list[Job] = []
        self._seen = SeenTasks(clock=clock)  # a day on the writer's own clock, like its queue's times
        self._seq = 0
        self._busy = False
        self._stopped = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="eci-redeploy-writer", daemon=True)
        self._thread.start()

    # ---- the Dispatcher protocol (dispatch.py) ----

    def dispatch(self, order: WorkOrder, *, delay: float = 0) -> Accepted:
        return self.submit(order, delay=delay)

    def submit(self, order: WorkOrder, *, delay: float = 0) -> Accepted:
        """Queue `order`, ready `delay` seconds from now (x-fc-async-delay in FC)."""
        with self._cond:
            if not self._seen.first(order.task_id):
                self.counts["duplicate"] += 1
                return Accepted(order.task_id, "writer:duplicate")
            self._seq += 1
            now = self.clock()
            self._queue.append(Job(order, self._seq, now, now + max(0.0, delay), events=order.push_events()))
            self.counts["submitted"] += 1
            self.counts["delayed"] += delay > 0
            self._cond.notify_all()
        return Accepted(order.task_id, "writer")

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is queued, waiting for a retry or running; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(5)

    # ---- the writer thread ----

    def _next(self) -> Job | None:
        """The first ready job in arrival order, with the events no queued push supersedes."""
        with self._cond:
            while not self._stopped:
                now = self.clock()
                ready = [j for j in self._queue if j.ready_at <= now]
                if ready:
                    job = min(ready, key=lambda j: j.seq)
                    self._queue.remove(job)
                    self._busy = True
                    queued = [e for j in self._queue for e in j.events]
                    return self._prune(job, queued)
                wake = min((j.ready_at for j in self._queue), default=now + 1.0)
                self._cond.wait(max(0.001, min(1.0, wake - now)))
        return None

    def _prune(self, job: Job, queued: list[PushEvent]) -> Job:
        try:
            rules = self.rules()
        except Exception:  # the worker reports an unreadable rules file itself
            return job
        if job.order.step:  # a continuation: its step may roll back a batch; a newer push recorded ends it
            return job
        kept: list[PushEvent] = []
        for event in job.events:
            by = superseded(event, queued + job.events, rules)
            if by is None:
                kept.append(event)
            else:
                self.dropped.append((event, by))
                log_event("work.superseded", task_id=job.order.task_id, event=event.summary(), by=by.summary())
        _keep(job, kept)
        # What runs now also supersedes the older pushes still queued behind it.
        for other in self._queue:
            if other.order.step:
                continue
            left = []
            for event in other.events:
                by = superseded(event, kept, rules) if kept else None
                if by is None:
                    left.append(event)
                else:
                    self.dropped.append((event, by))
                    log_event("work.superseded", task_id=other.order.task_id, event=event.summary(), by=by.summary())
            _keep(other, left)
        return job

    def _loop(self) -> None:
        from ..core.errors import RetryLater

        while True:
            job = self._next()
            if job is None:
                return
            try:
                if not job.events:
                    self.counts["superseded"] += 1
                    self.results[job.order.task_id] = "superseded"
                    continue
                self.counts["run"] += 1
                try:
                    self.results[job.order.task_id] = self.work(job.order)
                except RetryLater as exc:
                    self._retry(job, str(exc))
                except Exception as exc:  # the writer must outlive any one order
                    self.results[job.order.task_id] = f"error: {type(exc).__name__}: {exc}"
                    log_event("worker.error", task_id=job.order.task_id, error=f"{type(exc).__name__}: {exc}")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _retry(self, job: Job, reason: str) -> None:
        now = self.clock()
        if job.retries >= self.budget.retries or now - job.submitted >= self.budget.max_age:
            self.counts["gave_up"] += 1
            self.results[job.order.task_id] = f"gave-up: {reason}"
            log_event("work.gave_up", task_id=job.order.task_id, retries=job.retries, reason=reason)
            return
        job.retries += 1
        delay = self.budget.delay(job.retries, self._rng)
        job.ready_at = now + delay
        self.counts["retried"] += 1
        log_event("work.retry", task_id=job.order.task_id, retry=job.retries, in_seconds=round(delay, 3), reason=reason)
        with self._cond:
            self._queue.append(job)
            self._cond.notify_all()


RESULTS = 1000


class Results(OrderedDict[str, Any]):
    """The last RESULTS results by task id (oldest forgotten first)."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > RESULTS:
            self.popitem(last=False)


def _keep(job: Job, events: list[PushEvent]) -> None:
    if len(events) != len(job.events):
        job.events = events
        job.order = job.order.model_copy(update={"events": [WorkEvent.of(e) for e in events]})
