"""Progress lines for a person at a terminal: the CLI turns them on (to stderr) for long operations
(batch n/m, waiting for health, time left); functions leave them off, their JSON logs say the same."""

from __future__ import annotations

import contextlib
from typing import TextIO

_sink: TextIO | None = None


def enable(stream: TextIO | None) -> None:
    global _sink
    _sink = stream


def say(message: str) -> None:
    if _sink is not None:
        with contextlib.suppress(OSError, ValueError):  # a closed terminal must not fail a rollout
            print(f"eci-redeploy: {message}", file=_sink, flush=True)
