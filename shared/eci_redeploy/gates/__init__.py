"""Gates before a deploy: vulnerability scan, signature, maintenance window, soak time, approval.

- `spec`: the rules-file section (pydantic); it lives in `rules/gates.py` (the rules model imports it there).
- `decide`: pure: (gates, the change, evidence, now) -> go | held(gate, since, releases_by) | refused.
- `store`: a held change, its evidence and its approval, kept in the container groups' own tags.
- `flow`: the integration: gate a plan before it is applied, release held changes, status, approvals.
- `early`: a signature that arrives before its hold is recorded, not lost.
- `acr`: evidence from ACR Enterprise Edition (ScanCompleted / SigningCompleted events, the ACR API).
- `http`: `GET /status` and `POST /approvals/<id>` on the webhook function.

Kept light: the rules model imports `rules/gates.py` on every cold start (not this package: no cycle).
"""

from __future__ import annotations

from ..events.model import EVIDENCE_SOURCE  # a signature with nothing held for it yet (gates.early)

RELEASE_SOURCE = "gate-release"  # event source of a held push planned again (PushEvent.only_rule: its rule)

__all__ = ["EVIDENCE_SOURCE", "RELEASE_SOURCE"]
