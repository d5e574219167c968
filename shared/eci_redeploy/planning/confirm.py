"""What a token-authenticated push says is a claim: ask the registry what the tag really is.

Every push the webhook takes with the shared token (ACR, Distribution, Harbor, Docker Hub, Quay,
GitHub payloads alike; the token sits in registry settings and URLs) is confirmed with one HEAD of the
tag's manifest, on a registry host the rules or the observed groups name (never one a payload chose):

- the tag points at the claimed digest (or its index): deployed, and marked confirmed;
- no digest was claimed: the registry's is filled in;
- the tag points elsewhere, or does not exist: asked again after 0.25, 0.5 and 1 s (`SETTLE`), since a
  registry may notify before it has linked the tag (Distribution sends the manifest's event from its
  Put, and its handler links the tag after; caught by tests/system/test_registry_e2e.py on a loaded machine);
  then the push is dropped (a forged or stale claim must not roll a group back or trigger a failed
  pull), with the reason in the report and the audit. Not a 503: Distribution redelivers an endpoint's
  events in order, so a stale claim answered 503 would hold every later notification behind it;
- the registry cannot be reached: the push is dropped too, and marked `retry` (the webhook answers 503
  so that the sender delivers it again; the reconcile deploys what the tag really is once the registry
  answers); it refuses the rule's credentials, or no registry is known to ask: dropped, not retried.
  Deploying an unconfirmed claim would let anyone with the token roll production back whenever the
  registry is slow or down.

Platform-signed events (EventBridge, `signed`) and pushes without a tag are not asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..clients.eci_model import ContainerGroup
from ..clients.registry_api import RegistryAuthError, RegistryClient, RegistryError, RegistryNotFound, Resolved
from ..core.errors import ImageReferenceError
from ..core.imageref import ImageRef, running_ref
from ..events.model import PushEvent
from ..rules.model import Rule, RuleSet
from .planner import skip_reason
from .registry_kinds import enterprise_host, registry_host, same_registry
from .steps import Skip

# Waits before asking again about a tag the registry does not (yet) show as claimed: 1.75 s at most,
# far above the milliseconds between a registry's notification and its tag link.
SETTLE = (0.25, 0.5, 1.0)


@dataclass
class Confirmation:
    events: list[PushEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dropped: list[Skip] = field(default_factory=list)
    refused: list[tuple[PushEvent, Skip]] = field(default_factory=list)  # each drop with its push, for the audit
    retry: list[str] = field(default_factory=list)  # dropped because no registry answered: worth a redelivery

    def drop(self, event: PushEvent, skip: Skip) -> None:
        self.dropped.append(skip)
        self.refused.append((event, skip))


def confirm(
    events: Sequence[PushEvent],
    rules: RuleSet,
    groups: Sequence[ContainerGroup],
    client_for: Callable[[Rule, str], RegistryClient],
    *,
    platform: str = "linux/amd64",
    settle: Sequence[float] = SETTLE,
    sleep: Callable[[float], None] = time.sleep,
) -> Confirmation:
    out = Confirmation()
    for event in events:
        if event.signed or not event.tag:
            out.events.append(event)
            continue
        ask = _asker(client_for, event, platform, settle, sleep)
        _confirm_one(event, rules, list(groups), ask, out)
    return out


def _asker(
    client_for: Callable[[Rule, str], RegistryClient],
    event: PushEvent,
    platform: str,
    settle: Sequence[float],
    sleep: Callable[[float], None],
) -> Callable[[Rule, str], Resolved]:
    """One HEAD of the tag; again after each wait of `settle` while the tag is missing or names
    another digest than the claim (the registry may not have linked it yet)."""

    def ask(rule: Rule, host: str) -> Resolved:
        client = client_for(rule, host)
        for wait in (*settle, None):
            try:
                resolved = client.resolve(event.repository, event.tag or "", platform)
            except RegistryNotFound:
                if wait is None:
                    raise
            else:
                if not event.digest or event.digest in (resolved.digest, resolved.index_digest) or wait is None:
                    return resolved
            sleep(wait)
        raise AssertionError("unreachable: the last wait is None")

    return ask


def _confirm_one(
    event: PushEvent,
    rules: RuleSet,
    groups: list[ContainerGroup],
    ask: Callable[[Rule, str], Resolved],
    out: Confirmation,
) -> None:
    acting = [r for r in rules.for_repository(event.repository) if not skip_reason(r, event, rules)]
    if not acting:
        out.events.append(event)  # no rule acts on it: the planner skips it, nothing to ask
        return
    rule, host = _where(event, acting, rules, groups)
    claim = f"{event.describe()} ({event.source})"
    if host is None:
        where = f"{event.registry_host}, a registry no rule or group names" if event.registry_host else "no registry"
        reason = f"{claim}: pushed to {where}; not confirmed, not deployed"
        out.drop(event, Skip(rule.name, reason))
        return
    try:
        resolved = ask(rule, host)
    except RegistryNotFound:
        missing = f"{host}/{event.repository}:{event.tag} does not exist in the registry"
        out.drop(event, Skip(rule.name, f"{missing}: the push ({event.source}) is ignored"))
        return
    except RegistryAuthError as exc:  # a redelivery cannot fix the credentials: said, not retried
        out.drop(event, Skip(rule.name, f"{claim}: {host} refused the credentials ({exc.one_line()}); not deployed"))
        return
    except RegistryError as exc:
        reason = f"{claim}: {host} could not confirm it ({exc.one_line()}); not deployed, retry later"
        out.drop(event, Skip(rule.name, reason))
        out.retry.append(reason)
        return
    digests = {d for d in (resolved.digest, resolved.index_digest) if d}
    if event.digest and event.digest not in digests:
        said = f"the registry says {event.tag} is {resolved.digest}, not {event.digest}"
        out.drop(event, Skip(rule.name, f"{claim}: {said}; the push is dropped"))
        return
    out.notes.append(f"{event.describe()}: confirmed with {host}")
    out.events.append(
        replace(
            event,
            digest=resolved.digest,  # the platform's manifest when the tag is an index (the claim is one of these)
            registry_host=event.registry_host or host,
            signed=True,
            equivalent=frozenset(d for d in digests if d != resolved.digest),
        )
    )


def _where(
    event: PushEvent, acting: list[Rule], rules: RuleSet, groups: list[ContainerGroup]
) -> tuple[Rule, str | None]:
    """The first acting rule and the host to ask: a host of the rules' settings or of the observed
    groups; a push's own host only when it is the same registry as one of those (ACR's VPC and public
    endpoints are one store), so that no payload picks the host we connect (and send credentials) to."""
    for rule in acting:
        trusted = trusted_hosts(rule, rules, groups)
        if event.registry_host is None:
            if trusted:
                return rule, trusted[0]
            continue
        for host in trusted:
            if same_registry(event.registry_host, host):
                return rule, host
    return acting[0], None


def trusted_hosts(rule: Rule, rules: RuleSet, groups: list[ContainerGroup]) -> list[str]:
    """Registry hosts from settings (the rule's source, ACR and pull settings, its template's images) and
    from what the observed groups run, the rule's own choice first."""
    pull, out = rule.pull, []
    first = registry_host(rule, groups)
    if first:
        out.append(first)
    if pull.acr and pull.acr.instance_name:
        region = pull.acr.region or rule.target.region
        out += [enterprise_host(pull.acr.instance_name, region, vpc=v) for v in (True, False)]
    out += list(pull.acr.domains if pull.acr else ()) + [c.server.lower() for c in pull.credentials]
    out += [*pull.plain_http, *pull.insecure, *pull.public]
    out += _template_hosts(rules.templates.get(rule.name))
    for group in groups:
        for c in group.containers + group.init_containers:
            ref = running_ref(c.image) if c.image else None
            if ref is not None and ref.repository == rule.source.repository:
                out.append(ref.registry)
    return list(dict.fromkeys(out))


def _template_hosts(template: dict[str, Any] | None) -> list[str]:
    images = [c.get("Image") for key in ("Container", "InitContainer") for c in (template or {}).get(key) or []]
    out = []
    for image in images:
        try:
            out.append(ImageRef.parse(image).registry)
        except ImageReferenceError:
            continue  # `validate` names it; an image that does not parse names no registry
    return out
