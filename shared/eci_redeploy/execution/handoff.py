"""The hand-off from the webhook to the worker: neutral events, serialized, with a task id that the
platform de-duplicates (so a redelivered webhook never runs twice)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..core.errors import ImageReferenceError
from ..core.idempotency import task_id
from ..core.imageref import ImageRef, validate_digest, validate_tag
from ..events.model import PushEvent

KIND = "eci-redeploy/work-order"


class WorkEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    repository: str
    tag: str | None = None
    digest: str | None = None
    source: str
    event_id: str
    time: datetime | None = None
    registry_host: str | None = None
    instance_id: str | None = None
    instance_name: str | None = None
    region: str | None = None
    signed: bool = False
    equivalent: list[str] = Field(default_factory=list)
    only_rule: str | None = None  # a reconcile's wanted image belongs to one rule's policy

    @field_validator("tag", "digest", "repository")
    @classmethod
    def _grammar(cls, v: str | None, info: ValidationInfo) -> str | None:
        # The webhook only sends what its adapters validated; whoever else can invoke the worker must
        # not get a tag or digest past the reference grammar to ECI either.
        if v is None:
            return v
        try:
            if info.field_name == "tag":
                return validate_tag(v)
            if info.field_name == "digest":
                return validate_digest(v)
            ImageRef.parse(f"example.invalid/{v}")
        except ImageReferenceError as exc:
            raise ValueError(str(exc)) from None
        return v

    @classmethod
    def of(cls, event: PushEvent) -> WorkEvent:
        values = {k: getattr(event, k) for k in cls.model_fields if k != "only_rule"}
        values["equivalent"] = sorted(event.equivalent)
        return cls(**values, only_rule=event.only_rule)

    def event(self) -> PushEvent:
        values = self.model_dump()
        values["equivalent"] = frozenset(values["equivalent"])
        return PushEvent(**values)


# The severities a scan gate reads (rules.gates.SEVERITIES), and GetRepoTagScanSummary's four published
# columns (gates.acr.SUMMARY_COLUMNS): a complete scan without all four is no result (acr.summary_counts).
Severity = Literal["unknown", "low", "medium", "high", "critical"]
SUMMARY_SEVERITIES = ("high", "medium", "low", "unknown")


class WorkEvidence(BaseModel):
    """What a ScanCompleted / SigningCompleted event said about one image, for the writer to record. Taken
    as the events are read (gates.acr.scan_from): evidence a gate could not read is refused, never taken
    for "no findings"."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    image: str = Field(max_length=200)  # the digest, or ":<tag>" when the event named none
    scan_status: Literal["COMPLETE", "FAILED", "SCANNING", "RETRYING"] | None = None
    counts: dict[Severity, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)  # severity -> count
    signed: bool | None = None

    @model_validator(mode="after")
    def _published_counts(self) -> WorkEvidence:
        missing = [s for s in SUMMARY_SEVERITIES if s not in self.counts]
        if self.scan_status == "COMPLETE" and missing:
            raise ValueError(f"a COMPLETE scan carries the summary's four counts; missing: {', '.join(missing)}")
        return self


class WorkApproval(BaseModel):
    """An approver's approval of one held change (`<rule>.<32 hex>`, held since `held_since_ms`)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    id: str = Field(max_length=200)
    held_since_ms: int
    approver: str = Field(max_length=64)
    at: datetime


class GateWork(BaseModel):
    """A release order: the events are held pushes planned again (gates.flow.replay_event); the writer
    releases each that may go now and records in the hold's tags what this order brings."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    evidence: list[WorkEvidence] = Field(default_factory=list, max_length=100)
    approval: WorkApproval | None = None


class WorkOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    kind: Literal["eci-redeploy/work-order"] = "eci-redeploy/work-order"
    task_id: str
    events: list[WorkEvent] = Field(min_length=1)
    dry_run: bool = False
    gates: GateWork | None = None  # set: a release of held changes (gates/), not a push

    @classmethod
    def for_events(
        cls, events: Sequence[PushEvent], *, dry_run: bool = False, salt: str = "", gates: GateWork | None = None
    ) -> WorkOrder:
        return cls(
            task_id=task_id(events, salt=salt), events=[WorkEvent.of(e) for e in events], dry_run=dry_run, gates=gates
        )

    def push_events(self) -> list[PushEvent]:
        return [e.event() for e in self.events]


__all__ = ["KIND", "GateWork", "WorkApproval", "WorkEvent", "WorkEvidence", "WorkOrder", "is_work_order", "task_id"]


def is_work_order(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("kind") == KIND
