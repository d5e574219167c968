"""`eci-redeploy rollback RULE (--previous | --to TAG) [--freeze]`: an explicit, audited downgrade.

The rollback is a push of the older version, planned for this rule alone (`PushEvent.only_rule`)
with the source `rollback` (planning.planner.ROLLBACK_SOURCE): the no-downgrade guard lets it down,
a freeze does not stop it, and everything else is as for any push: the single writer applies it
(pipeline.run_serialised) with the rule's rollout (batches, health waits, rollback on failure), the
audit trail names it, the rules' channels are told. `--freeze` then sets `eci-redeploy.freeze` on the
rule's groups, so that neither the next reconcile nor a push moves them up again until `unfreeze`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..clients.eci import EciGateway, tag_calls
from ..clients.eci_model import ContainerGroup
from ..clients.registry_api import RegistryClient
from ..core.errors import InputError
from ..events.model import PushEvent
from ..execution.executor import APPLY, Executor
from ..planning import tracking
from ..planning.planner import ROLLBACK_SOURCE, runs_pushed_repository
from ..planning.versionguard import running_tag
from ..rules.model import Rule, RuleSet
from .reconcile import DEFAULT_PLATFORM, _observe_rule


def rule_groups(gateway: EciGateway, rule: Rule, rules: RuleSet) -> list[ContainerGroup]:
    from ..execution.apply import observe

    return _observe_rule(gateway, rule, rules, observe)


def previous_tag(rule: Rule, rules: RuleSet, groups: list[ContainerGroup], client: RegistryClient) -> str:
    """The version before the one running: with an ordered policy, the highest allowed tag in the
    registry below the highest one the groups run; otherwise the rule's record of what ran before."""
    policy = rules.policy(rule)
    probe = PushEvent(rule.source.repository, None, None, ROLLBACK_SOURCE, "probe")
    running = [t for g in groups if (t := running_tag(g, probe, rule, runs_pushed_repository))]
    if policy.ordered:
        tags = client.list_tags(rule.source.repository)
        running = running or _tags_of_digests(rule, groups, client, [t for t in tags if policy.allows(t)])
        keyed = [(k, t) for t in running if (k := policy.order_key(t)) is not None]
        if not keyed:
            runs = ", ".join(running) or "unknown"
            message = f"the version the groups run ({runs}) is not in the rule's order: use --to TAG"
            raise InputError(message, source="--previous")
        top = max(keyed)[0]
        below = [(k, t) for t in tags if policy.allows(t) and (k := policy.order_key(t)) is not None and k < top]
        if not below:
            raise InputError(f"no allowed tag in the registry is below {max(keyed)[1]}", source="--previous")
        return max(below)[1]
    for group in groups:
        before = group.tag_map.get(tracking.PREVIOUS) if tracking.applied(group.tag_map).rule == rule.name else None
        if before and before.startswith(":"):
            return before[1:]
    raise InputError("the groups' records do not name the previous tag: use --to TAG", source="--previous")


def _tags_of_digests(rule: Rule, groups: list[ContainerGroup], client: RegistryClient, allowed: list[str]) -> list[str]:
    """Groups deployed by digest without a record of the tag: which allowed tag is that digest now
    (one HEAD per tag, within the registry client's request budget)."""
    from ..core.imageref import running_ref

    digests = {
        ref.digest
        for g in groups
        for c in g.containers + g.init_containers
        if c.image and (ref := running_ref(c.image)) is not None and ref.repository == rule.source.repository
    } - {None}
    found = []
    for tag in allowed if digests else []:
        resolved = client.resolve(rule.source.repository, tag, DEFAULT_PLATFORM)
        if {resolved.digest, resolved.index_digest} & digests:
            found.append(tag)
    return found


