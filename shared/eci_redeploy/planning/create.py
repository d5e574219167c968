"""`action: create`: CreateContainerGroup from the rule's template with the pushed image on it."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from ..clients.eci_model import ContainerGroup, GroupIndex
from ..core.errors import PlanningError
from ..core.imageref import ImageRef
from ..events.model import PushEvent
from ..rules.model import Rule
from . import tracking
from .matching import _new_image, _running_by_name, _same_image, _targets
from .pull import pull_parameters
from .registry_kinds import enterprise_host
from .steps import Plan, Skip, Step
from .tokens import create_token


def _event_image(event: PushEvent, rule: Rule) -> ImageRef:
    """The pushed image on the host ECI should pull it from, for a template container with no image."""
    host = event.registry_host
    if host is None and rule.pull.acr and rule.pull.acr.domains:
        host = rule.pull.acr.domains[0]
    if host is None and event.instance_name and event.region:
        host = enterprise_host(event.instance_name, event.region, vpc=True)
    if host is None:
        raise PlanningError(
            "the template container has no Image and the event does not name the registry: set its Image",
            rule=rule.name,
        )
    return ImageRef.parse(f"{host}/{event.repository}")


def _overlay(
    template: dict[str, Any], event: PushEvent, rule: Rule
) -> tuple[dict[str, Any], list[ImageRef], list[ImageRef]]:
    """The template with the pushed image on its target containers: (body, changed images, all images)."""
    body = copy.deepcopy(template)
    changed: list[ImageRef] = []
    every: list[ImageRef] = []
    for section in ("Container", "InitContainer"):
        items = body.get(section) or []
        targets, _ = _targets([(c["Name"], c.get("Image")) for c in items], event, rule)
        target_names = {name: ref for name, ref in targets}
        for item in items:
            if item["Name"] in target_names:
                base = target_names[item["Name"]] or _event_image(event, rule)
                new = _new_image(base, event, rule)
                item["Image"] = new.render()
                changed.append(new)
            if item.get("Image"):
                every.append(ImageRef.parse(item["Image"]))
    if not changed:
        raise PlanningError(
            f"the template has no container running {event.repository}: name one under target.containers",
            rule=rule.name,
        )
    return body, changed, every


def _create_body(
    template: dict[str, Any],
    event: PushEvent,
    rule: Rule,
    env: Mapping[str, str],
    name: str,
    tags: list[dict[str, str]],
) -> tuple[dict[str, Any], list[ImageRef]]:
    body, changed, every = _overlay(template, event, rule)
    pull = pull_parameters(every, rule, event, env)
    body["RegionId"] = rule.target.region
    body["ContainerGroupName"] = name
    if tags:
        body["Tag"] = tags
    for key, value in pull.for_create().items():
        if key in ("AcrRegistryInfo", "ImageRegistryCredential"):
            body[key] = list(body.get(key) or []) + value
        else:
            body.setdefault(key, value)
    return body, changed


def _template_tags(template: dict[str, Any], rule: Rule) -> dict[str, str]:
    """The template's tags; one ECI refuses in CreateContainerGroup is a planning error naming it."""
    tags = {t["Key"]: t["Value"] for t in template.get("Tag") or []}
    for key in tags:
        if tracking.is_system(key) or len(key) > tracking.MAX_KEY:
            raise PlanningError(
                f"the template's tag {key!r} cannot be sent to ECI (keys are at most {tracking.MAX_KEY} "
                "characters and cannot start with acs: or aliyun)",
                rule=rule.name,
            )
    return tags


def _plan_create(
    plan: Plan,
    event: PushEvent,
    rule: Rule,
    template: dict[str, Any],
    groups: Iterable[ContainerGroup],
    env: Mapping[str, str],
) -> None:
    name = str(template["ContainerGroupName"])
    template_tags = _template_tags(template, rule)
    version = tracking.version_of(event.digest if rule.pull.digest else None, event.tag)
    tags = tracking.record(
        template_tags, version=version, event_time=event.time, rule=rule.name, previous=None, tag=event.tag
    )
    if tags is None:
        raise PlanningError(
            "the template has more tags than ECI allows with eci-redeploy's tracking tags (20)", rule=rule.name
        )
    body, changed = _create_body(template, event, rule, env, name, tags)
    named = groups.named(name) if isinstance(groups, GroupIndex) else [g for g in groups if g.name == name]
    existing = [g for g in named if not g.region or g.region == rule.target.region]
    for group in existing:
        running = _running_by_name(group)
        if all(img.name in running and _same_image(running[img.name], img, event.equivalent) for img in changed):
            plan.skipped.append(Skip(rule.name, f"group {group.id} named {name} already runs {changed[0]}", group.id))
            return
    body["ClientToken"] = create_token(rule, name, changed, event)
    plan.steps.append(Step(rule.name, "CreateContainerGroup", name, body, changed[0].render(), event_id=event.event_id))
