"""From parsed trigger payloads to one plan: the step every entry point shares before any I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .adapters import Parsed
from .plan import Plan, Skip
from .planner import plan_event
from .pushevent import IgnoredEvent, PushEvent, TimerTick
from .rules import RuleSet
from .state import ContainerGroup, GroupIndex


def push_events(parsed: Iterable[Parsed]) -> list[PushEvent]:
    return [p for p in parsed if isinstance(p, PushEvent)]


def decide(parsed: Sequence[Parsed], rules: RuleSet, groups: Sequence[ContainerGroup], env: Mapping[str, str]) -> Plan:
    plan = Plan()
    index = groups if isinstance(groups, GroupIndex) else GroupIndex(groups)
    for item in parsed:
        if isinstance(item, IgnoredEvent):
            plan.skipped.append(Skip(None, f"{item.source} event {item.event_id} ignored: {item.reason}"))
        elif isinstance(item, TimerTick):
            plan.skipped.append(Skip(None, f"timer {item.trigger_name}: a tick starts a reconcile, not a deploy"))
        else:
            # A held push released by the gates is for its rule alone (as main's reconcile picks are).
            plan.extend(plan_event(item, rules, index, env, only=item.extra.get("only_rule")))
    return plan


def watched(parsed: Sequence[Parsed], rules: RuleSet) -> bool:
    """Whether any push concerns a watched repository: if not, no ECI call (and no SDK import) is needed."""
    return any(rules.for_repository(e.repository) for e in push_events(parsed))
