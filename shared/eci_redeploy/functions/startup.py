"""The first matched event of an instance makes ~105,000 objects (the ECI SDK, pydantic, the rules
model) before it sends its first request. With the cyclic garbage collector at its defaults that
is ~150 collections, each walking a heap that only grows: 60-70 ms of a ~360 ms cold start spent
proving that freshly imported modules are alive (bench/cold_start.py, README "Performance").

So the modules a path will need are imported (and the rules loaded: validating them builds pydantic's
schemas) up front with the collector paused, then frozen
(`gc.freeze`: moved out of every later collection, as CPython's docs advise for long-lived startup
state), and the collector is enabled again before any request goes out. The rollout itself, which
may poll for minutes, always runs with the collector on."""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
from collections.abc import Mapping
from pathlib import Path

_warmed: set[str] = set()

APPLY = ("eci_redeploy.pipeline", "eci_redeploy.clients.eci", "alibabacloud_eci20180808.client")
HAND_OFF = ("eci_redeploy.pipeline", "eci_redeploy.execution.dispatch")


def warm(*modules: str, rules: Path | None = None) -> None:
    """Import these modules and load the rules (once per process) with the collector paused, then
    freeze what that made. Rules that do not load are left for the handler, which reports them."""
    missing = [m for m in modules if m not in _warmed]
    if not missing:
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for name in missing:
            importlib.import_module(name)
            _warmed.add(name)
        if rules is not None:
            _load(rules)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _load(rules: Path) -> None:
    from ..core.errors import EciRedeployError
    from .runtime import rules_for

    # Cached by path and mtime, so the handler's own call finds them; rules that do not load are
    # loaded again by the handler, inside its error handling, which says what is wrong.
    with contextlib.suppress(EciRedeployError):
        rules_for(rules)


def apply_modules(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """What a push will import: the ECI SDK when this function applies the change itself, the
    hand-off (Function Compute's SDK, imported when the order is sent) when a worker applies it."""
    env = os.environ if env is None else env
    return HAND_OFF if env.get("ECI_REDEPLOY_WORKER_FUNCTION") else APPLY
