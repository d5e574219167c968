"""The actions on a selected container group, one module each (update, restart, replace), behind one
table the planner dispatches on, as chalice's PlanStage dispatches per resource type. A new action is
its module, one entry here and its name in `rules.model.Target.action`. `create` is not here: it
makes a group from a template without selecting any (planner._plan_rule plans it apart), and so are
scaling-group rules (planning/scaling.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..events.model import PushEvent
from ..rules.model import Rule
from .replace import _plan_replace
from .restart import _plan_restart, _restarted_for
from .steps import Plan
from .update import PullCache, _plan_update


@dataclass(frozen=True)
class OnGroup:
    """What an action on one group is planned from."""

    plan: Plan
    event: PushEvent
    rule: Rule
    template: dict[str, Any] | None
    group: ContainerGroup
    env: Mapping[str, str]
    pulls: PullCache
    live: frozenset[str]
    held: Mapping[str, str]  # targeted containers their own version holds where they are (versionguard)


@dataclass(frozen=True)
class Action:
    plan: Callable[[OnGroup], None]
    # Moves every container of the group: one container held by its own version holds the whole group.
    whole_group: bool
    # Changes the group itself rather than making a successor: the RestartPolicy Never guard applies.
    in_place: bool
    # Already done for this push, as the group's record says (a restart may still be Restarting).
    done: Callable[[ContainerGroup, PushEvent, Rule], str | None] | None = None


def _replace(c: OnGroup) -> None:
    assert c.template is not None  # rules.model requires a template for action: replace
    _plan_replace(c.plan, c.event, c.rule, c.template, c.group, c.env, c.live)


ACTIONS: dict[str, Action] = {
    "update": Action(
        lambda c: _plan_update(c.plan, c.event, c.rule, c.group, c.env, c.pulls, c.live, c.held),
        whole_group=False,
        in_place=True,
    ),
    "restart": Action(
        lambda c: _plan_restart(c.plan, c.event, c.rule, c.group, c.live),
        whole_group=True,
        in_place=True,
        done=_restarted_for,
    ),
    "replace": Action(_replace, whole_group=True, in_place=False),
}
