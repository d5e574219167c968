"""The scheduled reconcile: level-triggered convergence.

For each rule: ask the registry which image the rule wants now (the highest tag its semver policy
allows (or its calver / ordered regex policy ranks highest), or an exact / moving tag's current
digest, per platform), then plan exactly as a push of that
image would, for that rule alone. A target already on the wanted digest is left alone, so a
converged system makes no mutating call.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..clients.eci import EciGateway
from ..clients.eci_model import ContainerGroup
from ..clients.registry_api import RegistryClient, RegistryError, Resolved, problem_kind
from ..core.errors import EciRedeployError, PlanningError
from ..core.imageref import ImageRef
from ..core.log import log_event
from ..events.model import PushEvent
from ..execution.apply import Report, observe
from ..execution.executor import APPLY, Executor
from ..planning import hints
from ..planning.planner import plan_event, runs_pushed_repository
from ..planning.pull import registry_info
from ..planning.registry_kinds import RegistryKind, registry_host
from ..planning.steps import Plan, Skip
from ..planning.versionguard import running_tag
from ..rules.model import Rule, RuleSet

DEFAULT_PLATFORM = "linux/amd64"
ClientFor = Callable[[Rule, str], RegistryClient]


@dataclass
class ReconcileResult:
    report: Report
    wanted: dict[str, dict[str, str]] = field(default_factory=dict)  # rule -> {tag, digest, image}
    registry_requests: dict[str, int] = field(default_factory=dict)
    events: list[PushEvent] = field(default_factory=list)  # the wanted image per rule, as pushes for it alone
    released: Any = None  # the gates' release of held changes before this reconcile (Report or HandedOff)
    # What makes a timer silently useless (issue 24): a registry that cannot be reached, refuses the
    # credentials or lacks the repository; a selector that matches no group. The command exits 1 and
    # the rules' channels are told (functions/timer.py).
    problems: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[str, list[ContainerGroup]] = field(default_factory=dict)  # rule -> the groups it selects
    hosts: dict[str, str | None] = field(default_factory=dict)  # rule -> the registry asked

    def to_json(self) -> dict[str, Any]:
        body = self.report.to_json()
        body["wanted"] = self.wanted
        body["registry_requests"] = self.registry_requests
        body["problems"] = self.problems
        if self.released is not None:
            body["released"] = self.released.to_json()
        return body


def schedule(rules: RuleSet, spread_seconds: float) -> list[tuple[float, Rule]]:
    """Deterministic offsets inside the tick: the same rule always at the same second, rules spread out."""

    def offset(rule: Rule) -> float:
        h = int(hashlib.sha256(rule.name.encode()).hexdigest()[:8], 16)
        return (h / 0xFFFFFFFF) * spread_seconds

    return sorted(((offset(r), r) for r in rules), key=lambda pair: (pair[0], pair[1].name))


def wanted_image(
    rule: Rule, rules: RuleSet, client: RegistryClient, platform: str, running: str | None = None
) -> Resolved:
    """`running`: with `updates`, the version the groups being converged run (their line)."""
    policy = rules.policy(rule)
    repository = rule.source.repository
    if policy.kind == "exact":
        last_error: RegistryError | None = None
        for tag in policy.pattern:  # the first listed tag that exists
            try:
                return client.resolve(repository, tag, platform)
            except RegistryError as exc:
                last_error = exc
        raise last_error or RegistryError("no tag")
    if not policy.ordered:
        raise PlanningError(
            "glob and regex rules without order follow pushes; reconcile converges semver, calver, ordered regex "
            "and exact rules",
            rule=rule.name,
        )
    best = policy.best(client.list_tags(repository), running)
    if best is None:
        within = f" within the line of {running}" if policy.updates and running else ""
        raise PlanningError(f"no tag in {repository} satisfies {policy.pattern!r}{within}", rule=rule.name)
    return client.resolve(repository, best, platform)


def reconcile(
    rules: RuleSet,
    gateway: EciGateway,
    client_for: ClientFor,
    env: Mapping[str, str],
    *,
    spread_seconds: float = 0.0,
    platform: str = DEFAULT_PLATFORM,
    sleep: Callable[[float], None] = time.sleep,
    executor: Executor = APPLY,
    gate_context: Any = None,
) -> ReconcileResult:
    plan = Plan()
    observed: list[ContainerGroup] = []  # for the gates: held changes live in the groups' tags
    result = ReconcileResult(None)  # type: ignore[arg-type]  # the report comes last
    this = _Pass(plan, result, rules, env, platform)
    clients: dict[str, RegistryClient] = {}
    started = time.monotonic()
    for offset, rule in schedule(rules, spread_seconds):
        delay = offset - (time.monotonic() - started)
        if delay > 0:
            sleep(delay)
        host: str | None = rule.source.registry
        try:
            groups = _observe_rule(gateway, rule, rules, observe)
            observed.extend(groups)
            result.groups[rule.name] = groups
            host = registry_host(rule, groups)
            result.hosts[rule.name] = host
            if not groups and rule.target.container_groups is not None:
                result.problems.append(_problem(rule, host, "no-groups", hints.no_group(rule)))
            if host is None:
                plan.skipped.append(Skip(rule.name, "cannot tell which registry to ask: set source.registry"))
                continue
            client = clients.get(host) or clients.setdefault(host, client_for(rule, host))
        except (RegistryError, PlanningError) as exc:
            _skip_rule(plan, result, rule, host, exc)
            continue
        for running, subset in _lines(rule, rules, groups, host):
            if running is None and rules.policy(rule).updates:
                names = ", ".join(g.id for g in subset)
                plan.skipped.append(Skip(rule.name, f"reconcile: updates: the running version of {names} is unknown"))
                continue
            if _reconcile_line(this, rule, client, host, running, subset):
                break  # the registry answers no better for the rule's other lines
    if any(r.target.scaling_group is not None for r in rules):
        _recover_scaling(plan, rules, observed)
    from ..pipeline import finish  # gate, apply, report: the tail every entry point shares

    result.report = finish(plan, rules, observed, gateway, env, executor=executor, gate_context=gate_context)
    result.registry_requests = {h: c.requests_made for h, c in clients.items()}
    return result


def _problem(rule: Rule, host: str | None, kind: str, reason: str) -> dict[str, Any]:
    return {"rule": rule.name, "host": host, "repository": rule.source.repository, "problem": kind, "reason": reason}


def _skip_rule(plan: Plan, result: ReconcileResult, rule: Rule, host: str | None, exc: EciRedeployError) -> None:
    """The rule (or one line of its groups) is skipped; a registry that could not answer is also a
    problem, whose reason carries the fix (planning/hints.py), in the skip too (what `list` shows)."""
    reason = exc.one_line()
    if isinstance(exc, RegistryError):
        kind = problem_kind(exc)
        reason = f"{reason}: {hints.registry_fix(rule, host, kind)}"
        result.problems.append(_problem(rule, host, kind, reason))
    plan.skipped.append(Skip(rule.name, f"reconcile: {reason}"))
    log_event("reconcile.skip", rule=rule.name, reason=reason)


def _lines(
    rule: Rule, rules: RuleSet, groups: list[ContainerGroup], host: str
) -> list[tuple[str | None, list[ContainerGroup]]]:
    """Groups converged together: all of them, or with `updates` one batch per running version's line
    (a group on 1.x and one on 2.x want different versions)."""
    policy = rules.policy(rule)
    if policy.updates is None or rule.target.action == "create":
        return [(None, groups)]
    probe = PushEvent(rule.source.repository, None, None, "reconcile", "probe", registry_host=host)
    lines: dict[str, tuple[str | None, list[ContainerGroup]]] = {}
    for group in groups:
        running = running_tag(group, probe, rule, runs_pushed_repository)
        line = policy.line(running)
        if line is None:
            lines.setdefault("?", (None, []))[1].append(group)
            continue
        lines.setdefault(str(line), (running, []))[1].append(group)
    return list(lines.values())


@dataclass(frozen=True)
class _Pass:
    """One reconcile pass: what every rule's lines are planned into, and with."""

    plan: Plan
    result: ReconcileResult
    rules: RuleSet
    env: Mapping[str, str]
    platform: str


