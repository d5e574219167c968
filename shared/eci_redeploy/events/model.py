"""The neutral event every trigger adapter produces: which image was pushed, where, when, by whom."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The source of a signature handed to the worker with nothing held for it yet (gates.early): evidence,
# never a push. Defined here, below both the writer (which never drops it) and the gates (which make it).
EVIDENCE_SOURCE = "gate-evidence"


@dataclass(frozen=True)
class PushEvent:
    repository: str  # path as pushed, e.g. "team/web"
    tag: str | None
    digest: str | None
    source: str  # adapter name: acr-eventbridge, acr-webhook, distribution, harbor, dockerhub, generic
    event_id: str
    time: datetime | None = None
    registry_host: str | None = None  # canonical host[:port] when the format names it
    instance_id: str | None = None  # ACR EE instance (cri-...)
    instance_name: str | None = None
    region: str | None = None
    signed: bool = False  # authenticated by the platform or an HMAC, not a bare hint
    # Other digests of the same content (a multi-arch index and its platform manifest): a group on
    # any of them already runs this image, so an index never looks "always updated".
    equivalent: frozenset[str] = frozenset()
    # Said in the reply beside the event (e.g. a malformed digest that was ignored); not part of identity.
    warning: str | None = field(default=None, compare=False)
    # A reconcile's wanted image belongs to one rule's policy: plan it for that rule alone.
    only_rule: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # The one place every adapter, the reconcile and the worker's hand-off pass through: whatever
        # a payload carried, an event that reaches the planner holds only what the OCI reference
        # grammar accepts (a namespace "team\n" or a tag "1.0\n" would otherwise flow into reports
        # and image references).
        from ..core.imageref import check_event_fields

        problem = check_event_fields(self.repository, self.tag, self.digest, self.registry_host, self.equivalent)
        if problem:
            from ..core.errors import EventError

            raise EventError(problem[1], source=self.source, field=problem[0])

    def describe(self) -> str:
        where = self.registry_host or self.instance_id or (f"ACR {self.region}" if self.region else "?")
        version = f":{self.tag}" if self.tag else ""
        version += f"@{self.digest}" if self.digest else ""
        return f"{where}/{self.repository}{version}"

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {
            "source": self.source,
            "id": self.event_id,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "registry": self.registry_host or self.instance_id,
            "time": self.time.isoformat() if self.time else None,
        }
        if self.warning:
            out["warning"] = self.warning
        return out


@dataclass(frozen=True)
class IgnoredEvent:
    """A well-formed payload that is not a deploy event (another ACR event type, a blob push, a pull)."""

    source: str
    event_id: str
    reason: str

    def summary(self) -> dict[str, object]:
        return {"source": self.source, "id": self.event_id, "status": "ignored", "reason": self.reason}


@dataclass(frozen=True)
class RejectedEvent:
    """One event of a delivery that could not be read (the others still proceed): where it was in the
    delivery and why, so that the reply names it instead of dropping it silently."""

    source: str
    index: int | None  # position in the delivery (array item or envelope event); None for the body itself
    reason: str

    def summary(self) -> dict[str, object]:
        return {"source": self.source, "index": self.index, "status": "rejected", "reason": self.reason}


@dataclass(frozen=True)
class TimerTick:
    trigger_name: str
    trigger_time: datetime | None
    payload: str = ""
