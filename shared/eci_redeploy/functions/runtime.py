"""Shared by the handlers: settings, cached rules, and the factories tests replace (pytest-mock)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..rules.model import RuleSet, load_rules

_rules_cache: dict[str, tuple[float, RuleSet]] = {}


def rules_for(path: Path) -> RuleSet:
    """Parsed once per instance and again only when the file changes."""
    key = str(path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    cached = _rules_cache.get(key)
    if cached and cached[0] == mtime:
        return cached[1]
    rules = load_rules(path)
    _rules_cache[key] = (mtime, rules)
    return rules


def gateway_factory(env: Mapping[str, str], context: Any) -> Any:
    from ..clients.eci import EciGateway
    from .permissions import role_of

    gateway = EciGateway.from_env(env, context)
    # What the function's role allows (s.yaml, deploy/ram/): refused here, named, before the cloud says Forbidden.
    gateway.allowed = role_of(getattr(getattr(context, "function", None), "name", None))
    return gateway


def dispatcher_factory(settings: Any, env: Mapping[str, str], context: Any) -> Any:
    from ..clients.eci import Credentials
    from ..execution.dispatch import dispatcher_from_settings

    return dispatcher_from_settings(settings, Credentials.from_env(env, context))


def registry_clients(env: Mapping[str, str], context: Any, **limits: Any) -> Any:
    """Registry clients per rule; ACR Enterprise Edition logins come from GetAuthorizationToken with
    the function's role, so no registry password needs storing."""
    from ..clients.acr_token import acr_token_provider
    from ..clients.eci import Credentials
    from ..core.errors import EciRedeployError
    from ..operations.reconcile import client_factory

    try:
        token = acr_token_provider(Credentials.from_env(env, context), env.get("ECI_REDEPLOY_ACR_ENDPOINT"))
    except EciRedeployError:
        token = None  # no credentials (local runs): ACR EE registries then need pull.credentials
    return client_factory(env, acr_token=token, **limits)


def environment() -> Mapping[str, str]:
    return os.environ


def request_id(context: Any) -> str | None:
    return getattr(context, "request_id", None) or getattr(context, "requestId", None)


__all__ = ["dispatcher_factory", "environment", "gateway_factory", "rules_for"]
