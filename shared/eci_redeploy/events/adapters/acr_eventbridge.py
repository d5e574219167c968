"""ACR Enterprise Edition events delivered by EventBridge as CloudEvents 1.0 (source `acs.cr`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ...core.errors import EventError
from ...core.hosts import instance_id_problem, instance_name_problem, region_problem
from ..model import IgnoredEvent, PushEvent
from . import detect
from .base import WireModel, checked_place, checked_tag, lenient_digest, lower_keys, parse_time, validate

NAME = "acr-eventbridge"
PUSH_TYPE = "cr:Artifact:PushCompleted"


class AcrArtifactData(WireModel):
    # Keys arrive lowercased (see `lower_keys`), so the documented PascalCase and any variant both work.
    instanceid: str | None = None
    instancename: str | None = None
    regionid: str | None = None
    reponamespacename: str | None = None
    reponame: str | None = None
    repoid: str | None = None
    tag: str | None = None
    digest: str | None = None

    @field_validator("tag", "digest", "instanceid", "reponame", "reponamespacename", mode="before")
    @classmethod
    def _stringish(cls, v: Any) -> Any:
        return None if v == "" else v


class CloudEvent(WireModel):
    id: str = Field(min_length=1)
    source: str
    type: str
    specversion: str | None = None
    subject: str | None = None
    time: str | None = None
    aliyunregionid: str | None = None
    aliyunaccountid: str | None = None
    data: dict[str, Any] | str | None = None


looks_like = detect.acr_eventbridge


def parse(raw: dict[str, Any]) -> PushEvent | IgnoredEvent:
    event = validate(CloudEvent, raw, source=NAME)
    if event.source != "acs.cr":
        return IgnoredEvent(NAME, event.id, f"event source {event.source} is not acs.cr")
    if event.type != PUSH_TYPE:
        return IgnoredEvent(NAME, event.id, f"event type {event.type} is not a push ({PUSH_TYPE})")
    data_raw = event.data
    if isinstance(data_raw, str):
        import json

        try:
            data_raw = json.loads(data_raw)
        except json.JSONDecodeError:
            raise EventError("data is a string but not JSON", source=NAME, field="data") from None
    if not isinstance(data_raw, dict):
        raise EventError("a push event needs a data object", source=NAME, field="data")
    data = validate(AcrArtifactData, lower_keys(data_raw), source=NAME)
    if not data.reponame or not data.reponamespacename:
        raise EventError("RepoNamespaceName and RepoName are required", source=NAME, field="data")
    region = checked_place(data.regionid or event.aliyunregionid, region_problem, source=NAME, field="data.RegionId")
    instance = checked_place(data.instanceid, instance_id_problem, source=NAME, field="data.InstanceId")
    name = (data.instancename or "").lower()
    name = checked_place(name, instance_name_problem, source=NAME, field="data.InstanceName")
    # The push event's digest key is not documented for every ACR version: without a usable one the
    # tag is deployed (and resolved by the reconcile), never the push dropped.
    digest, warning = lenient_digest(data.digest)
    return PushEvent(
        repository=f"{data.reponamespacename}/{data.reponame}".lower(),
        tag=checked_tag(data.tag, source=NAME),
        digest=digest,
        source=NAME,
        event_id=event.id,
        time=parse_time(event.time, region=region),
        instance_id=instance,
        instance_name=name,
        region=region,
        signed=True,  # EventBridge delivers only what ACR published in this account
        warning=f"data.Digest {warning}: ignored, the tag is deployed" if warning else None,
    )
