"""The plan: what the planner decided, as steps that carry the exact ECI action and parameters."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..clients.eci_wire import flatten
from ..core.secrets import masked
from ..events.model import PushEvent

# Not a push: the timer's order to put back what a worker that died left on a rule's scaling group
# (planning/scaling.py), handed to the worker when the rule has nothing else to hand (its registry did
# not answer, or nothing drifted). Its `only_rule` names the rule.
RECOVERY_SOURCE = "scaling-recovery"


@dataclass(slots=True)  # not frozen: a rollout plans thousands; treated as immutable all the same
class Step:
    rule: str
    action: str  # the ECI API action
    target: str  # container group id, or the name of a group to be created
    body: dict[str, Any]  # the request in the API's nested structure; secrets wrapped in Secret
    image: str = ""
    group_id: str | None = None
    requires: str | None = None  # ClientToken of an earlier step that must have succeeded
    notes: tuple[str, ...] = ()
    rollback: dict[str, Any] | None = None  # the request that puts the group back as it was
    event_id: str = ""  # the push event this step carries out (audit trail, notifications)
    network: dict[str, str] = field(default_factory=dict)  # SecurityGroupId / VSwitchId of the group
    previous: dict[str, str] = field(default_factory=dict)  # container name -> image before the change
    # Tracking tags (planning/tracking.py) the worker writes with TagResources once ECI accepted the
    # step: a restart's own request carries no tags, an update's does ("Tag" in its body).
    record: dict[str, str] = field(default_factory=dict)
    # The pull parameters an image cache for this step's image needs (CreateImageCache takes what
    # CreateContainerGroup takes: cross-account AcrRegistryInfo, PlainHttpRegistry, ...), where the
    # step's own request cannot carry them (an update); empty: take them from the body.
    cache_pull: dict[str, Any] = field(default_factory=dict)
    # For the audit trail and `history`: the tag the group ran before (the rule's own order) and the
    # group's name (operators know groups by name; a replace's create targets the name anyway).
    tag_before: str | None = None
    group_name: str | None = None
    # A scaling-group rule's steps (planning/scaling.py): the group they belong to, and where in the
    # procedure each stands (recover | suspend | configure | batch:N | resume), for execution/scaling.py.
    scaling_group: str | None = None
    phase: str = ""
    location: str = ""  # the region, for a request without RegionId (ESS EnterStandby)

    @property
    def client_token(self) -> str | None:
        return self.body.get("ClientToken")

    @property
    def region(self) -> str:
        return str(self.body.get("RegionId") or self.location)

    def with_scaling(self, group: str, phase: str) -> Step:
        return replace(self, scaling_group=group, phase=phase)

    def params(self) -> dict[str, Any]:
        """Flat wire parameters; Secret values still wrapped."""
        return flatten(self.body)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "action": self.action,
            "target": self.target,
            "params": masked(self.params()),
        }
        if self.notes:
            out["notes"] = list(self.notes)
        if self.record:
            out["records"] = dict(self.record)
        if self.scaling_group:
            out["scaling_group"], out["phase"] = self.scaling_group, self.phase
        return out


@dataclass(frozen=True)
class Skip:
    rule: str | None
    reason: str
    target: str | None = None
    deferred: bool = False  # not now, but later: the platform's retry or the next reconcile brings it back
    event_id: str = ""  # the push this skip is about (audit): one rule's skip never names another rule's push

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "reason": self.reason}
        if self.target:
            out["target"] = self.target
        if self.deferred:
            out["deferred"] = True
        return out


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    events: list[PushEvent] = field(default_factory=list)
    # Events of the delivery that are not pushes to plan (ignored, rejected): listed in the output so
    # that every event read is accounted for.
    other_events: list[Any] = field(default_factory=list)

    @property
    def deferred(self) -> list[Skip]:
        return [s for s in self.skipped if s.deferred]

    def extend(self, other: Plan) -> None:
        self.steps.extend(other.steps)
        self.skipped.extend(other.skipped)
        self.events.extend(other.events)
        self.other_events.extend(other.other_events)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "actions": [s.to_json() for s in self.steps],
            "skipped": [s.to_json() for s in self.skipped],
        }
        # Always present (docs/cli.md: `plan` always prints an `events` key), empty when nothing was read.
        out["events"] = [e.summary() for e in self.events] + [e.summary() for e in self.other_events]
        return out
