"""Planning is pure: (push event, rules, observed container groups, environment) -> Plan.

No I/O happens here; every decision is in the returned steps and skip reasons, so a dry run, a
test and the real apply all see the same thing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from ..clients.eci_model import ContainerGroup, GroupIndex
from ..core.errors import ImageReferenceError, PlanningError
from ..core.imageref import running_ref
from ..events.model import PushEvent
from ..rules.model import Rule, RuleSet
from . import batchmark, hints
from .actions import ACTIONS, OnGroup
from .create import _plan_create
from .guards import IN_FLIGHT, MUTABLE_STATUSES, ROLLBACK_SOURCE, _guard, _never_restarts, owned
from .matching import _select, event_host_matches, registry_mismatch, runs_pushed_repository, skip_reason, unparsable
from .steps import Plan, Skip, Step
from .update import PullCache, _changes, _plan_update, request_tags
from .versionguard import running_tag

# The actions live in their own modules (update, restart, create, replace), what they share in
# matching, guards and tokens; the names importers took from here before stay importable here.
__all__ = [
    "IN_FLIGHT",
    "MUTABLE_STATUSES",
    "ROLLBACK_SOURCE",
    "PullCache",
    "event_host_matches",
    "owned",
    "plan_event",
    "registry_mismatch",
    "request_tags",
    "runs_pushed_repository",
    "skip_reason",
    "unparsable",
]


def plan_event(
    event: PushEvent,
    rules: RuleSet,
    groups: Iterable[ContainerGroup],
    env: Mapping[str, str],
    *,
    only: str | None = None,
) -> Plan:
    """`only`: plan for this rule alone (a reconcile's wanted image belongs to one rule's policy)."""
    plan = Plan(events=[event])
    candidates = [r for r in rules.for_repository(event.repository) if only is None or r.name == only]
    if not candidates:
        plan.skipped.append(Skip(None, f"no rule watches {event.repository}"))
        return plan
    live = frozenset(r.name for r in rules)  # other rules' records on a group are kept for these
    for rule in candidates:
        reason = skip_reason(rule, event, rules)
        if reason:
            plan.skipped.append(Skip(rule.name, reason))
            continue
        try:
            _plan_rule(plan, event, rule, rules.templates.get(rule.name), groups, env, live)
        except ImageReferenceError as exc:
            raise PlanningError(str(exc), rule=rule.name) from None
    # Each skip names the push it is about (the audit trail: a skip never carries another push's id).
    plan.skipped = [s if s.event_id else dataclasses.replace(s, event_id=event.event_id) for s in plan.skipped]
    return plan


def _plan_rule(
    plan: Plan,
    event: PushEvent,
    rule: Rule,
    template: dict[str, Any] | None,
    groups: Iterable[ContainerGroup],
    env: Mapping[str, str],
    live: frozenset[str],
) -> None:
    action = rule.target.action
    if rule.target.scaling_group is not None:
        from .scaling import plan_scaling

        views = groups.scaling if isinstance(groups, GroupIndex) else GroupIndex(groups).scaling
        # The container-group decisions it reuses are handed over, not imported (no import cycle).
        reuse = SimpleNamespace(
            guard=_guard, never=_never_restarts, changes=_changes, plan_update=_plan_update, pulls=PullCache()
        )
        plan_scaling(plan, event, rule, views, env, live, reuse)
        return
    if action == "create":
        assert template is not None
        _plan_create(plan, event, rule, template, groups, env)
        return
    assert rule.target.container_groups is not None
    selected = _select(groups, rule.target.container_groups, rule.target.region)
    if not selected:
        plan.skipped.append(Skip(rule.name, hints.no_group(rule)))
        return
    pulls, spec = PullCache(), ACTIONS[action]
    for group in selected:
        # A group restarted for this push may still be Restarting: done, not deferred.
        done = spec.done(group, event, rule) if spec.done is not None else None
        if done is not None:
            plan.skipped.append(Skip(rule.name, f"already restarted for this push ({done})", group.id))
            continue
        owner = owned(group, rule)
        if owner is not None:
            plan.skipped.append(Skip(rule.name, owner, group.id))
            continue
        if batchmark.failed_for(group, rule.name, event):  # a later step found it unhealthy for this push
            reason = "this push failed on the group before (rolled back or reported): not sent again"
            plan.skipped.append(Skip(rule.name, reason, group.id))
            continue
        guard, held = _guard(event, rule, group)
        if guard is None and held and spec.whole_group:  # a restart or a replace moves every container
            why = "; ".join(f"{n}: {r}" for n, r in sorted(held.items()))
            guard = Skip(rule.name, f"{why} ({action} moves the whole group)", group.id)
        if guard is None and spec.in_place:
            guard = _never_restarts(rule, group)
        if guard is not None:
            plan.skipped.append(guard)
            continue
        first = len(plan.steps)
        spec.plan(OnGroup(plan, event, rule, template, group, env, pulls, live, held))
        _describe_before(plan.steps[first:], event, rule, group)


def _describe_before(steps: list[Step], event: PushEvent, rule: Rule, group: ContainerGroup) -> None:
    """What the audit trail says the group ran before: its tag (the rule's order) and its name; a
    replace's create (which has no group yet) gets the images it replaces."""
    if not steps:
        return
    before = running_tag(group, event, rule, runs_pushed_repository)
    for step in steps:
        step.tag_before, step.group_name = before, group.name
        if step.action == "CreateContainerGroup" and not step.previous:
            step.previous = {
                c.name: c.image
                for c in group.containers + group.init_containers
                if c.image and (ref := running_ref(c.image)) is not None and ref.repository == event.repository
            }
