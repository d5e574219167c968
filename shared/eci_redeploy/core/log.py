"""Structured logs: one JSON object per line on stderr (Function Compute ships it to Simple Log
Service). Every value passes through the secret mask first."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from .secrets import masked
from .visible import json_safe


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (FC and test runners replace it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


_logger = logging.getLogger("eci_redeploy")
if not _logger.handlers:
    _handler = _CurrentStderr()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _logger.addHandler(_handler)
    # ECI_REDEPLOY_LOG_LEVEL=WARNING quiets the per-call and audit lines (e.g. for a human at a terminal).
    _logger.setLevel(os.environ.get("ECI_REDEPLOY_LOG_LEVEL", "INFO").upper())
    _logger.propagate = False


def log_event(kind: str, **fields: Any) -> None:
    record = {"ts": round(time.time(), 3), "kind": kind, **masked(fields)}
    _logger.info(json_safe(json.dumps(record, default=str, ensure_ascii=False)))


def set_level(level: int) -> None:
    _logger.setLevel(level)
