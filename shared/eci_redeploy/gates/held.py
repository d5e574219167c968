"""Held changes as the groups' tags record them: listed per rule (`held_changes`), shown (`status`,
`HeldChange.to_json`), told apart from other skips (`is_held`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..events.model import PushEvent
from ..planning.steps import Skip
from ..rules.model import Rule, RuleSet
from . import store
from .context import _utcnow
from .evaluate import Change, Evidence, ScanResult, evaluate


@dataclass
class HeldChange:
    held: store.Held
    rule: Rule
    groups: list[ContainerGroup]

    def to_json(self, gates: Any, now: datetime) -> dict[str, Any]:
        evidence = Evidence(
            ScanResult("COMPLETE", {}) if "scan" in self.held.passed else None,
            True if "signed" in self.held.passed else None,
            self.held.approval,
        )
        change = Change(self.rule.name, self.held.version, self.held.pushed_at, self.held.since)
        decision = evaluate(gates, change, evidence, now)
        out: dict[str, Any] = {
            "id": self.held.id,
            "rule": self.rule.name,
            "version": self.held.version,
            "tag": self.held.tag,
            "state": self.held.state,
            "since": self.held.since.isoformat(),
            "pushed_at": self.held.pushed_at.isoformat() if self.held.pushed_at else None,
            "groups": sorted(g.id for g in self.groups),
            "passed": list(self.held.passed),
        }
        if self.held.approval:
            out["approved_by"] = self.held.approval.approver
            out["approved_at"] = self.held.approval.at.isoformat()
        if self.held.state == "held":
            out["waiting_on"] = [
                {
                    "gate": w.gate,
                    "releases_by": w.releases_by,
                    **({"at": w.releases_at.isoformat()} if w.releases_at else {}),
                }
                for w in decision.waiting
            ]
            if decision.verdict == "refused":
                out["next"] = f"refused at the next reconcile: {decision.reason}"
            elif decision.verdict == "go":
                out["next"] = "released at the next reconcile"
        return out


def observe_rule(gateway: Any, rule: Rule, rules: RuleSet) -> list[ContainerGroup]:
    from ..execution.apply import observe

    probe = PushEvent(rule.source.repository, None, None, "gates", "probe")
    return list(observe(gateway, [probe], RuleSet([rule], rules.templates), check=False))


def held_changes(
    rules: RuleSet,
    gateway: Any,
    *,
    only: str | None = None,
    observed: dict[str, list[ContainerGroup]] | None = None,
    repositories: frozenset[str] | None = None,
) -> list[HeldChange]:
    """Held and refused changes of the gated rules (`only` one rule; only rules watching `repositories`):
    one describe per rule, nothing else."""
    out: list[HeldChange] = []
    for rule in rules:
        if (only is not None and rule.name != only) or rules.gates_for(rule) is None:
            continue
        if repositories is not None and rule.source.repository not in repositories:
            continue
        groups = observe_rule(gateway, rule, rules)
        if observed is not None:
            observed[rule.name] = groups
        by_version: dict[str, HeldChange] = {}
        for group in groups:
            held = store.read(group.tag_map, rule.name)
            if held is None or held.rule != rule.name:
                continue
            entry = by_version.setdefault(held.version, HeldChange(held, rule, []))
            entry.groups.append(group)
            if held.since_ms < entry.held.since_ms:
                entry.held = held
        out.extend(by_version.values())
    return out


def status(rules: RuleSet, gateway: Any, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or _utcnow()
    changes = held_changes(rules, gateway)
    items = []
    for c in changes:
        gates = rules.gates_for(c.rule)
        items.append(c.to_json(gates, now))
    return {
        "held": [i for i in items if i["state"] == "held"],
        "refused": [i for i in items if i["state"] == "refused"],
        "now": now.isoformat(),
    }


def is_held(skip: Skip) -> bool:
    """Whether a skip is a change the gates hold (the timer hands those to the writer to record)."""
    return skip.reason.startswith("held (")
