"""`action: replace`: a successor group from the template (CreateContainerGroup), then the old group
deleted once the successor exists (DeleteContainerGroup).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..core.errors import PlanningError
from ..core.imageref import ImageRef
from ..events.model import PushEvent
from ..rules.model import Rule
from . import tracking
from .create import _create_body, _template_tags
from .guards import _running_version
from .matching import _running_by_name, _same_content, _same_image, unparsable
from .steps import Plan, Skip, Step
from .tokens import image_change, replace_create_token, replace_delete_token
from .update import request_tags


def _replace_tags(
    template: dict[str, Any],
    event: PushEvent,
    rule: Rule,
    group: ContainerGroup,
    live: frozenset[str],
    notes: list[str],
) -> list[Any]:
    tags = _template_tags(template, rule)
    # The successor keeps the old group's tags so that the rule's selector still finds it; not its
    # system tags (ECI adds those to the successor itself and refuses them in a request).
    merged = {**group.tag_map, **tags}
    running_before = [ImageRef.parse(c.image) for c in group.containers if c.image and not unparsable(c.image)]
    repo_before = [r for r in running_before if r.repository == event.repository]
    recorded = tracking.record(
        merged,
        version=tracking.version_of(event.digest, event.tag),
        event_time=event.time,
        rule=rule.name,
        previous=_running_version(repo_before[0] if repo_before else None),
        tag=event.tag,
        live=live,
    )
    if recorded is None:
        raise PlanningError(
            f"group {group.id} and the template have too many tags to add tracking tags (20)", rule=rule.name
        )
    return request_tags(recorded, {}, notes)


def _runs_all(group: ContainerGroup, changed: list[ImageRef], event: PushEvent, rule: Rule) -> bool:
    """Whether the group already runs every image the successor would (nothing to replace)."""
    running = _running_by_name(group)

    def has(img: ImageRef) -> bool:
        now = running.get(img.name)
        if now is None:
            return False
        return _same_image(now, img, event.equivalent) or _same_content(group, now, img, event, rule)

    return all(has(img) for img in changed)


def _plan_replace(
    plan: Plan,
    event: PushEvent,
    rule: Rule,
    template: dict[str, Any],
    group: ContainerGroup,
    env: Mapping[str, str],
    live: frozenset[str],
) -> None:
    if group.status in ("Terminating", "Expired"):
        plan.skipped.append(Skip(rule.name, f"group is {group.status}", group.id))
        return
    notes = [f"successor of {group.id}"]
    recorded = _replace_tags(template, event, rule, group, live, notes)
    body, changed = _create_body(
        template, event, rule, env, group.name or str(template["ContainerGroupName"]), recorded
    )
    if _runs_all(group, changed, event, rule):
        plan.skipped.append(Skip(rule.name, f"already running {changed[0]}", group.id))
        return
    running_before = [ImageRef.parse(c.image) for c in group.containers if c.image and not unparsable(c.image)]
    change = image_change(group, running_before, changed, event)
    create_token = replace_create_token(rule, group, change)
    body["ClientToken"] = create_token
    image = changed[0].render()
    plan.steps.append(
        Step(
            rule.name,
            "CreateContainerGroup",
            body["ContainerGroupName"],
            body,
            image,
            notes=tuple(notes),
            event_id=event.event_id,
        )
    )
    delete = {
        "RegionId": rule.target.region,
        "ContainerGroupId": group.id,
        "ClientToken": replace_delete_token(rule, group, change),
    }
    plan.steps.append(
        Step(
            rule.name,
            "DeleteContainerGroup",
            group.id,
            delete,
            image,
            group.id,
            requires=create_token,
            notes=("deleted only after its successor was created",),
            event_id=event.event_id,
        )
    )
