"""Carrying out a scaling-group rule's steps (planning/scaling.py), as Alibaba's OOS template
ACS-ESS-RollingUpdateByUpdateContainerGroup does: suspend the group's processes, change the active ECI
scaling configuration, then per batch put the instances in Standby, update them, wait until they are
healthy, put them back InService; resume the processes. When a batch spends the rollout's failure
budget, the configuration and every instance updated so far go back to what they ran (the instances
that failed are rolled back at once, as for container groups).

Whatever happens after the processes were suspended, they are resumed before this returns (`finally`);
only a worker that dies outright can leave them suspended, and then the records it wrote on the
scaling group's tags make the next run, or the reconcile's next tick, put them back (planning/scaling.py).
A spent time slice ends the rollout after a batch: processes resumed, the rest reported as CONTINUED
for the next invocation, which plans it again from a fresh describe.

Also the observation of a scaling group (`observe_scaling`), the one read path of ESS.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..clients.eci import EciGateway
from ..clients.ess import EssGateway, ess_for
from ..clients.ess_model import ScalingView
from ..core.errors import EciApiError
from ..core.log import log_event
from ..planning.steps import Step
from ..rules.model import Rollout, ScalingGroupRef
from .clock import Clock
from .rollout import CONTINUED, Outcome, _call, _undo, wait_healthy


def observe_scaling(gateway: EciGateway, region: str, ref: ScalingGroupRef) -> list[Any]:
    """[ScalingView, its instances' container groups...] for each scaling group the rule names ([]: none)."""
    ess = ess_for(gateway)
    out: list[Any] = []
    for group in ess.scaling_groups(region, group_id=ref.id, name=ref.name, tags=ref.tags):
        out.extend(_observe_one(gateway, ess, region, group))
    return out


def _observe_one(gateway: EciGateway, ess: EssGateway, region: str, group: Any) -> list[Any]:
    config = ess.eci_configuration(region, group.id, group.active_configuration) if group.active_configuration else None
    instances = ess.instances(region, group.id)
    groups = gateway.describe(region, ids=[i.id for i in instances]) if instances else []
    view = ScalingView(
        region=region,
        group=group,
        configuration=config,
        instances=instances,
        container_groups={g.id: g for g in groups},
    )
    return [view, *groups]


def execute_scaling(
    steps: Sequence[Step],
    gateway: EciGateway,
    rollouts: Mapping[str, Rollout],
    clock: Clock,
    deadline: float | None = None,
) -> list[Outcome]:
    by_group: dict[tuple[str, str], list[Step]] = {}
    for step in steps:
        by_group.setdefault((step.rule, step.scaling_group or ""), []).append(step)
    outcomes: list[Outcome] = []
    for (rule, _), group_steps in by_group.items():
        run = _Run(group_steps, gateway, ess_for(gateway), rollouts.get(rule) or Rollout(), clock)
        outcomes.extend(run.go(deadline))
    return outcomes


def _ess_call(ess: EssGateway, step: Step) -> Outcome:
    started = time.monotonic()
    try:
        result = ess.call(step.action, step.body, target=step.target, region=step.region)
    except EciApiError as exc:
        return Outcome.failed(step, exc, started)
    return Outcome(
        step, "applied", request_id=result.request_id, attempts=result.attempts, seconds=time.monotonic() - started
    )


class _Run:
    """One scaling group's procedure; outcomes by step, in plan order."""

    def __init__(self, steps: list[Step], gateway: EciGateway, ess: EssGateway, settings: Rollout, clock: Clock):
        self.steps, self.gateway, self.ess, self.settings, self.clock = steps, gateway, ess, settings, clock
        self.done: dict[int, Outcome] = {}
        self.stopped: str | None = None
        self.updated: list[Outcome] = []  # healthy instance updates, undone if the rollout fails later

    def phase(self, name: str) -> list[Step]:
        return [s for s in self.steps if s.phase == name]

    def call(self, step: Step) -> Outcome:
        outcome = _call(self.gateway, step) if step.action == "UpdateContainerGroup" else _ess_call(self.ess, step)
        self.done[id(step)] = outcome
        return outcome

    def go(self, deadline: float | None) -> list[Outcome]:
        for step in self.phase("recover"):
            self.call(step)
        suspend = self.phase("suspend")
        suspended = all(self.call(s).status == "applied" for s in suspend)
        try:
            if not suspended:
                self.stopped = "the scaling group's processes could not be suspended: nothing changed"
            else:
                self._change(deadline)
        finally:
            self._resume(suspend)
        return [
            self.done.get(id(s)) or Outcome(s, "not-attempted", error=self.stopped or "not reached") for s in self.steps
        ]

    def _change(self, deadline: float | None) -> None:
        for step in self.phase("configure"):
            if self.call(step).status != "applied":
                self.stopped = "the scaling configuration could not be changed: no instance was touched"
                return
        batches = sorted({s.phase for s in self.steps if s.phase.startswith("batch:")}, key=lambda p: int(p[6:]))
        failures = 0
        for n, name in enumerate(batches):
            if n and deadline is not None and self.clock.now() >= deadline:
                self.stopped = CONTINUED
                return
            failures += self._batch(self.phase(name))
            if failures > self.settings.failure_budget:
                self.stopped = (
                    f"rollout stopped: {failures} instance(s) failed (failure budget {self.settings.failure_budget})"
                )
                if self.settings.rollback:
                    self._roll_back()
                return

    def _batch(self, steps: list[Step]) -> int:
        """The batch's failed instances (every instance of it when it could not be put in Standby)."""
        record, enter, *updates, leave, unrecord = steps
        if self.call(record).status != "applied" or self.call(enter).status != "applied":
            self.call(unrecord)
            return len(updates)
        firsts = [(u, self.call(u)) for u in updates]
        applied = [o.group_id for _, o in firsts if o.status == "applied" and o.group_id]
        health = {}
        if self.settings.wait:
            health = wait_healthy(self.gateway, enter.region, applied, self.settings, self.clock)
        failed = 0
        for step, outcome in firsts:
            if outcome.status != "applied":
                failed += 1
                continue
            state, warnings = health.get(outcome.group_id or "", ("ready", []))
            outcome.health, outcome.events = (state if self.settings.wait else None), warnings
            if state == "ready":
                self.updated.append(outcome)
                continue
            failed += 1
            _undo(self.gateway, [step], outcome, self.settings)
        if self.call(leave).status == "applied":
            self.call(unrecord)
        return failed

    def _roll_back(self) -> None:
        """The configuration and the instances updated so far, back to what they ran (the OOS template's
        rollback): a scale-out after a failed rollout launches the old image again."""
        for step in self.phase("configure"):
            outcome = self.done.get(id(step))
            if outcome is None or outcome.status != "applied" or not step.rollback:
                continue
            try:
                result = self.ess.call(step.action, step.rollback, target=step.target, region=step.region)
            except EciApiError as exc:
                outcome.error = f"rollback failed: {exc.one_line()}"
                continue
            outcome.status, outcome.rollback_request_id = "rolled-back", result.request_id
            outcome.error = self.stopped
            log_event("rollback", rule=step.rule, target=step.target, outcome="applied", request_id=result.request_id)
        for outcome in self.updated:
            _undo(self.gateway, [outcome.step], outcome, self.settings)
            if outcome.status == "rolled-back":
                outcome.error = f"rolled back with the scaling group: {self.stopped}"

    def _resume(self, suspend: list[Step]) -> None:
        """Resume what this run suspended; drop the record only once that worked (else the next run does)."""
        resumed = True
        for step in self.phase("resume"):
            if step.action == "ResumeProcesses":
                suspended = [self.done.get(id(s)) for s in suspend if s.action == "SuspendProcesses"]
                if not suspended or suspended[0] is None or suspended[0].status != "applied":
                    continue
                resumed = self.call(step).status == "applied"
            elif resumed and any((o := self.done.get(id(s))) and o.status == "applied" for s in suspend):
                self.call(step)
