"""How a run's side effects go, chosen once where a run starts (the CLI's --dry-run, the webhook's
`?dry_run=1`, a work order's `dry_run`) and carried down as one object, as chalice's `Executor` and
`DisplayOnlyExecutor` are, instead of a `dry_run` / `mode` flag threaded through every layer.

- `Executor` applies: the ECI and Auto Scaling calls, the gates' tag writes, hand-offs to the single
  writer, notifications. It also carries how to apply: the health-wait clock, the deadline of the
  function's invocation, and whether health-gated rollouts go in steps (execution/stepper.py).
- `DryRun` decides the same and applies nothing: the plan is shown with every step "dry-run", no tag is
  written, nothing handed on, nobody told of the plan. A rule that cannot be planned is still notified:
  it is broken whether or not this run would have applied anything.
- `Preview` is a dry run nobody is told of at all (the webhook's reply, `plan`).

Every place that writes goes through an executor method (`effect` for a tag write, a hand-off or a
notice; `carry_out` for the ECI and ESS calls and the plan's notification; `planning_error`), so a new
side effect cannot forget the dry run: what a dry run skips is decided in this module only.
Loaded on every run, so it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..clients.eci_model import ContainerGroup
    from ..core.errors import PlanningError
    from ..events.model import PushEvent
    from ..planning.steps import Plan
    from ..rules.model import RuleSet
    from .apply import Report
    from .rollout import Clock

T = TypeVar("T")

__all__ = ["APPLY", "DryRun", "Executor", "Preview", "executor_for"]


@dataclass(frozen=True)
class Executor:
    """Applies. `clock`: the rollout's health-wait clock (tests pass a fake one); `deadline`: the
    monotonic time by which the invocation must be done (rollout.execute); `stepwise`: health-gated
    rollouts go one step per invocation, the report saying when to look again."""

    clock: Clock | None = None
    deadline: float | None = None
    stepwise: bool = False

    @property
    def applies(self) -> bool:
        return True

    def effect(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Run one side effect (a tag write, a hand-off, a notification) and return its result."""
        return write(*args, **kwargs)

    def carry_out(
        self,
        plan: Plan,
        rules: RuleSet,
        gateway: Any,
        env: Mapping[str, str],
        groups: Iterable[ContainerGroup] | None = None,
    ) -> Report:
        """A gated plan applied, then the rules' channels told. `groups`: what the plan was decided on,
        for a rollout in steps (without them the rollouts wait inside this call)."""
        from .apply import Stepwise, apply_plan

        steps = Stepwise(list(groups), env) if self.stepwise and groups is not None else None
        report = apply_plan(plan, gateway, rules=rules, clock=self.clock, deadline=self.deadline, steps=steps)
        if rules.notify or any(r.notify for r in rules):  # no channel: nothing to send
            from ..report.notify import messages_for, send

            send(messages_for(report), rules, env)
        return report

    def nothing_done(self, plan: Plan) -> Report:
        """The report of a run that had nothing to carry out."""
        from .apply import Report

        return Report(plan, dry_run=not self.applies)

    def planning_error(
        self, exc: PlanningError, events: Sequence[PushEvent], rules: RuleSet, env: Mapping[str, str]
    ) -> None:
        """A rule that cannot be planned is told to its channels."""
        from ..report.notify import planning_error_message, send

        send([planning_error_message(exc.rule, exc.one_line(), events[0] if events else None)], rules, env)


@dataclass(frozen=True)
class DryRun(Executor):
    """The same decisions, shown: nothing written, handed on or applied; nobody told of the plan."""

    @property
    def applies(self) -> bool:
        return False

    def effect(self, write: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        return None

    def carry_out(
        self,
        plan: Plan,
        rules: RuleSet,
        gateway: Any,
        env: Mapping[str, str],
        groups: Iterable[ContainerGroup] | None = None,
    ) -> Report:
        from .apply import Report
        from .rollout import Outcome

        return Report(plan, [Outcome(step, "dry-run") for step in plan.steps], dry_run=True)


@dataclass(frozen=True)
class Preview(DryRun):
    """A dry run nobody is told of, not even of a rule that cannot be planned (the webhook's reply and
    `plan` answer it to the caller instead)."""

    def planning_error(
        self, exc: PlanningError, events: Sequence[PushEvent], rules: RuleSet, env: Mapping[str, str]
    ) -> None:
        return None


APPLY = Executor()


def executor_for(dry_run: bool, **how: Any) -> Executor:
    """The executor an entry point's flag asks for (`how`: clock, deadline, stepwise)."""
    return DryRun(**how) if dry_run else Executor(**how)
