"""Gates before a deploy: vulnerability scan, signature, maintenance window, soak time, approval.

- `evaluate`: pure: (gates, the change, evidence, now) -> go | held(gate, since, releases_by) | refused.
- `store`: a held change, its evidence and its approval, kept in the container groups' own tags.
- `flow`: the integration's front: every name below, importable from one place.
- `context`: the gate clock (`CLOCK`), the evidence sources and what one pass knows (`GateContext`).
- `gating`: gate a plan before it is applied: per rollout unit go, held or refused.
- `writes`: the hold writes of one pass, buffered, then made in as few tag calls as ECI allows.
- `notices`: when held changes' transitions are told (audit lines, notifications); report/holds.py says what.
- `held`: held changes as the groups' tags record them: listing and status.
- `replay`: a held push planned again as a redelivery, and what its event id says back.
- `release`: release held changes (planned again, gated again, applied), or hand them to the writer.
- `early`: a signature that arrives before its hold is recorded, not lost.
- `acr`: evidence from ACR Enterprise Edition (ScanCompleted / SigningCompleted events, the ACR API).

The functions' gate endpoints (`GET /status`, `POST /approvals/<id>`, ACR evidence events, release work
orders) are Function Compute code and live with the functions: `functions/gate_endpoints.py`.

The rules-file section (pydantic) is `rules/gates.py`, not here: the rules model imports it on every
cold start, and importing this package would be a cycle.
"""

from __future__ import annotations

from ..events.model import EVIDENCE_SOURCE  # a signature with nothing held for it yet (gates.early)

RELEASE_SOURCE = "gate-release"  # event source of a held push planned again (PushEvent.only_rule: its rule)

__all__ = ["EVIDENCE_SOURCE", "RELEASE_SOURCE"]
