"""From parsed trigger payloads to one plan: the step every entry point shares before any I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..clients.eci_model import ContainerGroup, GroupIndex
from ..events.adapters import Parsed
from ..events.model import IgnoredEvent, PushEvent, RejectedEvent, TimerTick
from ..rules.model import RuleSet
from .planner import plan_event
from .steps import Plan, Skip


def push_events(parsed: Iterable[Parsed]) -> list[PushEvent]:
    return [p for p in parsed if isinstance(p, PushEvent)]


def decide(parsed: Sequence[Parsed], rules: RuleSet, groups: Sequence[ContainerGroup], env: Mapping[str, str]) -> Plan:
    plan = Plan()
    index = groups if isinstance(groups, GroupIndex) else GroupIndex(groups)
    pushes = push_events(parsed)
    merged = _coalesce(pushes, rules)
    position = {id(e): i for i, e in enumerate(pushes)}
    for item in parsed:
        if isinstance(item, IgnoredEvent):
            plan.skipped.append(Skip(None, f"{item.source} event {item.event_id} ignored: {item.reason}"))
            plan.other_events.append(item)
        elif isinstance(item, RejectedEvent):
            where = f" [{item.index}]" if item.index is not None else ""
            plan.skipped.append(Skip(None, f"{item.source} event{where} rejected: {item.reason}"))
            plan.other_events.append(item)
        elif isinstance(item, TimerTick):
            plan.skipped.append(Skip(None, f"timer {item.trigger_name}: a tick starts a reconcile, not a deploy"))
        else:
            only = merged.only[position[id(item)]] if merged else None
            pinned = item.only_rule  # a reconcile's wanted image: for that rule alone
            if only is None:
                plan.extend(plan_event(item, rules, index, env, only=pinned))
                continue
            if pinned is not None:
                only = [name for name in only if name == pinned]
            assert merged is not None
            plan.events.append(item)
            for gone in merged.superseded_for(item):
                plan.skipped.append(Skip(gone.rule, gone.reason()))
            for name in only:
                sub = plan_event(item, rules, index, env, only=name)
                plan.steps.extend(sub.steps)
                plan.skipped.extend(sub.skipped)
    return plan


def _coalesce(pushes: Sequence[PushEvent], rules: RuleSet) -> Any:
    """Several pushes in one delivery: coalesce them per rule (coalesce.py) before planning."""
    if len(pushes) < 2:
        return None
    from .coalesce import coalesce

    return coalesce(pushes, rules)


def watched(parsed: Sequence[Parsed], rules: RuleSet) -> bool:
    """Whether any push concerns a watched repository: if not, no ECI call (and no SDK import) is needed."""
    return any(rules.for_repository(e.repository) for e in push_events(parsed))