def _reconcile_line(
    this: _Pass, rule: Rule, client: RegistryClient, host: str, running: str | None, groups: list[ContainerGroup]
) -> bool:
    """Plan one line of the rule's groups; True when the registry could not answer (the rule's problem)."""
    plan, wanted, events = this.plan, this.result.wanted, this.result.events
    try:
        resolved = wanted_image(rule, this.rules, client, this.platform, running)
    except (RegistryError, PlanningError) as exc:
        _skip_rule(plan, this.result, rule, host, exc)
        return isinstance(exc, RegistryError)
    event = PushEvent(
        rule.source.repository,
        resolved.tag,
        resolved.digest,
        "reconcile",
        f"reconcile:{rule.name}:{resolved.digest}",
        registry_host=host,
        signed=True,
        only_rule=rule.name,
        # a multi-arch tag: a push names the index, which holds the platform's manifest deployed here
        equivalent=frozenset(d for d in (resolved.index_digest,) if d and d != resolved.digest),
    )
    events.append(event)
    wanted.setdefault(
        rule.name, {"tag": resolved.tag, "digest": resolved.digest, "image": f"{host}/{event.repository}"}
    )
    try:
        plan.extend(plan_event(event, this.rules, groups, this.env, only=rule.name))
    except EciRedeployError as exc:
        plan.skipped.append(Skip(rule.name, exc.one_line(), event_id=event.event_id))
    return False


