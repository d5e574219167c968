"""Property: whatever order pushes arrive in, with duplicates, the group ends on the newest push's
image, and every distinct push changes it at most once."""

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eci_redeploy.clients.eci import EciGateway, RetryPolicy
from eci_redeploy.events.model import PushEvent
from eci_redeploy.fake.inprocess import inprocess_factory
from eci_redeploy.fake.models import FakeEci
from eci_redeploy.pipeline import run
from eci_redeploy.rules.model import parse_rules

from helpers import described, examples, rule

HOST = "reg.example.com"
T0 = datetime(2026, 11, 27, tzinfo=timezone.utc)
RULES = parse_rules(
    {
        "version": 1,
        "rules": [{**rule("web", pull={"public": [HOST]}), "rollout": {"poll_seconds": 0.001, "timeout_seconds": 1}}],
    }
)


def event(n):
    return PushEvent(
        "team/web",
        f"1.{n}.0",
        f"sha256:{n:064x}",
        "distribution",
        f"ev-{n}",
        time=T0 + timedelta(seconds=n),
        registry_host=HOST,
    )


@settings(max_examples=examples(120), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=25))
def test_newest_push_wins_in_any_delivery_order(deliveries):
    backend = FakeEci()
    backend.seed([described("eci-1", f"{HOST}/team/web:1.0.0")])
    gateway = EciGateway(inprocess_factory(backend), retry=RetryPolicy(max_attempts=2, initial=0.001))
    for n in deliveries:
        run([event(n)], RULES, gateway, {})
    newest = max(deliveries)
    assert backend.group("eci-1").spec["Container"][0]["Image"] == f"{HOST}/team/web@sha256:{newest:064x}"
    changes = [c.params["Container.1.Image"] for c in backend.mutating_calls()]
    assert len(changes) == len(set(changes))  # no push applied twice
    # a change only ever moves forward in push time
    order = [int(image.rsplit(":", 1)[1], 16) for image in changes]
    assert order == sorted(order)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=25),
    st.integers(min_value=2, max_value=8),
)
def test_newest_push_wins_with_overlapping_deliveries(deliveries, concurrency):
    """The same property when deliveries overlap: each arrives on its own thread and hands its work to
    the single writer (as `serve` does), while the fake keeps changed groups Updating for a moment."""
    from concurrent.futures import ThreadPoolExecutor

    from eci_redeploy.execution.handoff import WorkOrder
    from eci_redeploy.execution.writer import RetryBudget, Writer
    from eci_redeploy.pipeline import raise_if_retryable

    backend = FakeEci(update_seconds=0.005)
    backend.seed([described("eci-1", f"{HOST}/team/web:1.0.0"), described("eci-2", f"{HOST}/team/web:1.0.0")])
    gateway = EciGateway(inprocess_factory(backend), retry=RetryPolicy(max_attempts=2, initial=0.001))

    def work(order):
        report = run(order.push_events(), RULES, gateway, {})
        raise_if_retryable(report)
        return report

    writer = Writer(work, lambda: RULES, budget=RetryBudget(retries=50, initial=0.005, maximum=0.02))
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda n: writer.submit(WorkOrder.for_events([event(n)])), deliveries))
        assert writer.drain(60)
    finally:
        writer.stop()
    newest = max(deliveries)
    for gid in ("eci-1", "eci-2"):
        assert backend.group(gid).spec["Container"][0]["Image"] == f"{HOST}/team/web@sha256:{newest:064x}"
        calls = [c for c in backend.mutating_calls() if c.params["ContainerGroupId"] == gid]
        changes = [c.params["Container.1.Image"] for c in calls]
        order = [int(image.rsplit(":", 1)[1], 16) for image in changes]
        assert order == sorted(set(order))  # only forward, never the same push twice
