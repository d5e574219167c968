"""One audit line, whoever writes it: the apply's lines (report/audit.py) and the held changes' lines
(report/holds.py) are built here, so that they carry the same fields under the same names.

`COMMON` are the fields every audit line carries (docs/audit.md, "Every audit line"); the others are on
the lines that have something to say in them (docs/audit.md, "Some lines also carry"). A line's fields
stand in one order, `ORDER`, whichever of them it carries.
"""

from __future__ import annotations

from typing import Any

from ..core.log import log_event

COMMON = (
    *("event_id", "event_source", "rule", "target", "group_id", "action", "outcome", "image_before"),
    *("image_after", "digest_before", "digest_after", "request_id", "rollback_request_id", "duration_ms", "reason"),
)
# Where each field stands: an apply's line as it always read, a held change's gate after its reason,
# an approval's groups last.
ORDER = (
    *("event_id", "event_source", "rule", "target", "group_id", "group_name", "action", "outcome"),
    *("image_before", "image_after", "tag_before", "tag_after", "digest_before", "digest_after"),
    *("request_id", "rollback_request_id", "duration_ms", "reason", "gate", "groups", "group_names"),
)


def line(**fields: Any) -> dict[str, Any]:
    """The common fields (None where not given; a line that made no call took 0 ms), then the other
    fields given, in ORDER. A name that is no audit field is a mistake here, not a new field: add it to
    ORDER and to docs/audit.md."""
    unknown = sorted(set(fields) - set(ORDER))
    if unknown:
        raise TypeError(f"not an audit field: {', '.join(unknown)} (report/auditline.ORDER, docs/audit.md)")
    given = {**dict.fromkeys(COMMON), "duration_ms": 0.0, **fields}
    return {name: given[name] for name in ORDER if name in given}


def write(fields: dict[str, Any]) -> None:
    """One line on the trail (kind "audit"); core/log masks every value first."""
    log_event("audit", **fields)