def _recover_scaling(plan: Plan, rules: RuleSet, observed: list[Any]) -> None:
    """A scaling group left suspended by a worker that died is put back on the tick, whether or not its
    rule's registry answered (planning/scaling.py plans the same steps first in a push's plan)."""
    from ..planning.scaling import recovery

    planned = {s.rule for s in plan.steps if s.phase == "recover"}
    plan.steps[:0] = [s for s in recovery(rules, observed) if s.rule not in planned]


def _observe_rule(gateway: EciGateway, rule: Rule, rules: RuleSet, observe: Any) -> list[ContainerGroup]:
    probe = PushEvent(rule.source.repository, None, None, "reconcile", "probe")
    single = RuleSet([rule], rules.templates)
    return list(observe(gateway, [probe], single, check=False))


def client_factory(
    env: Mapping[str, str],
    *,
    max_requests: int = 50,
    acr_token: Any = None,
    timeout: float = 10.0,
    max_wait_seconds: float = 30.0,
) -> ClientFor:
    """Registry clients configured from each rule's pull settings (scheme, TLS, credentials)."""

    def make(rule: Rule, host: str) -> RegistryClient:
        pull = rule.pull
        scheme = "http" if host in pull.plain_http else "https"
        username = password = None
        for cred in pull.credentials:
            if cred.server.lower() == host:
                username, password = cred.username, env.get(cred.password_env)
                if password is None:
                    raise PlanningError(f"${cred.password_env} is not set (password for {host})", rule=rule.name)
        token_provider = None
        if username is None and acr_token is not None:
            info = registry_info(ImageRef(host, rule.source.repository), rule)
            if info.kind is RegistryKind.ACR_ENTERPRISE and pull.acr:
                token_provider = lambda: acr_token(pull.acr.instance_id, pull.acr.region or rule.target.region)  # noqa: E731
        return RegistryClient(
            host,
            scheme=scheme,
            verify=host not in pull.insecure,
            username=username,
            password=password,
            token_provider=token_provider,
            max_requests=max_requests,
        )

    return make
