"""Which rules, groups and containers a push concerns: the registry a rule watches, the host a push came
from, the groups a selector picks, the containers that run the pushed repository, and whether one
already runs the pushed image. Pure; shared by every action and by operations/.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..clients.eci_model import ContainerGroup, GroupIndex
from ..core.errors import ImageReferenceError
from ..core.imageref import ImageRef, running_ref
from ..events.model import PushEvent
from ..rules.model import Rule, RuleSet, Selector
from . import tracking
from .registry_kinds import RegistryKind, classify, same_registry
from .steps import RECOVERY_SOURCE


def skip_reason(rule: Rule, event: PushEvent, rules: RuleSet) -> str | None:
    """Why a rule watching the pushed repository does not act on this push (None: it does)."""
    if event.source == RECOVERY_SOURCE:  # no image to judge: only the rule's scaling group to put back
        return None if rule.name == event.only_rule and rule.target.scaling_group else "not the rule recovered"
    return registry_mismatch(rule, event) or rules.policy(rule).decide(event.tag)


def registry_mismatch(rule: Rule, event: PushEvent) -> str | None:
    wanted = rule.source.registry
    if not wanted:
        return None
    if wanted.startswith("cri-"):
        if event.instance_id == wanted:
            return None
        if event.instance_id is None and event.source == "acr-webhook":
            return None  # ACR webhooks do not name the instance: the rule does
        acr = rule.pull.acr
        if event.instance_id is None and event.registry_host and acr and acr.instance_id == wanted:
            info = classify(ImageRef(event.registry_host, event.repository), acr_domains=acr.domains)
            if info.custom_domain or (info.instance_name and info.instance_name == (acr.instance_name or "").lower()):
                return None  # a host the rule's ACR settings name as this instance
        return f"pushed to {event.instance_id or event.registry_host or 'another registry'}, rule watches {wanted}"
    if event_host_matches(event, wanted):
        return None
    return f"pushed to {event.registry_host or event.instance_id or event.region}, rule watches {wanted}"


def event_host_matches(event: PushEvent, host: str) -> bool:
    """Whether an image on `host` is the repository this event's push updated."""
    if event.registry_host:
        return same_registry(event.registry_host, host)
    info = classify(ImageRef(host, event.repository))
    if event.instance_name:
        return info.kind is RegistryKind.ACR_ENTERPRISE and info.instance_name == event.instance_name
    if event.region:
        acr = info.kind in (RegistryKind.ACR_ENTERPRISE, RegistryKind.ACR_PERSONAL)
        return acr and info.region == event.region
    return True


def runs_pushed_repository(ref: ImageRef, event: PushEvent, rule: Rule) -> bool:
    if ref.repository != event.repository:
        return False
    if ref.registry in (rule.pull.acr.domains if rule.pull.acr else ()):
        return event.instance_id in (None, rule.pull.acr.instance_id if rule.pull.acr else None)
    return event_host_matches(event, ref.registry)


def _new_image(current: ImageRef, event: PushEvent, rule: Rule) -> ImageRef:
    if rule.pull.digest and event.digest:
        return current.with_version(tag=None, digest=event.digest)
    return current.with_version(tag=event.tag, digest=None)


def _same_image(running: ImageRef, wanted: ImageRef, equivalent: frozenset[str] = frozenset()) -> bool:
    if running.name != wanted.name:
        return False
    if wanted.digest:
        return running.digest == wanted.digest or running.digest in equivalent
    return False  # a tag pushed again may hold new content: never "already running"


def _same_content(group: ContainerGroup, running: ImageRef, wanted: ImageRef, event: PushEvent, rule: Rule) -> bool:
    """A tag deploy (`pull.digest: false`) of content the group already got: the push names a digest,
    and that digest is what was recorded when this same tag was last applied. Without it every
    redelivery of a push would update the group again."""
    if wanted.digest or running.digest or not event.digest or running.tag != wanted.tag:
        return False
    recorded = tracking.applied(group.tag_map, rule.name).digest
    return recorded is not None and recorded in {event.digest, *event.equivalent}


def _select(groups: Iterable[ContainerGroup], selector: Selector, region: str) -> list[ContainerGroup]:
    if isinstance(groups, GroupIndex):  # narrow first, then apply the same checks below
        if selector.ids is not None:
            groups = [groups.by_id[i] for i in selector.ids if i in groups.by_id]
        elif selector.name is not None:
            groups = groups.named(selector.name)
        elif selector.tags is not None:
            groups = groups.with_tags(selector.tags)
    out = []
    for g in groups:
        if g.region and g.region != region:
            continue
        if selector.ids is not None and g.id not in selector.ids:
            continue
        if selector.name is not None and g.name != selector.name:
            continue
        if selector.tags is not None:
            tags = g.tag_map
            if any(tags.get(k) != v for k, v in selector.tags.items()):
                continue
        out.append(g)
    return out


def unparsable(image: str | None) -> str | None:
    """Why a running image fails the reference grammar (None: it parses, or there is none)."""
    if not image:
        return None
    try:
        ImageRef.parse(image)
    except ImageReferenceError as exc:
        return str(exc)
    return None


def _targets(
    containers: Sequence[tuple[str, str | None]], event: PushEvent, rule: Rule
) -> tuple[list[tuple[str, ImageRef | None]], list[str]]:
    """(container name, running image) pairs the push applies to, and names the rule asked for but cannot."""
    wanted = set(rule.target.containers or ())
    out: list[tuple[str, ImageRef | None]] = []
    refused: list[str] = []
    for name, image in containers:
        ref = running_ref(image) if image else None
        if image and ref is None:  # unreadable even as a name: cannot be ours to change
            if name in wanted:
                refused.append(name)
            continue
        runs = ref is not None and runs_pushed_repository(ref, event, rule)
        if wanted:
            if name in wanted:
                if ref is None or runs:
                    out.append((name, ref))
                else:
                    refused.append(name)
        elif runs:
            out.append((name, ref))
    if not wanted:
        return out, refused
    missing = sorted(wanted - {n for n, _ in containers})
    return out, refused + missing


def _running_by_name(group: ContainerGroup) -> dict[str, ImageRef]:
    """The group's images by repository; an unreadable one counts as its repository at no known version."""
    out: dict[str, ImageRef] = {}
    for c in group.containers + group.init_containers:
        ref = running_ref(c.image) if c.image else None
        if ref is not None:
            out[ref.name] = ref
    return out
