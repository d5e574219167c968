"""What a step's own request cannot record: the tracking tags of a restart (`Step.record`), written
by the worker with ECI's TagResources as soon as ECI accepted the step, so that a later plan (the
rollout's next time slice, a redelivered push, the reconcile) recognises the group as done.

Written on acceptance, not after the health wait: a restart has no undo, so the group runs the push
from then on whether or not it becomes healthy (an unhealthy one is reported, not restarted again),
and a worker stopped during the wait leaves the record behind. Groups with the same tags share a
call (20 per call, as for the gates' tags). A failed write is logged (`restart.record_failed`) and
returned: the rollout fails the step (execution/rollout.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..clients.eci import EciGateway, tag_calls
from ..core.errors import EciApiError
from ..core.log import log_event
from ..planning.steps import Step


def record_accepted(gateway: EciGateway, accepted: Iterable[tuple[Step, str]]) -> dict[str, EciApiError]:
    """`accepted`: (step, the group it changed) for each step ECI accepted. Returns the groups whose
    record could not be written, with the error."""
    failed: dict[str, EciApiError] = {}
    writes: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
    for step, group_id in accepted:
        if step.record:
            writes.setdefault((step.region, tuple(sorted(step.record.items()))), []).append(group_id)
    for (region, pairs), ids in writes.items():
        tags = {"Tag": [{"Key": k, "Value": v} for k, v in pairs]}
        for chunk, exc in tag_calls(gateway, "TagResources", region, ids, tags):
            log_event("restart.record_failed", groups=chunk, code=exc.code, error=exc.one_line())
            failed.update(dict.fromkeys(chunk, exc))
    return failed
