"""Settings from the environment (documented in docs/settings.md). The `FC_` prefix belongs to Function Compute."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .errors import ConfigError
from .secrets import Secret

N = TypeVar("N", int, float)


def env_number(env: Mapping[str, str], name: str, default: N, kind: Callable[[str], N], *, least: N) -> N:
    """A numeric setting: `default` when unset or empty, else `kind(value)`, at least `least`; anything
    else is one ConfigError naming the variable and its value."""
    raw = env.get(name)
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be {what} of at least {least}, not {raw!r}") from None
    if value < least:
        raise ConfigError(f"{name} must be {what} of at least {least}, not {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    rules_path: Path
    webhook_token: Secret | None = None
    hmac_secret: Secret | None = None
    replay_window_seconds: int = 300
    worker_function: str | None = None  # FC 3.0 function name, or FC 2.0 function with worker_service
    worker_service: str | None = None
    fc_endpoint: str | None = None
    account_id: str | None = None
    region: str | None = None
    clock_skew_seconds: int = 300  # core.clock: how far a push time may be later than its receipt

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, default_rules: Path) -> Settings:
        def secret(name: str) -> Secret | None:
            value = env.get(name)
            return Secret(value) if value else None

        try:
            window = int(env.get("ECI_REDEPLOY_REPLAY_WINDOW_SECONDS", "300"))
        except ValueError:
            raise ConfigError("ECI_REDEPLOY_REPLAY_WINDOW_SECONDS must be a whole number of seconds") from None
        from .clock import skew

        return cls(
            clock_skew_seconds=int(skew(env).total_seconds()),  # checked up front: a bad value is a config error
            rules_path=Path(env.get("ECI_REDEPLOY_RULES") or default_rules),
            webhook_token=secret("ECI_REDEPLOY_WEBHOOK_TOKEN"),
            hmac_secret=secret("ECI_REDEPLOY_WEBHOOK_HMAC_SECRET"),
            replay_window_seconds=window,
            worker_function=env.get("ECI_REDEPLOY_WORKER_FUNCTION") or None,
            worker_service=env.get("ECI_REDEPLOY_WORKER_SERVICE") or None,
            fc_endpoint=env.get("ECI_REDEPLOY_FC_ENDPOINT") or None,
            account_id=env.get("FC_ACCOUNT_ID") or None,
            region=env.get("FC_REGION") or None,
        )
