"""One container group of the fake as it is kept in memory, and the small stamps (times, request ids,
events) the models and the describe shapes share."""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


def event(involved: str, kind: str, reason: str, message: str) -> dict[str, Any]:
    stamp = now()
    return {
        # Kubernetes-style event name: the involved object and a unique suffix.
        "Name": f"{involved}.{uuid.uuid4().hex[:16]}",
        "Type": kind,
        "Reason": reason,
        "Message": message,
        "Count": 1,
        "FirstTimestamp": stamp,
        "LastTimestamp": stamp,
    }


@dataclass
class Group:
    id: str
    name: str
    region: str
    spec: dict[str, Any]  # the nested create body, updated in place by UpdateContainerGroup
    status: str = "Pending"
    next_status: str | None = "Running"
    transition_at: float = 0.0
    created: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    restart_count: int = 0
    started: str = ""  # when the containers last started (CurrentState.StartTime)
    previous_started: str = ""  # the run before that (PreviousState), empty until a restart or update
    previous_finished: str = ""
    failed: str = ""

    def record(self, kind: str, reason: str, message: str) -> None:
        self.events.append(event(self.id, kind, reason, message))

    @property
    def zone(self) -> str:
        # The API places a group without a ZoneId in one of its vSwitch's zones: a stable pick here.
        return str(self.spec.get("ZoneId") or f"{self.region}-{'bhijk'[zlib.crc32(self.id.encode()) % 5]}")

    def images(self) -> list[str]:
        return [c.get("Image", "") for c in (self.spec.get("Container") or []) + (self.spec.get("InitContainer") or [])]
