"""Planning is pure: (push event, rules, observed container groups, environment) -> Plan.

No I/O happens here; every decision is in the returned steps and skip reasons, so a dry run, a
test and the real apply all see the same thing.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from ..clients.eci_model import ContainerGroup, GroupIndex, ObservedContainer
from ..clients.eci_spec import container_spec
from ..core.errors import ImageReferenceError, PlanningError
from ..core.idempotency import client_token, transition_token
from ..core.imageref import ImageRef, running_ref
from ..core.secrets import Secret
from ..events.model import PushEvent
from ..rules.model import Rule, RuleSet, Selector
from . import batchmark, hints, newer, tracking
from .pull import pull_parameters
from .registry_kinds import RegistryKind, classify, enterprise_host, same_registry
from .steps import Plan, Skip, Step
from .versionguard import check as version_check
from .versionguard import running_tag

ROLLBACK_SOURCE = "rollback"  # eci-redeploy rollback: an explicit, audited downgrade
MUTABLE_STATUSES = frozenset({"Pending", "Running"})
# A group in one of these is mid-change (ours or someone's): touching it again would race.
IN_FLIGHT = frozenset({"Pending", "Updating", "Restarting", "Scheduling"})


def plan_event(
    event: PushEvent,
    rules: RuleSet,
    groups: Iterable[ContainerGroup],
    env: Mapping[str, str],
    *,
    only: str | None = None,
) -> Plan:
    """`only`: plan for this rule alone (a reconcile's wanted image belongs to one rule's policy)."""
    plan = Plan(events=[event])
    candidates = [r for r in rules.for_repository(event.repository) if only is None or r.name == only]
    if not candidates:
        plan.skipped.append(Skip(None, f"no rule watches {event.repository}"))
        return plan
    live = frozenset(r.name for r in rules)  # other rules' records on a group are kept for these
    for rule in candidates:
        reason = skip_reason(rule, event, rules)
        if reason:
            plan.skipped.append(Skip(rule.name, reason))
            continue
        try:
            _plan_rule(plan, event, rule, rules.templates.get(rule.name), groups, env, live)
        except ImageReferenceError as exc:
            raise PlanningError(str(exc), rule=rule.name) from None
    # Each skip names the push it is about (the audit trail: a skip never carries another push's id).
    plan.skipped = [s if s.event_id else dataclasses.replace(s, event_id=event.event_id) for s in plan.skipped]
    return plan


def skip_reason(rule: Rule, event: PushEvent, rules: RuleSet) -> str | None:
    """Why a rule watching the pushed repository does not act on this push (None: it does)."""
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


def _runs_pushed_repository(ref: ImageRef, event: PushEvent, rule: Rule) -> bool:
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


def _token_basis(image: ImageRef, event: PushEvent) -> str:
    # Without a digest the image string does not identify the content: the event must.
    return image.render() if image.digest else f"{image.render()}#{event.event_id}"


def _recorded(group: ContainerGroup) -> str:
    """What the group's tracking tags say it last had applied: part of the state a transition leaves."""
    done = tracking.applied(group.tag_map)
    return f"applied={done.digest or ''}@{done.event_time_ms or ''}/{done.rule or ''}"


def _pushed(event: PushEvent) -> str:
    # The push's time goes into the recorded tags, so it belongs to the transition's target too.
    return f"pushed@{tracking.millis(event.time) or ''}"


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


def _plan_scaling_rule(
    plan: Plan,
    event: PushEvent,
    rule: Rule,
    groups: Iterable[ContainerGroup],
    env: Mapping[str, str],
    live: frozenset[str],
) -> None:
    from .scaling import plan_scaling

    views = groups.scaling if isinstance(groups, GroupIndex) else GroupIndex(groups).scaling
    # The container-group decisions it reuses are handed over, not imported (no import cycle).
    reuse = SimpleNamespace(
        guard=_guard, never=_never_restarts, changes=_changes, plan_update=_plan_update, pulls=PullCache()
    )
    plan_scaling(plan, event, rule, views, env, live, reuse)


