"""What keeps a group where it is before any action is planned: a freeze, a change in flight, a
controller that owns it (ESS, Kubernetes), the rule's order and the push time against its record,
and a RestartPolicy of Never.
"""

from __future__ import annotations

from ..clients.eci_model import ContainerGroup
from ..core.imageref import ImageRef
from ..events.model import PushEvent
from ..rules.model import Rule
from . import newer, tracking
from .matching import runs_pushed_repository
from .steps import Skip
from .versionguard import check as version_check

ROLLBACK_SOURCE = "rollback"  # eci-redeploy rollback: an explicit, audited downgrade


MUTABLE_STATUSES = frozenset({"Pending", "Running"})


# A group in one of these is mid-change (ours or someone's): touching it again would race.
IN_FLIGHT = frozenset({"Pending", "Updating", "Restarting", "Scheduling"})


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
    versions = version_check(event, rule, group, runs_pushed_repository)
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


def _running_version(ref: ImageRef | None) -> str | None:
    if ref is None:
        return None
    return tracking.version_of(ref.digest, ref.tag)
