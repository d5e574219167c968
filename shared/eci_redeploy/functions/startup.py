"""The first matched event of an instance makes ~105,000 objects (the ECI SDK, pydantic, the rules
model) before it sends its first request. With the cyclic garbage collector at its defaults that
is ~150 collections, each walking a heap that only grows: 50-90 ms of a 355-395 ms cold start spent
proving that freshly imported modules are alive (bench/cold_start.py, docs/performance.md).

So the modules a path will need are imported (and the rules loaded: validating them builds pydantic's
schemas) up front with the collector paused, then frozen (`gc.freeze`: moved to the permanent
generation, which later collections do not walk; modules live as long as the process anyway), and
the collector is enabled again before any request goes out. The price: whatever cyclic garbage the
imports left (~1,800 objects, under 1 MB) is never collected. The rollout itself, which may poll
for minutes, always runs with the collector on.

One lock around it all: FC may run several invocations of an instance at once (instanceConcurrency),
and two threads each saving and restoring the collector's state could leave it off for good."""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import threading
from collections.abc import Mapping
from pathlib import Path

_warmed: set[str] = set()
_lock = threading.Lock()

# What talking to ECI needs, and what handing work to the worker needs (FC 3.0's SDK, or aliyun-fc2
# when the worker lives in an FC 2.0 service).
ECI = ("eci_redeploy.pipeline", "eci_redeploy.clients.eci", "alibabacloud_eci20180808.client")
FC3 = ("eci_redeploy.execution.dispatch", "alibabacloud_fc20230330.client")
FC2 = ("eci_redeploy.execution.dispatch", "fc2")


def warm(*modules: str, rules: Path | None = None) -> None:
    """Import these modules and load the rules (once per process) with the collector paused, then
    freeze what that made. Rules that do not load are left for the handler, which reports them; a
    module that fails to import is tried again by the next call, and nothing is frozen."""
    with _lock:
        missing = [m for m in modules if m not in _warmed]
        if not missing:
            return
        was_enabled = gc.isenabled()
        try:
            gc.disable()
            for name in missing:
                importlib.import_module(name)
                _warmed.add(name)
            if rules is not None:
                _load(rules)
            gc.freeze()
        finally:
            if was_enabled:
                gc.enable()


def _load(rules: Path) -> None:
    from ..core.errors import EciRedeployError
    from .runtime import rules_for

    # Cached by path and mtime, so the handler's own call finds them; rules that do not load are
    # loaded again by the handler, inside its error handling, which says what is wrong.
    with contextlib.suppress(EciRedeployError):
        rules_for(rules)


def hand_off_modules(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The hand-off's SDK when a worker function is configured, else nothing."""
    env = os.environ if env is None else env
    if not env.get("ECI_REDEPLOY_WORKER_FUNCTION"):
        return ()
    return FC2 if env.get("ECI_REDEPLOY_WORKER_SERVICE") else FC3


def push_modules(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """A push is applied here (the ECI SDK) or handed to the worker (only the hand-off's SDK)."""
    return hand_off_modules(env) or ECI
