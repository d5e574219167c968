"""Pushes of one delivery, sorted and coalesced per rule before planning.

A registry batches notifications (Distribution sends envelopes of many events, Harbor several
resources, Quay several tags): 200 pushes of a watched repository in one delivery must become one
change per group, to the newest image, not 200 rollouts racing each other. Newest is by the rule's
own order of tags (`TagPolicy.order_key`), then by the push's event time, then by the registry's own
order of sending: `planning.newer.compare`, the one comparator every module uses. Each rule
coalesces on its own, because each rule has its own order and its own groups: a push may be the
newest for one rule and superseded for another. With `updates`, pushes on different lines (1.5.0 and
2.1.0 under `updates: minor`) are for different groups: each line keeps its own newest, so a group on
1.x still gets 1.5.0 (the planner then holds each group to its own line). Pure: no I/O, nothing but
the events and the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..events.model import PushEvent
from ..rules.model import Rule, RuleSet
from .newer import compare, seen


@dataclass(frozen=True)
class Superseded:
    rule: str
    event: PushEvent
    by: PushEvent
    basis: str  # what made `by` newer: "the rule's tag order", "event time" or "delivery order"

    def reason(self) -> str:
        return f"{self.event.describe()} superseded by {self.by.describe()} in the same delivery ({self.basis})"


@dataclass
class Coalesced:
    """For each push (by its position among the pushes): the rules to plan it for (None = every rule, as
    when nothing was coalesced; [] = none: superseded for every rule that would act on it)."""

    only: list[list[str] | None] = field(default_factory=list)
    superseded: list[Superseded] = field(default_factory=list)

    def superseded_for(self, event: PushEvent) -> list[Superseded]:
        return [s for s in self.superseded if s.event is event]


def coalesce(events: Sequence[PushEvent], rules: RuleSet) -> Coalesced:
    from .planner import skip_reason  # the planner's own test of whether a rule acts on a push

    acting: list[list[Rule]] = [
        [r for r in rules.for_repository(e.repository) if not skip_reason(r, e, rules)] for e in events
    ]
    by_rule: dict[str, list[int]] = {}
    for i, rules_of_event in enumerate(acting):
        for rule in rules_of_event:
            by_rule.setdefault(rule.name, []).append(i)
    out = Coalesced()
    lost: dict[int, set[str]] = {}
    for name, positions in by_rule.items():
        if len(positions) < 2:
            continue
        rule = next(r for r in acting[positions[0]] if r.name == name)
        seen_as = {i: seen(rule, events[i].tag, events[i].time, i) for i in positions}  # once per push
        lines: dict[Any, list[int]] = {}
        for i in positions:
            lines.setdefault(seen_as[i].line, []).append(i)
        for line in lines.values():
            winner = line[0]
            for i in line[1:]:
                if compare(seen_as[i], seen_as[winner]).newer:
                    winner = i
            for i in line:
                if i != winner:
                    basis = compare(seen_as[winner], seen_as[i]).basis or "delivery order"
                    out.superseded.append(Superseded(name, events[i], events[winner], basis))
                    lost.setdefault(i, set()).add(name)
    for i, rules_of_event in enumerate(acting):
        gone = lost.get(i)
        out.only.append(None if not gone else [r.name for r in rules_of_event if r.name not in gone])
    return out
