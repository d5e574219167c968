"""Image-cache pre-warming: before a rule's changes go out, make sure an ECI image cache holds the new
image (reuse a Ready one, else CreateImageCache with the same pull parameters), wait for it (bounded),
then create groups from it with `ImageSnapshotId`. A cache that is not ready in time, or fails, is
reported and the deploy goes on without it.

UpdateContainerGroup cannot name an image cache: for updates the cache still proves the image pulls
and speeds up every later create, and the report says so.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..clients.eci import EciGateway
from ..core.errors import EciApiError
from ..core.log import log_event
from ..planning.steps import Step
from ..planning.tokens import cached_create_token, image_cache_name, prewarm_token
from ..rules.model import Prewarm
from .clock import Clock

PULL_KEYS = ("AcrRegistryInfo", "ImageRegistryCredential", "PlainHttpRegistry", "InsecureRegistry")


@dataclass
class CacheResult:
    image: str
    status: str  # reused | ready | timeout | failed | skipped
    cache_id: str | None = None
    snapshot_id: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"image": self.image, "status": self.status}
        if self.cache_id:
            out["id"] = self.cache_id
        if self.detail:
            out["detail"] = self.detail
        return out


def _images(step: Step) -> list[str]:
    return [
        c["Image"]
        for section in ("Container", "InitContainer")
        for c in step.body.get(section) or []
        if c.get("Image") == step.image
    ]


def _network(step: Step, settings: Prewarm) -> tuple[str | None, str | None]:
    security = settings.security_group_id or step.body.get("SecurityGroupId") or step.network.get("SecurityGroupId")
    vswitch = settings.vswitch_id or step.body.get("VSwitchId") or step.network.get("VSwitchId")
    return security, vswitch


def warm(step: Step, gateway: EciGateway, settings: Prewarm, clock: Clock) -> CacheResult:
    region, image = step.region, step.image
    try:
        found = gateway.call("DescribeImageCaches", {"RegionId": region, "Image": image}).body
        for existing in found.get("ImageCaches") or []:
            if existing.get("Status") == "Ready" and image in (existing.get("Images") or []):
                return CacheResult(image, "reused", existing.get("ImageCacheId"), existing.get("SnapshotId"))
        security, vswitch = _network(step, settings)
        if not security or not vswitch:
            return CacheResult(
                image,
                "skipped",
                detail="needs a security group and vSwitch: set pull.prewarm.security_group_id / vswitch_id",
            )
        body: dict[str, Any] = {
            "RegionId": region,
            "ImageCacheName": image_cache_name(image),
            "Image": [image],
            "ImageCacheSize": settings.size_gb,
            "SecurityGroupId": security,
            "VSwitchId": vswitch.split(",")[0],
            "ClientToken": prewarm_token(region, image),
            # an update cannot carry every pull parameter a cache needs: the plan kept them aside
            **{k: copy.deepcopy(v) for k, v in (step.cache_pull or step.body).items() if k in PULL_KEYS},
        }
        if settings.retention_days:
            body["RetentionDays"] = settings.retention_days
        cache_id = gateway.call("CreateImageCache", body, target=image).body.get("ImageCacheId")
    except EciApiError as exc:
        return CacheResult(image, "failed", detail=exc.one_line())
    deadline = clock.now() + settings.timeout_seconds
    while True:
        try:
            caches = gateway.call("DescribeImageCaches", {"RegionId": region, "ImageCacheId": cache_id}).body
        except EciApiError as exc:
            return CacheResult(image, "failed", cache_id, detail=exc.one_line())
        cache: dict[str, Any] = next(iter(caches.get("ImageCaches") or []), {})
        status = cache.get("Status")
        if status == "Ready":
            return CacheResult(image, "ready", cache_id, cache.get("SnapshotId"))
        if status == "Failed":
            events = "; ".join(str(e.get("Message")) for e in cache.get("Events") or [] if isinstance(e, dict))
            return CacheResult(image, "failed", cache_id, detail=events or "the image cache failed")
        if clock.now() + settings.poll_seconds > deadline:
            return CacheResult(
                image, "timeout", cache_id, detail=f"not ready after {settings.timeout_seconds} s: deployed without it"
            )
        clock.sleep(settings.poll_seconds)


def apply_cache(step: Step, result: CacheResult) -> Step:
    """The step as it goes out once the cache is known: creates name the cache; updates just note it."""
    note = f"image cache {result.cache_id or '-'}: {result.status}" + (f" ({result.detail})" if result.detail else "")
    if result.status not in ("ready", "reused") or step.action != "CreateContainerGroup":
        if step.action == "UpdateContainerGroup" and result.status in ("ready", "reused"):
            note += "; UpdateContainerGroup cannot name a cache, later creates will use it"
        return dataclasses.replace(step, notes=(*step.notes, note))
    body = dict(step.body)
    body.pop("AutoMatchImageCache", None)
    body["ImageSnapshotId"] = result.snapshot_id or result.cache_id
    # A different request needs its own token: the same token with other parameters is refused.
    body["ClientToken"] = cached_create_token(step.body.get("ClientToken"), body["ImageSnapshotId"])
    return dataclasses.replace(step, body=body, notes=(*step.notes, note))


def prewarm_units(
    units: Sequence[list[Step]], gateway: EciGateway, settings: Prewarm, clock: Clock
) -> tuple[list[list[Step]], list[CacheResult]]:
    results: dict[tuple[str, str], CacheResult] = {}
    out: list[list[Step]] = []
    for unit in units:
        first = unit[0]
        if first.action not in ("CreateContainerGroup", "UpdateContainerGroup") or not first.image:
            out.append(unit)
            continue
        key = (first.region, first.image)
        if key not in results:
            results[key] = warm(first, gateway, settings, clock)
            log_event("prewarm", rule=first.rule, **results[key].to_json())
        new_first = apply_cache(first, results[key])
        # a replace's delete requires the create by token: keep the link
        rest = [
            dataclasses.replace(s, requires=new_first.client_token) if s.requires == first.client_token else s
            for s in unit[1:]
        ]
        out.append([new_first, *rest])
    return out, list(results.values())
