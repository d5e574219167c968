"""Time as the execution modules see it: injectable, so tests and the fake advance it without sleeping.

Its own module because rollout and prewarm both wait on it and prewarm is called by rollout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Clock:
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.monotonic