def rollback_event(
    rule: Rule, rules: RuleSet, client: RegistryClient, tag: str, *, now: datetime | None = None
) -> PushEvent:
    """The push of `tag` that carries the rollback, with the digest the registry gives for it."""
    why = rules.policy(rule).decide(tag)
    if why is not None:
        raise InputError(f"rule {rule.name} does not deploy {tag}: {why}", source="--to")
    resolved = client.resolve(rule.source.repository, tag, DEFAULT_PLATFORM)
    when = now or datetime.now(timezone.utc)
    # Named as the rule's registry names it: an ACR EE instance by its id (as gates.flow.replay_event
    # does: the groups may pull from its VPC or custom domain), any other registry by its host.
    acr = rule.pull.acr
    source = rule.source.registry or ""
    instance = source if source.startswith("cri-") else (acr.instance_id if acr and not source else None)
    return PushEvent(
        rule.source.repository,
        resolved.tag,
        resolved.digest,
        ROLLBACK_SOURCE,
        f"rollback:{rule.name}:{resolved.digest}:{tracking.millis(when)}",
        time=when,  # newer than what runs: the event-time guard lets it through, the record says when
        registry_host=None if instance else client.host,
        instance_id=instance,
        instance_name=(acr.instance_name or None) if instance and acr else None,
        region=(acr.region or rule.target.region) if instance and acr else None,
        signed=True,
        only_rule=rule.name,
        equivalent=frozenset(d for d in (resolved.index_digest,) if d and d != resolved.digest),
    )


def run_rollback(
    event: PushEvent, rules: RuleSet, gateway: EciGateway, env: Mapping[str, str], executor: Executor = APPLY
) -> Any:
    """Through the single writer (as `invoke`, `serve` and the worker apply), or shown for a dry run.
    Not gated: the gates hold new images on their way in (a soak would hold a rollback as a fresh push,
    an approval would wait on the person rolling back); going back to a version of the operator's
    choosing is the operator's decision, made with the CLI's credentials and audited as a rollback."""
    from ..pipeline import run, run_serialised
    from ..rules.gates import Gates

    ungated = [r.model_copy(update={"gates": Gates()}) if r.name == event.only_rule else r for r in rules]
    rules = RuleSet(ungated, rules.templates, rules.path, rules.notify, rules.gates)
    if not executor.applies:
        return run([event], rules, gateway, env, executor=executor)
    return run_serialised([event], rules, gateway, env)


def set_freeze(gateway: EciGateway, rule: Rule, groups: list[ContainerGroup], value: str | None) -> list[str]:
    """Freeze (value) or unfreeze (None) the rule's groups; returns the groups changed. Raises the
    first ECI error (the operator runs it again). A scaling-group rule's freeze is a tag on the scaling
    group (ESS TagResources): that is what its planning reads, and its instances are the group's."""
    if rule.target.scaling_group is not None:
        return _freeze_scaling(gateway, rule, groups, value)
    ids = sorted(g.id for g in groups)
    if not ids:
        return []
    if value is None:
        what: dict[str, Any] = {"TagKey": [tracking.FREEZE]}
        action = "UntagResources"
    else:
        what, action = {"Tag": [{"Key": tracking.FREEZE, "Value": value[: tracking.MAX_VALUE]}]}, "TagResources"
    failed = tag_calls(gateway, action, rule.target.region, ids, what)
    if failed:
        raise failed[0][1]
    return ids


def _freeze_scaling(gateway: EciGateway, rule: Rule, observed: list[Any], value: str | None) -> list[str]:
    from ..clients.ess import ess_for

    ids = sorted(v.id for v in observed if getattr(v, "is_scaling_view", False))
    if not ids:
        return []
    body: dict[str, Any] = {"RegionId": rule.target.region, "ResourceType": "scalinggroup", "ResourceIds": ids}
    if value is None:
        ess_for(gateway).call("UntagResources", {**body, "TagKeys": [tracking.FREEZE]})
    else:
        tag = {"Key": tracking.FREEZE, "Value": value[: tracking.MAX_VALUE]}
        ess_for(gateway).call("TagResources", {**body, "Tags": [tag]})
    return ids
