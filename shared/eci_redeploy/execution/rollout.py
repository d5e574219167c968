"""Carrying a plan out safely: per rule, in batches; after each batch, wait (bounded) until the groups
are Running with every container Ready; roll failed groups back to what they ran before and stop the
rollout once the failure budget is spent. A replace deletes the old group only after its successor
is healthy, and deletes a successor that is not: the workload is never left without a healthy group.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..clients.eci import EciGateway
from ..core import progress
from ..core.errors import EciApiError
from ..core.log import log_event
from ..planning.steps import Plan, Step
from ..planning.tokens import undo_create_token
from ..rules.model import Prewarm, Rollout
from .clock import Clock
from .records import record_accepted

HEALTHY_END = frozenset({"Succeeded"})  # a job that ran to completion
# The error of the steps a worker leaves to its continuation when its time slice is spent.
CONTINUED = "continued in a later invocation: the worker's time slice is spent"
FAILED = frozenset({"Failed", "ScheduleFailed", "Expired", "Terminating"})
# A batch's first calls (one per group, each its own group) go out this many at a time: sent one after
# another, one writer spent a round trip per group and carried out fewer pushes per minute than ECI's
# limits allow once a call takes ~25 ms or more (bench/scale.py; docs/concurrency.md, "Capacity").
PARALLEL_CALLS = 5


@dataclass
class Outcome:
    step: Step
    status: str  # applied | failed | not-attempted | dry-run | rolled-back
    request_id: str | None = None
    group_id: str | None = None
    error: str | None = None
    code: str | None = None
    attempts: int = 0
    health: str | None = None  # ready | failed: ... | timeout
    rollback_request_id: str | None = None
    events: list[str] = field(default_factory=list)  # ECI's warnings for the group
    result: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # how long the ECI call took, retries included

    @classmethod
    def failed(cls, step: Step, exc: EciApiError, started: float) -> Outcome:
        """A call the API refused (after the gateway's retries): what it said, and how long it took."""
        return cls(
            step,
            "failed",
            request_id=exc.request_id,
            error=exc.one_line(),
            code=exc.code,
            attempts=exc.attempts,
            seconds=time.monotonic() - started,
        )

    def to_json(self) -> dict[str, Any]:
        out = self.step.to_json()
        out.pop("params")
        out.update({"status": self.status, "image": self.step.image})
        for key in ("request_id", "group_id", "error", "code", "health", "rollback_request_id"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.step.previous and self.status == "rolled-back":
            out["restored"] = self.step.previous
        if self.attempts > 1:
            out["attempts"] = self.attempts
        if self.events:
            out["events"] = self.events
        if self.result:
            out["result"] = self.result
        return out


def units(steps: Sequence[Step]) -> list[list[Step]]:
    """Steps that belong together: a replace's create and the delete that depends on it."""
    out: list[list[Step]] = []
    for step in steps:
        if step.requires and out and out[-1][0].client_token == step.requires:
            out[-1].append(step)
        else:
            out.append([step])
    return out


def execute(
    plan: Plan,
    gateway: EciGateway,
    rollouts: Mapping[str, Rollout],
    clock: Clock | None = None,
    prewarms: Mapping[str, Prewarm] | None = None,
    *,
    deadline: float | None = None,
) -> list[Outcome]:
    """`deadline` (on `clock.now()`): start no batch after it but the first of each rule; the rest is
    reported as not attempted (CONTINUED) for the worker to hand to its next invocation."""
    clock = clock or Clock()
    by_rule: dict[str, list[list[Step]]] = {}
    for unit in units(plan.steps):
        by_rule.setdefault(unit[0].rule, []).append(unit)
    outcomes: list[Outcome] = []
    for rule, rule_units in by_rule.items():
        warm = (prewarms or {}).get(rule)
        if warm is not None:
            from .prewarm import prewarm_units

            rule_units, _ = prewarm_units(rule_units, gateway, warm, clock)
        outcomes.extend(_rollout(rule_units, gateway, rollouts.get(rule) or Rollout(), clock, deadline))
    return outcomes


def _call(gateway: EciGateway, step: Step) -> Outcome:
    # What happened is logged once per decision, with its final outcome, as an audit line (report/audit.py).
    started = time.monotonic()
    try:
        result = gateway.call(step.action, step.body, target=step.target)
    except EciApiError as exc:
        return Outcome.failed(step, exc, started)
    group_id = result.body.get("ContainerGroupId") or step.group_id
    return Outcome(
        step,
        "applied",
        request_id=result.request_id,
        group_id=group_id,
        attempts=result.attempts,
        seconds=time.monotonic() - started,
    )


def call_all(gateway: EciGateway, steps: Sequence[Step]) -> list[Outcome]:
    """`_call` for each step, PARALLEL_CALLS at a time, outcomes in the steps' order. The steps of one
    batch change different groups, so their order among themselves decides nothing: every decision was
    made before (from one describe) by the one writer; only the round trips overlap."""
    if len(steps) < 2:
        return [_call(gateway, step) for step in steps]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(PARALLEL_CALLS, len(steps)), thread_name_prefix="eci-call") as pool:
        return list(pool.map(lambda step: _call(gateway, step), steps))


def _rollout(
    rule_units: list[list[Step]], gateway: EciGateway, settings: Rollout, clock: Clock, deadline: float | None = None
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    failures = 0
    stopped_reason: str | None = None
    batches = -(-len(rule_units) // settings.batch_size)
    for start in range(0, len(rule_units), settings.batch_size):
        batch = rule_units[start : start + settings.batch_size]
        if not stopped_reason and start and deadline is not None and clock.now() >= deadline:
            stopped_reason = CONTINUED
        if stopped_reason:
            outcomes.extend(Outcome(s, "not-attempted", error=stopped_reason) for unit in batch for s in unit)
            continue
        number = start // settings.batch_size + 1
        progress.say(f"{batch[0][0].rule}: batch {number}/{batches}: {', '.join(u[0].target for u in batch)}")
        firsts = list(zip(batch, call_all(gateway, [unit[0] for unit in batch]), strict=True))
        _record(gateway, [outcome for _, outcome in firsts])
        health: dict[str, tuple[str, list[str]]] = {}
        seen: dict[str, dict[str, Any]] = {}
        if settings.wait:
            ids_by_region: dict[str, list[str]] = {}
            for unit, outcome in firsts:
                if outcome.status == "applied" and outcome.group_id and unit[0].action != "DeleteContainerGroup":
                    ids_by_region.setdefault(unit[0].region, []).append(outcome.group_id)
            for region, ids in ids_by_region.items():
                health.update(wait_healthy(gateway, region, ids, settings, clock, seen))
        for unit, outcome in firsts:
            outcomes.append(outcome)
            if outcome.status != "applied":
                failures += 1
                outcomes.extend(
                    Outcome(s, "not-attempted", error="the step it depends on did not succeed") for s in unit[1:]
                )
                continue
            state, warnings = health.get(outcome.group_id or "", ("ready", []))
            outcome.health, outcome.events = (state if settings.wait else None), warnings
            if state == "ready":
                outcome.result = seen.get(outcome.group_id or "", {})
                outcomes.extend(_call(gateway, s) for s in unit[1:])  # a replace's delete, now safe
                continue
            failures += 1
            outcomes.extend(_undo(gateway, unit, outcome, settings))
        if failures > settings.failure_budget:
            stopped_reason = f"rollout stopped: {failures} group(s) failed (failure budget {settings.failure_budget})"
    return outcomes


def _record(gateway: EciGateway, firsts: list[Outcome]) -> None:
    """Write the tracking tags of the accepted steps that carry them (a restart: execution/records.py).
    A step whose record could not be written fails with ECI's error: unrecorded, a later plan would not
    recognise it (a retryable error retries the order, whose same ClientToken ECI answers without a
    second restart; any other stops the rollout instead of re-sending it in every time slice)."""
    accepted = {o.group_id: o for o in firsts if o.status == "applied" and o.group_id and o.step.record}
    for group_id, exc in record_accepted(gateway, [(o.step, gid) for gid, o in accepted.items()]).items():
        outcome = accepted[group_id]
        outcome.status, outcome.code = "failed", exc.code
        outcome.error = f"restarted, but its record (tracking tags) could not be written: {exc.one_line()}"


def _undo(gateway: EciGateway, unit: list[Step], outcome: Outcome, settings: Rollout) -> list[Outcome]:
    """A change that did not become healthy: put things back as they were, and say so."""
    first = unit[0]
    outcome.status = "failed"
    outcome.error = f"not healthy: {outcome.health}"
    extra = [
        Outcome(s, "not-attempted", error="the successor is not healthy: the old group keeps running") for s in unit[1:]
    ]
    if not settings.rollback:
        return extra
    undo: dict[str, Any] | None = None
    action = ""
    if first.action == "UpdateContainerGroup" and first.rollback:
        undo, action = first.rollback, "UpdateContainerGroup"
    elif first.action == "CreateContainerGroup" and outcome.group_id:
        undo = {
            "RegionId": first.region,
            "ContainerGroupId": outcome.group_id,
            "ClientToken": undo_create_token(first.client_token, outcome.group_id),
        }
        action = "DeleteContainerGroup"
    if undo is None:
        return extra
    deleted = outcome.group_id if action == "DeleteContainerGroup" else None
    roll_back(gateway, outcome, action, undo, restored=first.previous or None, deleted=deleted)
    return extra


def roll_back(
    gateway: EciGateway, outcome: Outcome, action: str, body: dict[str, Any], **said: Any
) -> EciApiError | None:
    """Send the request that puts a group that is not healthy back, and say so once: the outcome
    turns `rolled-back` with the request's id, or its error names the refusal; one `rollback` log
    line either way (`said`: what an applied one adds after the reason, the outcome's health). The
    rollout's own undo and the stepped rollout's rollback found by a later step (execution/stepper.py)
    share it. Returns ECI's refusal, None once the rollback is sent."""
    step = outcome.step
    try:
        result = gateway.call(action, body, target=outcome.group_id or step.target)
    except EciApiError as exc:
        outcome.error = f"{outcome.error}; rollback failed: {exc.one_line()}"
        log_event("rollback", rule=step.rule, target=step.target, outcome="failed", code=exc.code)
        return exc
    outcome.status, outcome.rollback_request_id = "rolled-back", result.request_id
    log_event(
        "rollback",
        rule=step.rule,
        target=step.target,
        outcome="applied",
        request_id=result.request_id,
        reason=outcome.health,
        **said,
    )
    return None


def wait_healthy(
    gateway: EciGateway,
    region: str,
    ids: list[str],
    settings: Rollout,
    clock: Clock,
    seen: dict[str, dict[str, Any]] | None = None,
) -> dict[str, tuple[str, list[str]]]:
    """group id -> ("ready" | "failed: ..." | "timeout: ...", ECI warning messages). `seen` receives the
    status and images of healthy groups, so the report needs no second look."""
    seen = {} if seen is None else seen
    deadline = clock.now() + settings.timeout_seconds
    pending = list(dict.fromkeys(ids))
    verdict: dict[str, tuple[str, list[str]]] = {}
    shown: tuple[int, float] | None = None  # (groups pending, when) of the last progress line
    while pending:
        try:
            groups = {g.id: g for g in gateway.describe(region, ids=pending)}
        except EciApiError as exc:
            groups = {}
            log_event("health.describe_failed", code=exc.code)
        for gid in list(pending):
            group = groups.get(gid)
            if group is None:
                continue
            warnings = _warnings(group)
            ready = group.status == "Running" and all(c.ready is not False for c in group.containers)
            if ready or group.status in HEALTHY_END:
                verdict[gid] = ("ready", [])
                seen[gid] = {
                    "status": group.status,
                    "images": {c.name: c.image for c in group.containers + group.init_containers},
                }
                pending.remove(gid)
            elif group.status in FAILED:
                verdict[gid] = (f"failed: the group is {group.status}", warnings)
                pending.remove(gid)
        if not pending:
            break
        shown = _progress(shown, len(pending), len(verdict) + len(pending), deadline - clock.now(), clock.now())
        if clock.now() + settings.poll_seconds > deadline:
            for gid in pending:
                group = groups.get(gid)
                status = group.status if group else "unknown"
                warnings = _warnings(group) if group else []
                verdict[gid] = (f"timeout: still {status} after {settings.timeout_seconds} s", warnings)
            break
        clock.sleep(settings.poll_seconds)
    return verdict


def _progress(shown: tuple[int, float] | None, pending: int, total: int, left: float, now: float) -> tuple[int, float]:
    """A line when the count changes, else every 5 s: enough to see it move, not one per poll."""
    if shown is None or shown[0] != pending or now - shown[1] >= 5:
        progress.say(f"waiting for health: {pending} of {total} group(s) not ready yet, {max(0.0, left):.0f} s left")
        return pending, now
    return shown


def _warnings(group: Any) -> list[str]:
    events = (group.model_extra or {}).get("Events") or []
    return [str(e.get("Message")) for e in events if isinstance(e, dict) and e.get("Type") == "Warning"]