def _plan_rule(
    plan: Plan,
    event: PushEvent,
    rule: Rule,
    template: dict[str, Any] | None,
    groups: Iterable[ContainerGroup],
    env: Mapping[str, str],
    live: frozenset[str],
) -> None:
    action = rule.target.action
    if rule.target.scaling_group is not None:
        _plan_scaling_rule(plan, event, rule, groups, env, live)
        return
    if action == "create":
        assert template is not None
        _plan_create(plan, event, rule, template, groups, env)
        return
    assert rule.target.container_groups is not None
    selected = _select(groups, rule.target.container_groups, rule.target.region)
    if not selected:
        plan.skipped.append(Skip(rule.name, hints.no_group(rule)))
        return
    pulls = PullCache()
    for group in selected:
        # A group restarted for this push may still be Restarting: done, not deferred.
        done = _restarted_for(group, event, rule) if action == "restart" else None
        if done is not None:
            plan.skipped.append(Skip(rule.name, f"already restarted for this push ({done})", group.id))
            continue
        owner = owned(group, rule)
        if owner is not None:
            plan.skipped.append(Skip(rule.name, owner, group.id))
            continue
        if batchmark.failed_for(group, rule.name, event):  # a later step found it unhealthy for this push
            reason = "this push failed on the group before (rolled back or reported): not sent again"
            plan.skipped.append(Skip(rule.name, reason, group.id))
            continue
        guard, held = _guard(event, rule, group)
        if guard is None and held and action != "update":  # a restart or a replace moves every container
            why = "; ".join(f"{n}: {r}" for n, r in sorted(held.items()))
            guard = Skip(rule.name, f"{why} ({action} moves the whole group)", group.id)
        if guard is None and action != "replace":
            guard = _never_restarts(rule, group)
        if guard is not None:
            plan.skipped.append(guard)
            continue
        first = len(plan.steps)
        if action == "update":
            _plan_update(plan, event, rule, group, env, pulls, live, held)
        elif action == "restart":
            _plan_restart(plan, event, rule, group, live)
        else:
            assert template is not None
            _plan_replace(plan, event, rule, template, group, env, live)
        _describe_before(plan.steps[first:], event, rule, group)


# Tags by which an ECI instance shows that a controller owns it. ESS tags what it creates with the
# system tag acs:autoscaling:scalingGroupId (clients/ess_model.py). Pods that ACK's virtual nodes run on
# ECI carry ACK's resource tags (ack.aliyun.com / cluster-id.ack.aliyun.com: <cluster id>, and
# k8s.aliyun.com: true, as ACK tags the resources it creates: ACK node pool docs, alibaba-cloud-csi-driver).
ACK_TAGS = ("cluster-id.ack.aliyun.com", "ack.aliyun.com", "ack.alibabacloud.com/cluster-id", "k8s.aliyun.com")


def owned(group: ContainerGroup, rule: Rule) -> str | None:
    """Why a container-group rule must leave this group to the controller that owns it (None: nobody does).
    An update would be reverted: the scaling group's next scale-out or health replacement launches its
    configuration's image, and Kubernetes recreates a pod from its own spec."""
    tags = group.tag_map
    asg = tags.get("acs:autoscaling:scalingGroupId")
    if asg and "scaling-group" not in rule.target.allow_owned:
        return (
            f"belongs to scaling group {asg}: target the scaling group instead (target.scaling_group: {asg}), "
            "or opt in with target.allow_owned: [scaling-group]"
        )
    cluster = next((tags[k] for k in ACK_TAGS if tags.get(k)), None)
    if cluster is not None:
        name = cluster if cluster.lower() != "true" else "an ACK cluster"
        return (
            f"belongs to Kubernetes ({name}, a virtual node's pod): deploy it through its Deployment; "
            "eci-redeploy never updates a pod's instance under Kubernetes"
        )
    return None


