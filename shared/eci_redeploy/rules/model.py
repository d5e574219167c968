"""The rules file (documented in docs/rules.md), validated with pydantic.

Unknown keys are errors: a typo must not silently disable a deploy. Errors name the file, the rule
and the field. Templates are read here (relative to the rules file) so that planning stays pure.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core.errors import ImageReferenceError, RulesError
from ..core.hosts import host_problem, instance_id_problem, instance_name_problem, region_problem
from ..core.imageref import ImageRef
from .gates import Gates
from .tagpolicy import MAX_TAG, Order, RangeError, RegexError, TagPolicy, compile_regex, exact_tags, parse_range

RULE_NAME = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
HOST = r"^[A-Za-z0-9.-]+(?::[0-9]+)?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _grammar(value: str, problem: Any) -> str:
    """A region, instance name or host of the rules, by the grammar a payload's is held to (core/hosts.py)."""
    why = problem(value)
    if why:
        raise ValueError(why)
    return value


_POLICIES: dict[int, TagPolicy] = {}


class TagOrder(_Strict):
    """How a regex rule ranks its tags (Flux's image policies): by named groups of the regex, compared in
    turn (the first that differs decides)."""

    by: Literal["numerical", "alphabetical"] = Field(
        description="numerical: each key as a decimal number; alphabetical: as text (10 sorts below 9)"
    )
    key: str | None = Field(None, description="one named group of the regex, e.g. build for (?P<build>\\d+)")
    keys: list[str] | None = Field(
        None,
        min_length=1,
        description="named groups compared in turn, most significant first, e.g. [year, month, build]",
    )

    @model_validator(mode="after")
    def _one_of_key_keys(self) -> TagOrder:
        if (self.key is None) == (self.keys is None):
            raise ValueError("give exactly one of key (one group) or keys (groups compared in turn)")
        if self.keys is not None and len(set(self.keys)) != len(self.keys):
            raise ValueError(f"keys {self.keys} name a group twice")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return (self.key,) if self.key is not None else tuple(self.keys or ())


