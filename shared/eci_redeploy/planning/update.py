"""`action: update`: UpdateContainerGroup with the pushed image on each targeted container, the
tracking tags, and the request that puts the group back (the rollback).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..clients.eci_model import ContainerGroup, ObservedContainer
from ..clients.eci_spec import container_spec
from ..core.imageref import ImageRef
from ..core.secrets import Secret
from ..events.model import PushEvent
from ..rules.model import Rule
from . import hints, tracking
from .guards import MUTABLE_STATUSES, _never_note, _running_version
from .matching import _new_image, _same_content, _same_image, _targets, unparsable
from .pull import pull_parameters
from .steps import Plan, Skip, Step
from .tokens import Change, image_change, rollback_token, update_token


@dataclass(slots=True)
class _Changes:
    """What an update changes, by API section (Container / InitContainer): the new entries, the
    entries that undo them, and the images on both sides."""

    body: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    back: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    old_images: list[ImageRef] = field(default_factory=list)
    new_images: list[ImageRef] = field(default_factory=list)
    previous: dict[str, str] = field(default_factory=dict)
    targets: list[tuple[str, ImageRef | None]] = field(default_factory=list)
    # Containers whose running image fails the reference grammar, and why: a valid push repairs them.
    broken: dict[str, str] = field(default_factory=dict)

    @property
    def repairs(self) -> bool:
        """The update replaces an invalid reference: going back would send it to ECI again."""
        return bool(set(self.previous) & set(self.broken))


FULL_NOTE = (
    "update.containers: full: each changed container is sent as DescribeContainerGroups shows it (lifecycle "
    "hooks, which it does not show, are not sent)"
)


def _entries(
    observed: ObservedContainer, section: str, new: ImageRef, old_text: str, rule: Rule, notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the container's entry in the update, the entry that puts it back as observed). `update.containers:
    full` sends the whole described spec both ways; incremental sends what changes, and the rollback
    puts back every field the change touched, ImagePullPolicy included."""
    new_text = str(new)
    if rule.update.containers == "full":
        back = container_spec(observed, init=section == "InitContainer", env_value=Secret)
        back["Image"] = old_text
        entry = {**back, "Image": new_text}
        if FULL_NOTE not in notes:
            notes.append(FULL_NOTE)
    else:
        entry, back = {"Name": observed.name, "Image": new_text}, {"Name": observed.name, "Image": old_text}
    if not new.digest and old_text == new_text:
        entry["ImagePullPolicy"] = "Always"  # same tag again: make ECI pull it
        notes.append(
            f"{observed.name}: tag {new.tag} pushed again without a digest; pulling with ImagePullPolicy=Always"
        )
        if observed.image_pull_policy:
            back["ImagePullPolicy"] = observed.image_pull_policy
        else:
            notes.append(f"{observed.name}: its ImagePullPolicy was not observed: a rollback leaves it Always")
    return entry, back


def _changes(
    group: ContainerGroup, event: PushEvent, rule: Rule, pulls: PullCache, notes: list[str], held: Mapping[str, str]
) -> _Changes:
    everyone = group.containers + group.init_containers
    changes = _Changes(broken={c.name: why for c in everyone if (why := unparsable(c.image))})
    written = {c.name: c.image for c in everyone}
    for section, containers in (("Container", group.containers), ("InitContainer", group.init_containers)):
        targets, refused = pulls.targets(tuple((c.name, c.image) for c in containers), event, rule)
        if refused and section == "Container":
            notes.append(f"containers {', '.join(refused)} do not run {event.repository}: left as they are")
        changes.targets.extend(targets)
        for name, running in targets:
            if name in held:
                notes.append(f"{name}: {held[name]}: left as it is")
                continue
            assert running is not None
            new, same = pulls.new_image(running, event, rule)
            if same or _same_content(group, running, new, event, rule):
                continue
            old_text = written[name] if name in changes.broken else str(running)
            if name in changes.broken:
                notes.append(f"{name}: the running image is not a valid reference ({changes.broken[name]}); replaced")
            observed = next(c for c in containers if c.name == name)
            entry, back = _entries(observed, section, new, old_text, rule, notes)
            changes.body.setdefault(section, []).append(entry)
            changes.back.setdefault(section, []).append(back)
            changes.previous[name] = old_text
            changes.old_images.append(running)
            changes.new_images.append(new)
    return changes