def _describe_before(steps: list[Step], event: PushEvent, rule: Rule, group: ContainerGroup) -> None:
    """What the audit trail says the group ran before: its tag (the rule's order) and its name; a
    replace's create (which has no group yet) gets the images it replaces."""
    if not steps:
        return
    before = running_tag(group, event, rule, _runs_pushed_repository)
    for step in steps:
        step.tag_before, step.group_name = before, group.name
        if step.action == "CreateContainerGroup" and not step.previous:
            step.previous = {
                c.name: c.image
                for c in group.containers + group.init_containers
                if c.image and (ref := running_ref(c.image)) is not None and ref.repository == event.repository
            }


def _guard(event: PushEvent, rule: Rule, group: ContainerGroup) -> tuple[Skip | None, dict[str, str]]:
    """Freeze, in-flight rollouts and event order, before anything else is decided for a group; and the
    targeted containers whose own version holds them where they are (the others may move)."""
    tags = group.tag_map
    # A freeze keeps automation away; an operator's rollback (eci-redeploy rollback) is what it is for.
    if tracking.frozen(tags) and event.source != ROLLBACK_SOURCE:
        return Skip(rule.name, f"frozen ({tracking.FREEZE} is set): left as it is", group.id), {}
    if group.status in IN_FLIGHT:
        return Skip(rule.name, f"group is {group.status}: a change is in flight; deferred", group.id, deferred=True), {}
    # The rule's own order first (no downgrade, updates), per targeted container; then planning.newer
    # against the record.
    versions = version_check(event, rule, group, _runs_pushed_repository)
    held = versions.held if versions is not None else {}
    if versions is not None and versions.skip is not None:
        return Skip(rule.name, versions.skip, group.id), held
    return _event_order(event, rule, group, versions is not None and versions.newer), held


def _event_order(event: PushEvent, rule: Rule, group: ContainerGroup, by_order: bool) -> Skip | None:
    """planning.newer against the rule's record on the group. Its first step, the rule's tag order, is
    versionguard's per targeted container (`by_order`: newer for every container that moves; a rule
    with `allow_downgrade` orders by time alone, as newer.order_of says); then the trusted push time."""
    if by_order and newer.order_of(rule) is not None:
        return None
    tags = group.tag_map
    done = tracking.applied(tags, rule.name)  # this rule's record: another rule's push is no reference
    if newer.compare(newer.Seen.of(None, None, event.time), newer.Seen.of(None, None, done.event_time_ms)).older:
        return Skip(
            rule.name,
            f"event of {event.time.isoformat() if event.time else '?'} is older than the one already applied "
            f"({done.digest}): nothing is downgraded",
            group.id,
        )
    return None


# https://www.alibabacloud.com/help/en/eci/developer-reference/api-eci-2018-08-08-updatecontainergroup:
# "Updating an ECI instance with a RestartPolicy of Never may cause containers to fail"; only Pending or
# Running groups can be updated or restarted (ibid., and RestartContainerGroup's page), so a group left
# Failed cannot be rolled back either.
NEVER_RESTARTS = (
    "RestartPolicy is Never: ECI documents that updating such a group may leave its containers failed, and a "
    "Failed group can be neither updated nor rolled back"
)


def _never_restarts(rule: Rule, group: ContainerGroup, way_out: str | None = None) -> Skip | None:
    """A group that never restarts its containers is changed in place only when the rule says so.
    `way_out`: what else moves it (a scaling group's instance: not a replace, its group's next ones)."""
    if group.restart_policy != "Never" or rule.update.restart_policy_never == "in-place":
        return None
    way_out = way_out or "action: replace (a new group from a template)"
    reason = (
        f"{NEVER_RESTARTS}: not {'restarted' if rule.target.action == 'restart' else 'updated'} in place; use "
        f"{way_out}, or update: {{restart_policy_never: in-place}} to change it anyway"
    )
    return Skip(rule.name, reason, group.id)


def _never_note(rule: Rule, group: ContainerGroup) -> tuple[str, ...]:
    if group.restart_policy != "Never":
        return ()
    return (f"{NEVER_RESTARTS}; changed in place as update.restart_policy_never: in-place asks",)


