"""`eci-redeploy list`: for each rule, the groups it selects, what each runs (tag and digest), the
newest tag the registry holds that the rule allows, and what the next reconcile would do.

It is the reconcile itself, as a dry run (operations/reconcile.py: the same registry questions and the
same plan, gates included, nothing applied, nobody told), read group by group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..core.imageref import running_ref
from ..events.model import PushEvent
from ..execution.executor import DryRun
from ..planning import hints, tracking
from ..planning.planner import runs_pushed_repository
from ..planning.steps import Plan
from ..planning.versionguard import running_tag
from ..report.audit import version_text
from ..rules.model import Rule, RuleSet
from .reconcile import ClientFor, ReconcileResult, reconcile


def inventory(rules: RuleSet, gateway: Any, client_for: ClientFor, env: Mapping[str, str]) -> dict[str, Any]:
    return collect(rules, gateway, client_for, env)[0]


def collect(
    rules: RuleSet, gateway: Any, client_for: ClientFor, env: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, ContainerGroup]]:
    """The listing, and the groups it read (by id: the web page's timeline reads their records)."""
    result = reconcile(rules, gateway, client_for, env, executor=DryRun())
    body = {"rules": [_rule_entry(rule, rules, result) for rule in rules], "problems": result.problems}
    return body, {g.id: g for groups in result.groups.values() for g in groups}


def target_text(rule: Rule) -> str:
    """What a rule targets, whatever kind of target it is (container groups, a template's name, or a
    scaling group where the rules file has them)."""
    scaling = getattr(rule.target, "scaling_group", None)
    if scaling:
        return f"scaling group {scaling}"
    if rule.target.container_groups is None:
        return "create from the template"
    return hints.selector_text(rule.target.container_groups)


def _rule_entry(rule: Rule, rules: RuleSet, result: ReconcileResult) -> dict[str, Any]:
    plan = result.report.plan
    host = result.hosts.get(rule.name)
    wanted = result.wanted.get(rule.name)
    own = [s.reason.removeprefix("reconcile: ") for s in plan.skipped if s.rule == rule.name and not s.target]
    problems = [p["reason"] for p in result.problems if p["rule"] == rule.name]
    notes = list(dict.fromkeys([*problems, *own]))
    return {
        "rule": rule.name,
        "repository": rule.source.repository,
        "registry": host,
        "target": target_text(rule),
        "action": rule.target.action,
        "policy": rules.policy(rule).describe(rule.allow_downgrade),
        "newest": {"tag": wanted["tag"], "digest": wanted["digest"]} if wanted else None,
        "notes": notes,
        "groups": [_group_entry(g, rule, host, plan, notes) for g in result.groups.get(rule.name, [])],
    }


def _group_entry(group: ContainerGroup, rule: Rule, host: str | None, plan: Plan, notes: list[str]) -> dict[str, Any]:
    probe = PushEvent(rule.source.repository, None, None, "list", "probe", registry_host=host)
    digest = None
    images = []
    for c in group.containers + group.init_containers:
        ref = running_ref(c.image) if c.image else None
        if ref is not None and runs_pushed_repository(ref, probe, rule):
            images.append(c.image)
            digest = digest or ref.digest
    recorded = tracking.applied(group.tag_map, rule.name).digest
    if digest is None and recorded and recorded.startswith("sha256:"):
        digest = recorded  # deployed by tag: the rule's record says which content it was
    return {
        "id": group.id,
        "name": group.name,
        "status": group.status,
        "images": images,
        "running": {"tag": running_tag(group, probe, rule, runs_pushed_repository), "digest": digest},
        "frozen": tracking.frozen(group.tag_map),
        "next": _next(group, rule, plan, notes),
    }


def _next(group: ContainerGroup, rule: Rule, plan: Plan, notes: list[str]) -> dict[str, Any]:
    for step in plan.steps:
        mine = step.group_id == group.id or step.target == group.id
        successor = step.action == "CreateContainerGroup" and f"successor of {group.id}" in step.notes
        if step.rule == rule.name and (mine or successor):
            return {"action": step.action, "image": step.image}
    from ..gates.flow import is_held

    for skip in plan.skipped:
        if skip.rule == rule.name and skip.target == group.id:
            action = "held" if is_held(skip) else "deferred" if skip.deferred else "none"
            return {"action": action, "reason": skip.reason}
    # nothing planned for the group: the rule's own reason (the registry, the policy), if any
    return {"action": "none", "reason": notes[0] if notes else "nothing to do"}


def render(body: dict[str, Any]) -> str:
    """The table: one block per rule, one line per group."""
    out: list[str] = []
    for r in body["rules"]:
        newest = r["newest"]
        newest_text = version_text(newest["tag"], newest["digest"]) if newest else "(unknown)"
        out.append(
            f"{r['rule']}: {r['registry'] or '?'}/{r['repository']}  {r['action']} {r['target']}  "
            f"newest allowed: {newest_text}"
        )
        out.append(f"  policy: {r['policy']}")
        out.extend(f"  ! {note}" for note in r["notes"])
        if not r["groups"]:
            out.append("  (no container group)")
        for g in r["groups"]:
            running = version_text(g["running"]["tag"], g["running"]["digest"])
            nxt = g["next"]
            then = f"{nxt['action']} -> {nxt['image']}" if "image" in nxt else f"{nxt['action']}: {nxt['reason']}"
            frozen = "  [frozen]" if g["frozen"] else ""
            out.append(f"  {g['name'] or '-'} ({g['id']})  {g['status']}  runs {running}{frozen}  next: {then}")
    return "\n".join(out)