def _update_tags(
    group: ContainerGroup, event: PushEvent, rule: Rule, changes: _Changes, notes: list[str], live: frozenset[str]
) -> list[dict[str, str]] | None:
    tags = tracking.record(
        group.tag_map,
        version=tracking.version_of(event.digest, event.tag),
        event_time=event.time,
        rule=rule.name,
        previous=None if changes.repairs else _running_version(changes.old_images[0]),
        tag=event.tag,
        live=live,
    )
    if tags is None:
        notes.append(
            f"the group has no room for the {len(tracking.OURS)} tracking tags (ECI allows 20): "
            "event order cannot be recorded on it"
        )
    if not tracking.records_tag(tags):
        _show_tag(changes, event, notes)  # the version the guard needs goes in the image instead
    return tags


def _tags_both_ways(
    group: ContainerGroup, event: PushEvent, rule: Rule, changes: _Changes, notes: list[str], live: frozenset[str]
) -> tuple[list[dict[str, str]] | None, list[dict[str, str]]]:
    """(the update's Tag list, None without room for the record; the rollback's: back to the tags the
    group had, the keys the update added written empty)."""
    recorded = _update_tags(group, event, rule, changes, notes, live)
    tags = None if recorded is None else request_tags(recorded, group.tag_map, notes)
    updated = {**group.tag_map, **{t["Key"]: t["Value"] for t in tags or []}}
    back = request_tags([{"Key": t.key, "Value": t.value} for t in group.tags], updated, [])
    return tags, back


def _show_tag(changes: _Changes, event: PushEvent, notes: list[str]) -> None:
    """The group has no room to record the pushed tag (ECI's 20 tags): deploy `repo:tag@digest`, so that
    the running image itself tells the next decision its version (the no-downgrade guard and `updates`
    read the image's tag) while the pull stays pinned to the digest (the reference grammar of
    distribution/reference: name [":" tag] ["@" digest]; a digest pins the content whatever the tag)."""
    if not event.tag:
        return
    entries = [e for section in ("Container", "InitContainer") for e in changes.body.get(section, [])]
    for i, (entry, image) in enumerate(zip(entries, changes.new_images, strict=True)):
        if image.digest and not image.tag:
            shown = image.with_version(tag=event.tag, digest=image.digest)
            entry["Image"] = shown.render()
            changes.new_images[i] = shown
            notes.append(
                f"{entry['Name']}: no room on the group to record tag {event.tag} (ECI allows {tracking.MAX_TAGS} "
                f"tags): deployed as {shown.render()} so that its version stays known"
            )


def _plan_update(
    plan: Plan,
    event: PushEvent,
    rule: Rule,
    group: ContainerGroup,
    env: Mapping[str, str],
    pulls: PullCache,
    live: frozenset[str],
    held: Mapping[str, str],
) -> None:
    if group.status not in MUTABLE_STATUSES:
        plan.skipped.append(
            Skip(rule.name, f"group is {group.status}; it can be updated only when Pending or Running", group.id)
        )
        return
    notes: list[str] = list(_never_note(rule, group))
    changes = _changes(group, event, rule, pulls, notes, held)
    if not changes.targets:
        unreadable = "".join(f"; {n}: {why}" for n, why in changes.broken.items())
        plan.skipped.append(Skip(rule.name, hints.no_container(group, event, rule) + unreadable, group.id))
        return
    for name in sorted(set(changes.broken) - {n for n, _ in changes.targets}):
        notes.append(f"{name}: the running image is not a valid reference ({changes.broken[name]}); left as it is")
    if not changes.new_images:
        already = _new_image(changes.targets[0][1], event, rule)  # type: ignore[arg-type]
        plan.skipped.append(Skip(rule.name, f"already running {already}", group.id))
        return
    pull = pulls.get(changes.new_images, rule, event, env)
    notes.extend(_create_only_notes(pull))
    tags, back = _tags_both_ways(group, event, rule, changes, notes, live)  # first: it may show the tag
    body, change = _update_body(group, event, rule, changes, pull, tags)
    rollback: dict[str, Any] | None = _rollback_body(rule, group, changes.back, change, pull, back)
    if changes.repairs:
        # Going back would send the invalid reference to ECI again: a failed repair stays failed.
        rollback = None
        notes.append("no rollback: the image it replaces is not a valid reference")
    plan.steps.append(
        Step(
            rule.name,
            "UpdateContainerGroup",
            group.id,
            body,
            changes.new_images[0].render(),
            group.id,
            notes=tuple(notes),
            rollback=rollback,
            previous=changes.previous,
            network=_network(group),
            cache_pull=pull.for_cache(),
            event_id=event.event_id,
        )
    )


