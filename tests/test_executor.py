"""The executors (execution/executor.py, issue 27 item 4): the entry point chooses how a run's side
effects go, and every layer below obeys it without a flag of its own.

- A dry run decides exactly what an apply decides (the same steps, the same holds) and changes
  nothing anywhere: no ECI call that mutates, no hold written in the groups' tags, nobody told.
- A preview is a dry run nobody is told of, not even of a rule that cannot be planned; a dry run
  tells that (the rule is broken either way), as an apply does.
- No function below the entry points takes a `dry_run` or `mode` parameter any more (the flags this
  replaced), so a new layer cannot bring one back unnoticed.

Everything runs on the fake ECI on the wire through the real SDK, with the notifications received by
a local HTTP endpoint (tests/gates_stage.py).
"""

from __future__ import annotations

import ast
import os

import pytest

from eci_redeploy.core.errors import PlanningError
from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.executor import APPLY, DryRun, Executor, Preview
from eci_redeploy.execution.rollout import Clock
from eci_redeploy.pipeline import run
from gates_stage import INSTANCE, REPO, Stage, digest

from helpers import ROOT

SHOWN = [pytest.param(DryRun, id="dry-run"), pytest.param(Preview, id="preview")]


@pytest.fixture
def stage(make_rules):
    made: list[Stage] = []

    def build(gates, **kw):
        made.append(Stage(make_rules, gates, **kw))
        return made[-1]

    yield build
    for s in made:
        s.close()


def acr_push(s: Stage, tag: str, n: int, event_id: str) -> PushEvent:
    return PushEvent(
        REPO,
        tag,
        digest(n),
        "acr-eventbridge",
        event_id,
        time=s.now,
        instance_id=INSTANCE,
        instance_name="acme",
        region="cn-hangzhou",
        signed=True,
    )


def through(s: Stage, executor_type: type[Executor], event: PushEvent):
    executor = executor_type(clock=Clock(sleep=lambda seconds: None))
    return run([event], s.rules, s.gateway, s.env, gate_context=s.context(lookup=False), executor=executor)


def writes(s: Stage) -> list[str]:
    """Every call that changed something: the group-changing calls and the tag writes (holds)."""
    tags = ("TagResources", "UntagResources")
    return [c.action for c in s.backend.calls if c.status == 200 and (c.mutating or c.action in tags)]


def steps_of(report):
    return [(st.rule, st.action, st.group_id, st.image) for st in report.plan.steps]


@pytest.mark.parametrize("shown", SHOWN)
def test_a_shown_run_decides_what_an_apply_decides_and_changes_nothing(stage, shown):
    s = stage({})  # no gate: the push goes
    event = acr_push(s, "1.1.0", 1, "push-1")
    before = dict(s.images())
    report = through(s, shown, event)
    assert writes(s) == [] and s.hooks.bodies == []
    assert s.images() == before
    body = report.to_json()
    assert body["dry_run"] is True and "seconds" not in body  # the plan shown, no outcome timed
    assert {o.status for o in report.outcomes} == {"dry-run"} and len(report.outcomes) == 2
    applied = through(s, Executor, event)
    assert steps_of(applied) == steps_of(report)
    assert {o.status for o in applied.outcomes} == {"applied"}
    assert len(s.updates()) == 2 and s.hooks.outcomes()  # the apply told the rule's channel


@pytest.mark.parametrize("shown", SHOWN)
def test_a_shown_run_holds_what_an_apply_holds_without_writing_the_hold(stage, shown):
    s = stage({"soak": "15m"})
    event = acr_push(s, "1.1.0", 1, "push-1")
    report = through(s, shown, event)
    assert writes(s) == [] and s.hooks.bodies == []
    assert s.status()["held"] == []  # nothing recorded: the next run decides afresh
    shown_skips = sorted(k.reason for k in report.plan.skipped)
    applied = through(s, Executor, event)
    assert sorted(k.reason for k in applied.plan.skipped) == shown_skips and shown_skips
    assert report.plan.steps == applied.plan.steps == []
    [held] = s.status()["held"]  # the apply recorded the hold in the groups' tags ...
    assert held["rule"] == "web-prod" and writes(s) and not s.updates()
    assert "held" in s.hooks.outcomes()  # ... and told the channel


def test_a_release_in_a_dry_run_leaves_the_hold_in_place(stage):
    from eci_redeploy.gates import flow

    s = stage({"soak": "15m"})
    through(s, Executor, acr_push(s, "1.1.0", 1, "push-1"))
    calls, told = len(writes(s)), len(s.hooks.bodies)
    s.later(minutes=20)
    shown = flow.release(s.rules, s.gateway, s.env, context=s.context(lookup=False), executor=DryRun())
    assert [o.status for o in shown.outcomes] == ["dry-run", "dry-run"]
    assert len(writes(s)) == calls and len(s.hooks.bodies) == told
    assert [h["rule"] for h in s.status()["held"]] == ["web-prod"]
    done = flow.release(s.rules, s.gateway, s.env, context=s.context(lookup=False), executor=APPLY)
    assert [o.status for o in done.outcomes] == ["applied", "applied"] and s.status()["held"] == []


def _unplannable(make_rules, hook_url):
    from eci_redeploy.clients.eci import EciGateway, RetryPolicy
    from eci_redeploy.fake.inprocess import inprocess_factory
    from eci_redeploy.fake.models import FakeEci

    from helpers import described, rule

    body = {**rule("web", pull={"public": ["reg.example.com"]}), "notify": [{"webhook": {"url_env": "HOOK_URL"}}]}
    backend = FakeEci()
    backend.seed([described("eci-p", "private.example.com/team/web:1", name="p")])
    gateway = EciGateway(inprocess_factory(backend), retry=RetryPolicy(max_attempts=2, initial=0.001))
    event = PushEvent("team/web", "1.4.0", digest(3), "generic", "ev-9", registry_host="private.example.com")
    return make_rules(body), gateway, event, {**os.environ, "HOOK_URL": hook_url}


@pytest.mark.parametrize(("executor", "told"), [(APPLY, 1), (DryRun(), 1), (Preview(), 0)])
def test_a_rule_that_cannot_be_planned_is_told_except_in_a_preview(make_rules, executor, told):
    from helpers import Hook

    hook = Hook()
    try:
        rules, gateway, event, env = _unplannable(make_rules, hook.url)
        with pytest.raises(PlanningError, match="private registry"):
            run([event], rules, gateway, env, executor=executor)
        assert len(hook.received) == told
        assert all(b["outcome"] == "error" for b in hook.received)
    finally:
        hook.close()


# Entry points read a flag to choose their executor; data models carry it on the wire.
FLAG_ALLOWED = {
    "cli.py",  # --dry-run
    "functions/webhook.py",  # ?dry_run=1
    "execution/executor.py",  # executor_for: where the flag becomes the object
    "execution/handoff.py",  # the work order's dry_run field
    "events/adapters/generic.py",  # the CI payload's dry_run field
}


def test_no_layer_below_the_entry_points_takes_a_dry_run_or_mode_flag():
    package = ROOT / "shared" / "eci_redeploy"
    found = []
    for file in sorted(package.rglob("*.py")):
        where = file.relative_to(package).as_posix()
        if where in FLAG_ALLOWED or where.startswith("fake/"):
            continue
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [a.arg for a in (*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs)]
                found += [f"{where}:{node.lineno} {node.name}({n})" for n in names if n in ("dry_run", "mode")]
    assert found == []
