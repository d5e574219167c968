"""The timer function: one reconcile per tick, against the real ECI API and the registries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..adapters import parse_payload
from ..errors import EciRedeployError
from ..log import log_event
from ..pushevent import TimerTick
from ..settings import Settings
from . import common


def handle_tick(event: bytes, context: Any, *, default_rules: Path, gateway: Any = None) -> dict[str, Any]:
    env = common.environment()
    try:
        settings = Settings.from_env(env, default_rules=default_rules)
        ticks = [p for p in parse_payload(event, source="timer") if isinstance(p, TimerTick)]
        if not ticks:
            return {"ok": False, "error": "not a timer event"}
        rules = common.rules_for(settings.rules_path)
        result = run_reconcile(rules, env, context, gateway=gateway)
    except EciRedeployError as exc:
        log_event("failed", function="timer", error=exc.one_line(), request_id=common.request_id(context))
        return {"ok": False, "error": exc.one_line()}
    log_event(
        "reconcile.done",
        trigger=ticks[0].trigger_name,
        changed=len(result.report.outcomes),
        wanted=result.wanted,
        registry_requests=result.registry_requests,
    )
    return {"ok": not result.report.failed, **result.to_json()}


def run_reconcile(
    rules: Any, env: Any, context: Any = None, *, gateway: Any = None, dry_run: bool = False, gate_context: Any = None
) -> Any:
    from ..gates.handlers import run_release
    from ..reconcile import reconcile

    gateway = gateway or common.gateway_factory(env, context)
    # Held changes whose gates opened go first (gates/); the reconcile then sees them in flight.
    released = run_release(rules, gateway, env, context, dry_run=dry_run, gate_context=gate_context)
    clients = common.registry_clients(
        env, context, max_requests=int(env.get("ECI_REDEPLOY_REGISTRY_MAX_REQUESTS", "50"))
    )
    spread = float(env.get("ECI_REDEPLOY_RECONCILE_SPREAD_SECONDS", "0"))
    result = reconcile(
        rules, gateway, clients, env, spread_seconds=spread, dry_run=dry_run, gate_context=gate_context
    )
    result.released = released
    return result