class TagsSpec(_Strict):
    """Exactly one of semver / calver / glob / regex / exact."""

    semver: str | None = Field(
        None,
        description="npm-style range, e.g. '>=1.2.0 <2.0.0', '^1.2', '~1.2.3', '1.x', '1.2.3 - 2.3', '>=1.2.0, <2.0.0 "
        "!=1.3.1' (',' is AND like a space; '||' is OR)",
    )
    calver: str | None = Field(
        None,
        description="calendar versions by a calver.org format, ordered by date then numbers: e.g. 'YYYY.0M.0D' "
        "(2024.07.10), 'YYYY.0M.MICRO' (2024.07.2), 'YYYY.0M.0D[-MICRO]' (2024.07.10-1), "
        "'YYYY0M0D-MICRO-MODIFIER' (20240710-153000-abc1234); see docs/version-policies.md",
    )
    glob: str | None = Field(None, description="shell glob on the tag, e.g. 'release-*'")
    regex: str | None = Field(None, description="RE2 regular expression (linear time) matched against the whole tag")
    exact: str | list[str] | None = Field(None, description="one tag or a list, e.g. 'latest' (a moving tag)")
    prerelease: bool = Field(
        False,
        description="semver only: allow every prerelease such as 1.3.0-rc.1 (without it, only prereleases of a "
        "version the range itself names with a prerelease, as npm: ^1.3.0-rc.1 takes 1.3.0-rc.2)",
    )
    ignore: list[str] = Field(default_factory=list, description="globs of tags never deployed")
    updates: Literal["minor", "patch"] | None = Field(
        None,
        description="semver only, relative to the version a container runs (Keel's policy names): minor = minor "
        "and patch updates (the same major), patch = patch updates only (the same major.minor)",
    )
    order: TagOrder | None = Field(
        None,
        description="regex only: rank tags by named groups (key, or keys compared in turn), so pushes never move "
        "a group to an older build and the reconcile picks the highest",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> TagsSpec:
        kinds = ("semver", "calver", "glob", "regex", "exact")
        given = [k for k in kinds if getattr(self, k) not in (None, [], "")]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(kinds)} (got {', '.join(given) or 'none'})")
        if self.updates is not None and self.semver is None:
            raise ValueError("updates goes with semver (minor / patch are relative to the running version)")
        if self.order is not None:
            if self.regex is None:
                raise ValueError("order goes with regex (semver and calver rules are ordered already)")
            groups = compile_regex(self.regex).groupindex
            for name in self.order.names:
                if name not in groups:
                    raise ValueError(f"order key {name!r} is not a named group of the regex (write (?P<{name}>...))")
        return self

    @field_validator("calver")
    @classmethod
    def _calver(cls, v: str | None) -> str | None:
        if v is not None:
            from .calver import CalverError, compile_format

            try:
                compile_format(v)
            except CalverError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("semver")
    @classmethod
    def _semver(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_range(v)
            except RangeError as exc:
                raise ValueError(
                    f"{v!r} is not a semver range ({exc}; e.g. '>=1.2.0 <2.0.0', '^1.2', '~1.2.3')"
                ) from None
        return v

    @field_validator("regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            if len(v) > 4 * MAX_TAG:
                raise ValueError(f"the regex is longer than {4 * MAX_TAG} characters")
            try:
                compile_regex(v)
            except RegexError as exc:
                raise ValueError(f"{exc} (no backreferences or lookaround: tags are matched in linear time)") from None
        return v

    def policy(self) -> TagPolicy:
        # Built once per TagsSpec: the planner asks for it per container group. Kept outside the model
        # (a private attribute or a __dict__ entry would change pydantic's equality) and dropped with it.
        key = id(self)
        cached = _POLICIES.get(key)
        if cached is None:
            cached = _POLICIES[key] = self._build_policy()
            weakref.finalize(self, _POLICIES.pop, key, None)
        return cached

    def _build_policy(self) -> TagPolicy:
        ignore = tuple(self.ignore)
        if self.semver is not None:
            return TagPolicy("semver", self.semver, self.prerelease, ignore, updates=self.updates)
        if self.calver is not None:
            return TagPolicy("calver", self.calver, self.prerelease, ignore)
        if self.glob is not None:
            return TagPolicy("glob", self.glob, self.prerelease, ignore)
        if self.regex is not None:
            order = Order(self.order.by, self.order.names) if self.order else None
            return TagPolicy("regex", self.regex, self.prerelease, ignore, order=order)
        assert self.exact is not None
        return TagPolicy("exact", exact_tags(self.exact), self.prerelease, ignore)


class Source(_Strict):
    repository: str = Field(description="repository path as pushed, e.g. team/web")
    registry: str | None = Field(
        None, description="ACR EE instance id (cri-...) or registry host[:port]; omitted = any registry"
    )
    tags: TagsSpec

    @field_validator("repository")
    @classmethod
    def _repository(cls, v: str) -> str:
        try:
            ref = ImageRef.parse(f"example.invalid/{v}")
        except ImageReferenceError as exc:
            raise ValueError(str(exc).replace("example.invalid/", "")) from None
        if ref.tag or ref.digest:
            raise ValueError(f"{v!r}: give the repository without tag or digest")
        return v

    @field_validator("registry")
    @classmethod
    def _registry(cls, v: str | None) -> str | None:
        if v is not None and instance_id_problem(v) and host_problem(v):
            raise ValueError(f"{v!r} is neither an ACR instance id (cri-...) nor a host[:port]")
        return v.lower() if v else v


class Selector(_Strict):
    """Which existing container groups a rule changes: exactly one of ids / name / tags."""

    ids: list[str] | None = None
    name: str | None = None
    tags: dict[str, str] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Selector:
        given = [k for k in ("ids", "name", "tags") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of ids, name, tags (got {', '.join(given) or 'none'})")
        return self


class ScalingGroupRef(_Strict):
    """Auto Scaling (ESS) groups of the ECI type: one by id, one by name (unique in the region), or every
    one that carries all of the given tags (DescribeScalingGroups Tags.N), each rolled on its own."""

    id: str | None = Field(None, pattern=r"^asg-[A-Za-z0-9]+$")
    name: str | None = Field(None, min_length=1, max_length=64)
    # TagResources (ESS): a scaling group has at most 20 tags, keys 1-128 characters, values at most 128.
    tags: dict[str, str] | None = Field(None, min_length=1, max_length=20)

    @model_validator(mode="after")
    def _exactly_one(self) -> ScalingGroupRef:
        if sum(v is not None for v in (self.id, self.name, self.tags)) != 1:
            raise ValueError("give exactly one of id, name, tags")
        for key, value in (self.tags or {}).items():
            if not 1 <= len(key) <= 128 or len(value) > 128:
                raise ValueError(f"tag {key[:40]!r}: keys are 1-128 characters, values at most 128")
        return self

    def matches(self, group: Any) -> bool:
        """Whether an observed scaling group (clients/ess_model.ScalingGroup) is one this names."""
        if self.id:
            return bool(group.id == self.id)
        if self.name:
            return bool(group.name == self.name)
        have = group.tag_map
        return all(have.get(k) == v for k, v in (self.tags or {}).items())

    @property
    def label(self) -> str:
        if self.tags:
            return "tagged " + ", ".join(f"{k}={v}" for k, v in self.tags.items())
        return self.id or f"named {self.name}"


class Target(_Strict):
    region: str = Field(pattern=r"^[a-z]{2}-[a-z0-9-]+$")
    action: Literal["update", "replace", "create", "restart"]
    container_groups: Selector | None = None
    scaling_group: ScalingGroupRef | None = Field(
        None,
        description="instead of container_groups: an ECI scaling group (ESS), as asg-... or {id} / {name}; a push "
        "changes its active ECI scaling configuration, then rolls its InService instances in batches",
    )
    allow_owned: list[Literal["scaling-group"]] = Field(
        default_factory=list,
        description="container_groups only: also update instances an Auto Scaling group created (the group's "
        "configuration keeps its image, so a scale-out launches the old one: prefer target.scaling_group)",
    )
    containers: list[str] | None = Field(
        None, description="container names to change; default: every container running the repository"
    )
    template: str | None = Field(None, description="CreateContainerGroup body (API field names), YAML")

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        return _grammar(v, region_problem)

    @field_validator("scaling_group", mode="before")
    @classmethod
    def _group_id(cls, v: Any) -> Any:
        return {"id": v} if isinstance(v, str) else v  # `scaling_group: asg-...` (docs/rules.md)

    @model_validator(mode="after")
    def _needs(self) -> Target:
        if self.scaling_group is not None:
            if self.container_groups is not None or self.template:
                raise ValueError("scaling_group goes instead of container_groups and template")
            if self.action != "update":
                raise ValueError(f"a scaling group is updated in place (action: update), not with action {self.action}")
            return self
        if self.action in ("update", "replace", "restart") and self.container_groups is None:
            raise ValueError(f"action {self.action} needs container_groups (ids, name or tags)")
        if self.action in ("create", "replace") and not self.template:
            raise ValueError(f"action {self.action} needs a template")
        return self


class AcrSettings(_Strict):
    instance_id: str = Field(pattern=r"^cri-[a-z0-9]+$")
    instance_name: str | None = None
    region: str | None = None
    domains: list[str] = Field(default_factory=list, description="custom domains of the instance")
    arn_service: str | None = Field(None, description="cross-account: role ARN in the ECI account")
    arn_user: str | None = Field(None, description="cross-account: role ARN in the ACR account")

    @model_validator(mode="after")
    def _both_arns(self) -> AcrSettings:
        if bool(self.arn_service) != bool(self.arn_user):
            raise ValueError("arn_service and arn_user go together (cross-account pulls need both)")
        return self

    @field_validator("domains")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [_grammar(d, host_problem).lower() for d in v]

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return _grammar(v, region_problem) if v is not None else v

    @field_validator("instance_name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return _grammar(v.lower(), instance_name_problem) if v is not None else v


class Credential(_Strict):
    server: str = Field(pattern=HOST)
    username: str
    password_env: str = Field(pattern=ENV_NAME, description="environment variable holding the password")

    @field_validator("server")
    @classmethod
    def _server(cls, v: str) -> str:
        return _grammar(v, host_problem)


class Pull(_Strict):
    digest: bool = Field(True, description="deploy repo@sha256:... when the digest is known")
    acr: AcrSettings | None = None
    credentials: list[Credential] = Field(default_factory=list)
    plain_http: list[str] = Field(default_factory=list, description="self-managed registries over HTTP")
    insecure: list[str] = Field(default_factory=list, description="self-managed registries, self-signed TLS")
    public: list[str] = Field(
        default_factory=list, description="other registries whose images pull anonymously (e.g. ghcr.io)"
    )
    internet: Literal["none", "eip"] = "none"
    image_cache: Literal["auto", "off"] = "auto"
    prewarm: Prewarm | None = Field(None, description="build an image cache for the new image before creating")

    @field_validator("plain_http", "insecure", "public")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        return [_grammar(h, host_problem).lower() for h in v]


class DingTalk(_Strict):
    url_env: str = Field(pattern=ENV_NAME, description="variable holding the robot's webhook URL (with access_token)")
    secret_env: str | None = Field(None, pattern=ENV_NAME, description="variable holding the robot's signing secret")


class Slack(_Strict):
    url_env: str = Field(pattern=ENV_NAME, description="variable holding the incoming-webhook URL")


class Webhook(_Strict):
    url_env: str = Field(pattern=ENV_NAME, description="variable holding the URL")
    secret_env: str | None = Field(None, pattern=ENV_NAME, description="variable holding the HMAC-SHA256 secret")


class Channel(_Strict):
    """Exactly one of dingtalk / slack / webhook. URLs and secrets come from environment variables."""

    dingtalk: DingTalk | None = None
    slack: Slack | None = None
    webhook: Webhook | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Channel:
        given = [k for k in ("dingtalk", "slack", "webhook") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of dingtalk, slack, webhook (got {', '.join(given) or 'none'})")
        return self


class Prewarm(_Strict):
    """Create an ECI image cache for the new image before creating groups from it."""

    timeout_seconds: int = Field(300, ge=1, le=3600, description="wait at most this long for the cache")
    poll_seconds: float = Field(10.0, gt=0, le=300)
    size_gb: int = Field(20, ge=20, le=2048, description="ImageCacheSize")
    retention_days: int | None = Field(None, ge=1, description="RetentionDays; unset: kept")
    security_group_id: str | None = Field(None, description="default: the template's SecurityGroupId")
    vswitch_id: str | None = Field(None, description="default: the template's VSwitchId")


class Rollout(_Strict):
    """How a change reaches the selected groups: in batches, each waited on before the next."""

    batch_size: int = Field(5, ge=1, le=100, description="groups changed at once")
    wait: bool = Field(True, description="wait until each group is Running with every container Ready")
    timeout_seconds: int = Field(120, ge=1, le=3600, description="how long a batch may take to become healthy")
    poll_seconds: float = Field(3.0, gt=0, le=60, description="how often to look while waiting")
    failure_budget: int = Field(0, ge=0, description="failed groups tolerated before the rollout stops")
    rollback: bool = Field(True, description="put a failed group back on the image it ran before")


class Update(_Strict):
    """How an in-place change (action update, or restart) is sent to ECI."""

    containers: Literal["incremental", "full"] = Field(
        "incremental",
        description="incremental: UpdateContainerGroup carries each changed container's name and new image "
        "(and ImagePullPolicy for a tag pushed again); full: each changed container's whole spec as "
        "DescribeContainerGroups shows it (commands, args, env, ports, mounts, probes, resources, security "
        "context), for when IncrementalUpdate replaces a named container's spec instead of merging it",
    )
    restart_policy_never: Literal["skip", "in-place"] = Field(
        "skip",
        description="a group whose RestartPolicy is Never: skip (ECI documents that updating it may leave its "
        "containers failed, and a Failed group can be neither updated nor rolled back; use action: replace) or "
        "in-place (update or restart it anyway)",
    )


class Rule(_Strict):
    name: str = Field(pattern=RULE_NAME, max_length=63)
    allow_downgrade: bool = Field(
        False,
        description="let a push below the version a group runs (by the rule's order) deploy, e.g. a rollback "
        "pipeline; default false: skipped with 'would downgrade'",
    )
    source: Source
    target: Target
    pull: Pull = Field(default_factory=Pull)
    rollout: Rollout = Field(default_factory=Rollout)
    update: Update = Field(
        default_factory=Update,
        description="how an update or restart is sent: update: {containers: full} resends each changed "
        "container's full spec (default: incremental)",
    )
    notify: list[Channel] | None = Field(
        None, description="where to report this rule's rollouts (default: the file's notify)"
    )
    gates: Gates | None = Field(
        None, description="what a push must pass before it is deployed (default: the file's gates; {} for none)"
    )

    @model_validator(mode="after")
    def _update_fits_action(self) -> Rule:
        action = self.target.action
        if self.update.containers == "full" and action != "update":
            raise ValueError(f"update.containers: full goes with action: update (this rule's action is {action})")
        if self.update.restart_policy_never != "skip" and action not in ("update", "restart"):
            raise ValueError(
                f"update.restart_policy_never goes with action: update or restart (this rule's action is {action})"
            )
        return self


class RulesFile(_Strict):
    version: Literal[1]
    notify: list[Channel] = Field(default_factory=list, description="default channels for every rule")
    gates: Gates | None = Field(None, description="default gates for every rule")
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique(self) -> RulesFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"duplicate rule name {rule.name!r}")
            seen.add(rule.name)
            gates = rule.gates if rule.gates is not None else self.gates
            if rule.target.scaling_group is not None and gates is not None and gates.active:
                # Held changes live in container groups' tags; a scaling group has none to hold them yet.
                raise ValueError(
                    f"rule {rule.name!r}: gates are not supported for a scaling-group target yet; "
                    "set gates: {} on the rule"
                )
        return self


@dataclass
class RuleSet:
    """Validated rules, their templates, and an index by repository so that unrelated rules cost nothing."""

    rules: list[Rule]
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    notify: list[Channel] = field(default_factory=list)
    gates: Gates | None = None  # the file-wide default
    _by_repository: dict[str, list[Rule]] = field(default_factory=dict, repr=False)
    _policies: dict[str, TagPolicy] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for rule in self.rules:
            self._by_repository.setdefault(rule.source.repository, []).append(rule)
            self._policies[rule.name] = rule.source.tags.policy()

    def for_repository(self, repository: str) -> list[Rule]:
        return self._by_repository.get(repository, [])

    def policy(self, rule: Rule) -> TagPolicy:
        return self._policies[rule.name]

    def channels(self, rule_name: str) -> list[Channel]:
        rule = next((r for r in self.rules if r.name == rule_name), None)
        if rule is not None and rule.notify is not None:
            return rule.notify
        return self.notify

    def gates_for(self, rule: Rule) -> Gates | None:
        """The rule's own gates, else the file's; None when nothing is gated."""
        chosen = rule.gates if rule.gates is not None else self.gates
        return chosen if chosen is not None and chosen.active else None

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def dump(self) -> dict[str, Any]:
        """The validated rules as JSON, for the build-time index (`rules.index.write_index`)."""
        return {
            "rules": [r.model_dump(mode="json", exclude_unset=True) for r in self.rules],
            "notify": [c.model_dump(mode="json", exclude_unset=True) for c in self.notify],
            "gates": None if self.gates is None else self.gates.model_dump(mode="json", exclude_unset=True),
        }


class _NotThisModel(Exception):
    """A sealed index holding a key this version's model does not have (built by another version, e.g.
    one that read `stay_within`): it must be validated again, never built with the key dropped."""


def _built(cls: type[BaseModel], data: Mapping[str, Any]) -> Any:
    """A model from what `model_dump` made of a validated one, without validating again (pydantic's
    `model_construct`); nested models are built the same way, model defaults too."""
    if not set(data) <= set(cls.model_fields):
        raise _NotThisModel(sorted(set(data) - set(cls.model_fields)))
    values: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if name in data:
            values[name] = _built_value(_resolved(info.annotation, cls), data[name])
        elif isinstance(info.default_factory, type) and issubclass(info.default_factory, BaseModel):
            values[name] = _built(info.default_factory, {})
    built = cls.model_construct(**values)
    object.__setattr__(built, "__pydantic_fields_set__", set(data))
    return built


def _resolved(annotation: Any, owner: type) -> Any:
    import sys
    import typing

    if isinstance(annotation, typing.ForwardRef):
        return eval(annotation.__forward_arg__, vars(sys.modules[owner.__module__]))
    return annotation


def _built_value(annotation: Any, value: Any) -> Any:
    import typing

    if value is None:
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _built(annotation, value)
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is list:
        return [_built_value(args[0], v) for v in value]
    if isinstance(value, (dict, list)):  # a union: the member that holds this kind of value
        for arg in args:
            origin = typing.get_origin(arg) or arg
            if isinstance(value, list) and origin is list:
                return _built_value(arg, value)
            if isinstance(value, dict) and isinstance(origin, type) and issubclass(origin, BaseModel):
                return _built(origin, value)
    return value


def _from_validated(validated: Mapping[str, Any], templates: dict[str, dict[str, Any]], path: Path) -> RuleSet:
    gates = validated.get("gates")
    return RuleSet(
        [_built(Rule, r) for r in validated["rules"]],
        templates,
        path,
        [_built(Channel, c) for c in validated.get("notify") or []],
        None if gates is None else _built(Gates, gates),
    )


def json_schema() -> dict[str, Any]:
    schema = RulesFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "eci-redeploy rules file"
    return schema


def _describe_location(loc: tuple[Any, ...], raw: Any) -> str:
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            name = (
                node[item].get("name")
                if isinstance(node, list) and item < len(node) and isinstance(node[item], Mapping)
                else None
            )
            parts.append(f"[{item}]" + (f" ({name})" if name and parts == ["rules"] else ""))
        else:
            parts.append(("." if parts else "") + str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return "".join(parts)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Optional, list, dict, unions)."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def valid_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the rules file accepts at a location (a path of keys and list indexes)."""
    models: list[type[BaseModel]] = [RulesFile]
    for item in loc:
        if isinstance(item, int):
            continue
        nxt: list[type[BaseModel]] = []
        for model in models:
            info = model.model_fields.get(str(item))
            if info is not None:
                nxt.extend(_models_in(info.annotation))
        models = nxt
    return sorted({name for model in models for name in model.model_fields})


def unknown_key_error(exc: ValidationError, raw: Any, *, source: str) -> None:
    """Raise the first unknown key as the error, with the closest valid key, if there is one."""
    import difflib

    unknown = [e for e in exc.errors() if e["type"] == "extra_forbidden"]
    if not unknown:
        return
    loc = tuple(unknown[0]["loc"])
    key, parent = str(loc[-1]), loc[:-1]
    choices = valid_keys(parent)
    where = _describe_location(parent, raw) or "(top level)"
    if key == "stay_within" and "updates" in choices:
        raise RulesError(_renamed_stay_within(_value_at(raw, loc)), source=source, field=where) from None
    if key.lower() in ("password", "secret", "token", "url") and f"{key.lower()}_env" in choices:
        # A credential written into the file would be committed and shipped in the code package.
        message = (
            f"unknown key {key!r}: secrets are not written in the rules file; put the value in an "
            f"environment variable and name it with '{key.lower()}_env'"
        )
    else:
        close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(choices)}"
        message = f"unknown key {key!r} ({hint})"
    if len(unknown) > 1:
        message += f" (and {len(unknown) - 1} more unknown key{'s' if len(unknown) > 2 else ''})"
    raise RulesError(message, source=source, field=where) from None


def _value_at(raw: Any, loc: tuple[Any, ...]) -> Any:
    node = raw
    for item in loc:
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _renamed_stay_within(value: Any) -> str:
    """`stay_within` is refused, never read: `stay_within: minor` read as "the same minor" and meant the
    same major, so a file must say `updates:` to be sure of what it gets."""
    what = {
        "minor": "write 'updates: minor' (minor and patch updates, the same major) to keep what it did, or "
        "'updates: patch' for patch updates only",
        "patch": "write 'updates: patch' (patch updates only, the same major.minor) to keep what it did",
    }.get(str(value), "write 'updates: minor' (minor and patch updates) or 'updates: patch' (patch updates only)")
    return f"stay_within is replaced by updates (stay_within: minor meant the same major, not the same minor): {what}"


def parse_rules(
    raw: Any,
    *,
    source: str = "rules",
    base_dir: Path | None = None,
    templates: dict[str, dict[str, Any]] | None = None,
) -> RuleSet:
    if not isinstance(raw, Mapping):
        raise RulesError("the rules file must be a mapping with 'version' and 'rules'", source=source)
    try:
        model = RulesFile.model_validate(raw)
    except ValidationError as exc:
        unknown_key_error(exc, raw, source=source)  # the cause first: a typo also makes a key "missing"
        first = exc.errors()[0]
        where = _describe_location(tuple(first["loc"]), raw) or "(top level)"
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "unknown key (a typo?)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RulesError(msg + more, source=source, field=where) from None
    if templates is not None:
        return RuleSet(
            list(model.rules), templates, Path(source) if base_dir else None, list(model.notify), model.gates
        )
    templates = {}
    for index, rule in enumerate(model.rules):
        if rule.target.template:
            templates[rule.name] = _load_template(
                rule.target.template, base_dir, source=source, field=f"rules[{index}] ({rule.name}).target.template"
            )
    return RuleSet(list(model.rules), templates, Path(source) if base_dir else None, list(model.notify), model.gates)


def load_rules(path: str | os.PathLike[str]) -> RuleSet:
    from .index import compiled_rules, sealed_rules

    p = Path(path)
    sealed = sealed_rules(p)
    if sealed is not None:  # validated by the build from these very files: not validated again
        try:
            return _from_validated(sealed[0], sealed[1], p)
        except _NotThisModel:
            pass  # sealed by another version of the model: validated again below
    compiled = compiled_rules(p)
    if compiled is not None:  # parsed by the build from this very file: no YAML parser needed
        document, templates = compiled
        return parse_rules(document, source=str(p), base_dir=p.resolve().parent, templates=templates)
    from ..core.yamlio import DuplicateKeyError, YamlLimitError, load_yaml_file

    try:
        raw = load_yaml_file(p)
    except FileNotFoundError:
        raise RulesError("file not found", source=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read: {exc.__class__.__name__}", source=str(p)) from None
    except (DuplicateKeyError, YamlLimitError) as exc:
        raise RulesError(str(exc), source=str(p)) from None
    except Exception as exc:  # yaml.YAMLError and its subclasses
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise RulesError(f"not valid YAML{line}: {getattr(exc, 'problem', exc)}", source=str(p)) from None
    return parse_rules(raw, source=str(p), base_dir=p.resolve().parent)


_TEMPLATE_LISTS = ("Container", "InitContainer", "Tag", "Volume", "ImageRegistryCredential", "AcrRegistryInfo")


# A CreateContainerGroup body is a few KB; these leave room for dozens of containers and variables.
TEMPLATE_MAX_BYTES = 256 * 1024
TEMPLATE_MAX_NODES = 20_000


def template_path(name: str, base_dir: Path | None, *, source: str, field: str) -> Path:
    """Where a template named in the rules lives: inside the rules file's folder once symlinks are
    resolved. An absolute path, a `..` climb or a link out of the folder would let whoever writes
    (or tricks someone into running) a rules file read any file the process can, and `plan` prints
    templates."""
    folder = (base_dir or Path.cwd()).resolve()
    if Path(name).is_absolute():
        raise RulesError(
            f"template {name}: give a path relative to the rules file's folder ({folder})", source=source, field=field
        )
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):
        raise RulesError(
            f"template {name} is outside the rules file's folder ({folder}); templates must live beside it",
            source=source,
            field=field,
        )
    return path


def _load_template(name: str, base_dir: Path | None, *, source: str, field: str) -> dict[str, Any]:
    from ..core.yamlio import DuplicateKeyError, YamlLimitError, load_yaml_file

    path = template_path(name, base_dir, source=source, field=field)
    try:
        body = load_yaml_file(path, max_bytes=TEMPLATE_MAX_BYTES, max_nodes=TEMPLATE_MAX_NODES)
    except FileNotFoundError:
        raise RulesError(f"template {name} not found (looked at {path})", source=source, field=field) from None
    except (DuplicateKeyError, YamlLimitError) as exc:
        raise RulesError(f"template {name}: {exc}", source=source, field=field) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = f"cannot read: {exc.__class__.__name__}"
        raise RulesError(f"template {name}: {reason}", source=source, field=field) from None
    except Exception as exc:
        raise RulesError(f"template {name} is not valid YAML: {exc}", source=source, field=field) from None
    if not isinstance(body, dict):
        raise RulesError(
            f"template {name} must be a mapping of CreateContainerGroup fields", source=source, field=field
        )
    for key in body:
        if not isinstance(key, str) or not key[:1].isupper():
            raise RulesError(
                f"template {name}: {key!r} is not an API field name (PascalCase, e.g. ContainerGroupName)",
                source=source,
                field=field,
            )
    for key in _TEMPLATE_LISTS:
        if key in body and not isinstance(body[key], list):
            raise RulesError(f"template {name}: {key} must be a list", source=source, field=field)
    literal = _literal_secret(body)
    if literal:
        raise RulesError(
            f"template {name}: {literal} is a literal secret (plan prints templates; the code package ships them): "
            "remove it and list the registry under the rule's pull.credentials with password_env, the "
            "environment variable that holds the password",
            source=source,
            field=field,
        )
    containers = body.get("Container")
    if not containers:
        raise RulesError(f"template {name}: Container must list at least one container", source=source, field=field)
    for i, c in enumerate(list(containers) + list(body.get("InitContainer") or [])):
        if not isinstance(c, dict) or not c.get("Name"):
            raise RulesError(f"template {name}: container {i + 1} needs a Name", source=source, field=field)
        if c.get("Image"):
            try:
                ImageRef.parse(c["Image"])
            except ImageReferenceError as exc:
                raise RulesError(f"template {name}: {exc}", source=source, field=field) from None
    if not body.get("ContainerGroupName"):
        raise RulesError(f"template {name}: ContainerGroupName is required", source=source, field=field)
    return body


_SECRET_FIELD = re.compile(r"(?:password|passwd|secret)\Z", re.IGNORECASE)


def _literal_secret(value: Any, path: str = "") -> str | None:
    """Where a template holds a credential in clear (e.g. `ImageRegistryCredential[0].Password`)."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SECRET_FIELD.search(key) and item not in (None, ""):
                return here
            found = _literal_secret(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _literal_secret(item, f"{path}[{index}]")
            if found:
                return found
    return None
