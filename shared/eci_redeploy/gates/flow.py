"""Gates in the flow: a plan is gated before it is applied, held changes are released later.

    plan (pure) -> gate_plan: per rollout unit, go | held (recorded in the groups' tags) | refused
                -> apply (only what goes)
    release (timer, ScanCompleted / SigningCompleted, approvals): held changes are planned again as a
    redelivery of their push (same digest, same push time, same ClientTokens), with the evidence
    that came in, and gated again. With a worker function the entry points write nothing: they hand a
    release order to the single writer, which runs `release` there (functions.gate_endpoints.run_order), since a
    tag write decided from an earlier describe would overwrite whatever replaced that hold meanwhile.

A release is idempotent: once a held change went out its tags are gone, so a duplicate event finds
nothing held; a redelivery racing it plans the same steps with the same ClientTokens. A newer push
replaces a held one; an older one is skipped, and the planner's event-time guard still keeps a group
from going back to anything older than what it runs.

The work is split by job (see the package docstring): `context`, `gating`, `writes`, `notices`,
`held`, `replay`, `release`; this module re-exports their names.
"""

from __future__ import annotations

from .context import EvidenceSource, GateContext, Transition, subject_for, version_for
from .gating import _evidence, _gate, gate_plan
from .held import HeldChange, held_changes, is_held, observe_rule, status
from .release import HandedOff, _stale_holds, gate_work, release
from .replay import replay_event, replayed_since
from .writes import _write, _Writes

# Split by job (issue 27): context, replay, writes, gating, notices, held, release. The names other
# modules and tests imported from here stay importable here.
__all__ = [
    "EvidenceSource",
    "GateContext",
    "HandedOff",
    "HeldChange",
    "Transition",
    "_Writes",
    "_evidence",
    "_gate",
    "_stale_holds",
    "_write",
    "gate_plan",
    "gate_work",
    "held_changes",
    "is_held",
    "observe_rule",
    "release",
    "replay_event",
    "replayed_since",
    "status",
    "subject_for",
    "version_for",
]