def _update_body(
    group: ContainerGroup,
    event: PushEvent,
    rule: Rule,
    changes: _Changes,
    pull: Any,
    tags: list[dict[str, str]] | None,
) -> tuple[dict[str, Any], Change]:
    """UpdateContainerGroup's request, and its token's inputs (the rollback's too)."""
    change = image_change(group, changes.old_images, changes.new_images, event)
    body: dict[str, Any] = {
        "RegionId": rule.target.region,
        "ContainerGroupId": group.id,
        "ClientToken": update_token(rule, group, change),
        "UpdateType": "IncrementalUpdate",
        **changes.body,
        **pull.for_update(),
        **({"Tag": tags} if tags is not None else {}),
    }
    return body, change


class PullCache:
    """pull_parameters per registry set and container targets per container list, for the many groups
    of one plan that look alike. Lives for one plan only: it may hold passwords."""

    def __init__(self) -> None:
        self._entries: dict[tuple[Any, ...], Any] = {}
        self._targets: dict[tuple[Any, ...], Any] = {}
        self._images: dict[tuple[Any, ...], Any] = {}

    def new_image(self, running: ImageRef, event: PushEvent, rule: Rule) -> tuple[ImageRef, bool]:
        """(the image to deploy in place of `running`, whether `running` already is it)."""
        key = (rule.name, event.event_id, running)
        if key not in self._images:
            new = _new_image(running, event, rule)
            self._images[key] = (new, _same_image(running, new, event.equivalent))
        return self._images[key]  # type: ignore[no-any-return]

    def targets(
        self, containers: tuple[tuple[str, str], ...], event: PushEvent, rule: Rule
    ) -> tuple[list[tuple[str, ImageRef | None]], list[str]]:
        """_targets, once per distinct container list: the groups of one rollout usually share it."""
        key = (rule.name, event.event_id, containers)
        if key not in self._targets:
            self._targets[key] = _targets(containers, event, rule)
        return self._targets[key]  # type: ignore[no-any-return]

    def get(self, images: list[ImageRef], rule: Rule, event: PushEvent | None, env: Mapping[str, str]) -> Any:
        key = (
            rule.name,
            tuple((i.registry, i.repository, i.written_domain) for i in images),
            (event.instance_id, event.instance_name, event.region) if event else None,
        )
        if key not in self._entries:
            self._entries[key] = pull_parameters(images, rule, event, env)
        return self._entries[key]


def _network(group: ContainerGroup) -> dict[str, str]:
    extra = group.model_extra or {}
    return {k: str(extra[k]) for k in ("SecurityGroupId", "VSwitchId") if extra.get(k)}


def _rollback_body(
    rule: Rule,
    group: ContainerGroup,
    containers: dict[str, list[dict[str, Any]]],
    change: Change,
    pull: Any,
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    """UpdateContainerGroup back to the images (and tags) the group had before this change. The old
    images are on the same registries as the new ones (an update keeps each container's host), so
    they pull with the same parameters."""
    body: dict[str, Any] = {
        "RegionId": rule.target.region,
        "ContainerGroupId": group.id,
        "ClientToken": rollback_token(rule, group, change),
        "UpdateType": "IncrementalUpdate",
        **containers,
        **pull.for_update(),
    }
    if tags:
        body["Tag"] = tags
    return body


def _create_only_notes(pull: Any) -> list[str]:
    if not pull.create_only:
        return []
    return [
        f"{' and '.join(pull.create_only)} cannot be changed by UpdateContainerGroup (left off): the "
        "group keeps what it was created with (use action: replace to move it)"
    ]


def request_tags(tags: list[dict[str, str]], before: Mapping[str, str], notes: list[str]) -> list[dict[str, str]]:
    """`tags` as a request may carry them (tracking.for_request): our keys the group has and `tags`
    no longer sets are written empty; what cannot be sent is said in the step's notes."""
    keys = {t["Key"] for t in tags}
    sent = tracking.for_request(tags, before, [k for k in before if tracking.is_tracking(k) and k not in keys])
    for key, why in sent.left_out.items():
        notes.append(f"tag {key} is not sent ({why}): ECI keeps it if Tag.N merges, drops it if Tag.N replaces")
    return sent.tags