def _verb(action: str, rule: Rule) -> str:
    """A ClientToken's action word: a full resend is another request than an incremental one, so a rule
    switched between the two never reuses a token for a different body (IdempotentParameterMismatch)."""
    return f"{action}-full" if rule.update.containers == "full" else action


def _running_version(ref: ImageRef | None) -> str | None:
    if ref is None:
        return None
    return tracking.version_of(ref.digest, ref.tag)



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
        runs = ref is not None and _runs_pushed_repository(ref, event, rule)
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
    plan: Plan, event: PushEvent, rule: Rule, group: ContainerGroup, env: Mapping[str, str], pulls: PullCache,
    live: frozenset[str], held: Mapping[str, str],
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
    basis = [_token_basis(i, event) for i in changes.new_images]
    before = [*(str(i) for i in changes.old_images), _recorded(group)]
    after = [*basis, _pushed(event)]
    body: dict[str, Any] = {
        "RegionId": rule.target.region,
        "ContainerGroupId": group.id,
        "ClientToken": transition_token(rule.name, _verb("update", rule), group.id, before=before, after=after),
        "UpdateType": "IncrementalUpdate",
        **changes.body,
        **pull.for_update(),
        **({"Tag": tags} if tags is not None else {}),
    }
    rollback: dict[str, Any] | None = _rollback_body(rule, group, changes.back, after, before, pull, back)
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
    before: list[str],
    after: list[str],
    pull: Any,
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    """UpdateContainerGroup back to the images (and tags) the group had before this change. The old
    images are on the same registries as the new ones (an update keeps each container's host), so
    they pull with the same parameters."""
    body: dict[str, Any] = {
        "RegionId": rule.target.region,
        "ContainerGroupId": group.id,
        "ClientToken": transition_token(rule.name, _verb("rollback", rule), group.id, before=before, after=after),
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


def _plan_restart(plan: Plan, event: PushEvent, rule: Rule, group: ContainerGroup, live: frozenset[str]) -> None:
    """A restart changes no image, so only the group's tracking tags can say it already got this push
    (`_restarted_for`, checked in `_plan_rule`): the worker writes them (TagResources, `Step.record`)
    once ECI accepted the restart."""
    if group.status not in MUTABLE_STATUSES:
        plan.skipped.append(
            Skip(rule.name, f"group is {group.status}; it can be restarted only when Pending or Running", group.id)
        )
        return
    record = _restart_record(group, event, rule, live)
    if not record:  # unrecognisable afterwards: every later time slice or redelivery would restart it again
        reason = "no room for the tracking tags a restart is recognised by (ECI allows 20 tags): not restarted"
        plan.skipped.append(Skip(rule.name, reason, group.id))
        return
    basis = event.digest or f"{event.tag}#{event.event_id}"
    after = [event.repository, basis, _pushed(event)]
    body = {
        "RegionId": rule.target.region,
        "ContainerGroupId": group.id,
        "ClientToken": transition_token(rule.name, "restart", group.id, before=[_recorded(group)], after=after),
    }
    image = f"{event.repository}:{event.tag}" if event.tag else event.repository
    plan.steps.append(
        Step(
            rule.name,
            "RestartContainerGroup",
            group.id,
            body,
            image,
            group.id,
            event_id=event.event_id,
            record=record,
            notes=_never_note(rule, group),
        )
    )


def _restarted_for(group: ContainerGroup, event: PushEvent, rule: Rule) -> str | None:
    """The version the rule's record on the group says it was restarted onto, when that is this push: the same
    digest (or one the push names as equivalent), or, for a push without a digest, the same tag pushed
    at the same time. None: not recorded (or another push)."""
    done = tracking.applied(group.tag_map, rule.name)
    if done.digest is None:
        return None
    if event.digest:
        same = any(done.holds(d) for d in (event.digest, *event.equivalent))
    else:  # two digest-less pushes of a tag at the same time cannot be told apart
        same = done.holds(_restart_version(event)) and done.event_time_ms == tracking.millis(event.time)
    return done.digest if same else None


def _restart_version(event: PushEvent) -> str:
    """What a restart records as applied: the digest, else the tag; for a push with neither a digest nor
    a time (a CI call naming `:latest` and its own id) the tag and a hash of the event id, as nothing
    else tells its redelivery from the tag's next push (which must restart again)."""
    version = tracking.version_of(event.digest, event.tag)
    if not event.digest and tracking.millis(event.time) is None:
        version += "#" + hashlib.sha256(event.event_id.encode()).hexdigest()[:12]
    return version[-tracking.MAX_VALUE :]


def _restart_record(group: ContainerGroup, event: PushEvent, rule: Rule, live: frozenset[str]) -> dict[str, str]:
    """The tracking tags a restart leaves (empty: no room). TagResources only adds and overwrites, so a
    key of ours the group has and this record has no value for (no push time: the reconcile; an entry
    of another rule that moved or was dropped) is written empty, which reads as unset
    (tracking.applied), instead of keeping an earlier value; such keys still count against ECI's 20."""
    tags = tracking.record(
        group.tag_map,
        version=_restart_version(event),
        event_time=event.time,
        rule=rule.name,
        previous=tracking.applied(group.tag_map, rule.name).digest,
        tag=event.tag,
        live=live,
    )
    if tags is None:
        return {}
    ours = {t["Key"]: t["Value"] for t in tags if tracking.is_tracking(t["Key"])}
    # An earlier version's over-long key is never written again (its current key is, and wins).
    stale = {
        k: "" for k in group.tag_map if tracking.is_tracking(k) and k not in ours and len(k) <= tracking.MAX_KEY
    }
    if len(set(group.tag_map) | set(ours)) > tracking.MAX_TAGS:
        return {}
    return {**stale, **ours}


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
    body["ClientToken"] = client_token(rule.name, "create", name, *(_token_basis(i, event) for i in changed))
    plan.steps.append(Step(rule.name, "CreateContainerGroup", name, body, changed[0].render(), event_id=event.event_id))


def _running_by_name(group: ContainerGroup) -> dict[str, ImageRef]:
    """The group's images by repository; an unreadable one counts as its repository at no known version."""
    out: dict[str, ImageRef] = {}
    for c in group.containers + group.init_containers:
        ref = running_ref(c.image) if c.image else None
        if ref is not None:
            out[ref.name] = ref
    return out


def _replace_tags(
    template: dict[str, Any], event: PushEvent, rule: Rule, group: ContainerGroup, live: frozenset[str],
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


def _plan_replace(
    plan: Plan, event: PushEvent, rule: Rule, template: dict[str, Any], group: ContainerGroup,
    env: Mapping[str, str], live: frozenset[str],
) -> None:
    if group.status in ("Terminating", "Expired"):
        plan.skipped.append(Skip(rule.name, f"group is {group.status}", group.id))
        return
    notes = [f"successor of {group.id}"]
    recorded = _replace_tags(template, event, rule, group, live, notes)
    body, changed = _create_body(
        template, event, rule, env, group.name or str(template["ContainerGroupName"]), recorded
    )
    running = _running_by_name(group)
    def has(img: ImageRef) -> bool:
        now = running.get(img.name)
        if now is None:
            return False
        return _same_image(now, img, event.equivalent) or _same_content(group, now, img, event, rule)

    if all(has(img) for img in changed):
        plan.skipped.append(Skip(rule.name, f"already running {changed[0]}", group.id))
        return
    basis = [_token_basis(i, event) for i in changed]
    running_before = [ImageRef.parse(c.image) for c in group.containers if c.image and not unparsable(c.image)]
    before = [*(str(r) for r in running_before), _recorded(group)]
    after = [*basis, _pushed(event)]
    create_token = transition_token(rule.name, "replace-create", group.id, before=before, after=after)
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
        "ClientToken": transition_token(rule.name, "replace-delete", group.id, before=before, after=after),
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
