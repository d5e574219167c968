"""A work order that says `dry_run` applies nothing in the worker, a release order included.

The worker is the one place a work order's `dry_run` becomes an executor (functions/push_worker.py,
`executor_for(order.dry_run, ...)`); below it no layer reads the flag (issue 27 item 4). These run the
worker's real entry point (`handle_work`, the bytes FC delivers) on the fake ECI on the wire, and then
the same order without `dry_run`, which deploys: the dry run's "nothing changed" is not for want of a
change to make.
"""

from __future__ import annotations

from datetime import timedelta

import gates_world
from eci_redeploy.events.adapters import parse_body
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.handoff import GateWork, WorkOrder
from eci_redeploy.functions.push_worker import handle_work
from eci_redeploy.gates import store
from eci_redeploy.gates.flow import replay_event
from eci_redeploy.rules.model import load_rules
from fcfixtures import fc_context
from gates_world import NEW, OLD, PUSH

world = gates_world.world


def changes(w) -> list[str]:
    """Every call that changed something: group changes and tag writes (holds, records)."""
    tags = ("TagResources", "UntagResources")
    return [c.action for c in w.backend.calls if c.status == 200 and (c.mutating or c.action in tags)]


def work(w, order: WorkOrder) -> dict:
    return handle_work(order.model_dump_json().encode(), fc_context("worker"), default_rules=w.rules_path)


def test_a_dry_run_push_order_applies_nothing(world):
    w = world({})
    pushes = [p for p in parse_body(PUSH, source="eventbridge") if isinstance(p, PushEvent)]
    result = work(w, WorkOrder.for_events(pushes, dry_run=True))
    assert result["ok"] and result["dry_run"] is True
    assert [a["target"] for a in result["actions"]] == ["eci-0", "eci-1"]  # the plan, shown
    assert changes(w) == [] and w.images() == {OLD}
    done = work(w, WorkOrder.for_events(pushes, salt="applied"))  # the same pushes, applied
    assert done["ok"] and w.images() == {NEW} and len(w.updates()) == 2


def test_a_dry_run_release_order_leaves_the_hold_and_the_groups(world):
    w = world({"soak": "15m"})
    w.push(PUSH)  # held: the soak has not passed
    held = store.read({t["Key"]: t["Value"] for t in w.backend.group("eci-0").spec["Tag"]})
    assert held is not None
    rule = load_rules(w.rules_path).rule("web-prod")
    w.now += timedelta(minutes=20)  # the soak has passed: a release would deploy now
    before = len(changes(w))
    result = work(w, WorkOrder.for_events([replay_event(rule, held)], gates=GateWork(), dry_run=True))
    assert result["ok"] and len(changes(w)) == before and w.images() == {OLD}
    assert store.read({t["Key"]: t["Value"] for t in w.backend.group("eci-0").spec["Tag"]}) == held
    order = WorkOrder.for_events([replay_event(rule, held)], gates=GateWork(), salt="applied")
    assert work(w, order)["ok"] and w.images() == {NEW} and len(w.updates()) == 2
