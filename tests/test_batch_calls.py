"""A batch's calls overlap (issue 25, "how many pushes per minute one writer sustains"): the one writer
decides a batch from one describe, then sends its calls (one per group) several at a time instead of
one round trip after another. bench/scale.py measures what that buys; here only the overlap and the
outcome are asserted, through the real SDK against the fake (in-process and on the wire).

The fake's injected delay (Faults.delay_seconds, applied outside its lock) is replaced by a barrier for
all 5 UpdateContainerGroup calls: it opens only when the 5 are in flight together. Sent one after
another, the first waits alone until the barrier's timeout breaks it.
"""

from __future__ import annotations

import threading

import pytest

from eci_redeploy.events.model import PushEvent
from eci_redeploy.execution.executor import Executor
from eci_redeploy.pipeline import run
from eci_redeploy.rules.model import parse_rules

from helpers import DIGEST_B, described

HOST = "reg.example.com"


def rules(batch_size: int, **rollout):
    return parse_rules(
        {
            "version": 1,
            "rules": [
                {
                    "name": "web",
                    "source": {"repository": "team/web", "registry": HOST, "tags": {"glob": "*"}},
                    "target": {
                        "region": "cn-hangzhou",
                        "action": "update",
                        "container_groups": {"tags": {"app": "web"}},
                    },
                    "pull": {"public": [HOST]},
                    "rollout": {"batch_size": batch_size, "poll_seconds": 0.01, **rollout},
                }
            ],
        }
    )


@pytest.mark.parametrize(
    ("groups", "batch_size", "together", "timeout", "stepwise", "overlap"),
    [
        pytest.param(5, 5, 5, 5, True, True, id="one-batch-in-steps"),
        pytest.param(5, 5, 5, 5, False, True, id="one-batch-waiting-worker"),
        # Overlap stays inside a batch: with batch_size 2 the second batch is sent only after the first
        # is healthy, so the barrier for 2 opens twice and one for 3 never opens.
        pytest.param(4, 2, 3, 2, True, False, id="batches-one-after-another"),
    ],
)
def test_a_batch_sends_its_updates_together_and_each_group_moves_once(
    eci, groups, batch_size, together, timeout, stepwise, overlap
):
    """`together` updates in flight at once open the barrier; fewer wait until its timeout breaks it."""
    eci.backend.seed([described(f"eci-{i}", f"{HOST}/team/web:1.0.0") for i in range(groups)])
    barrier = threading.Barrier(together, timeout=timeout)
    broken: list[str] = []

    def wait_together(_seconds: float) -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            broken.append(f"fewer than {together} updates in flight")

    eci.backend.sleep = wait_together
    eci.backend.faults.delay_seconds = 0.001
    eci.backend.faults.actions = ("UpdateContainerGroup",)
    push = PushEvent("team/web", "1.1.0", DIGEST_B, "bench", "ev-1", registry_host=HOST)
    report = run([push], rules(batch_size), eci.gateway, {}, executor=Executor(stepwise=stepwise))
    assert bool(broken) is not overlap, broken
    assert [o.status for o in report.outcomes] == ["applied"] * groups
    updates = eci.backend.mutating_calls("UpdateContainerGroup")
    assert sorted(c.params["ContainerGroupId"] for c in updates) == [f"eci-{i}" for i in range(groups)]
    assert [o.group_id for o in report.outcomes] == sorted(o.group_id for o in report.outcomes)  # plan order
