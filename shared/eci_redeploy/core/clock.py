"""The product's own clock, and how far ahead of it a payload's time may be (issue 23).

A push time is whatever the sender wrote: a Distribution `"timestamp": "2099-01-01T00:00:00Z"` is as
easy to send as a real one, and a time in the future wins every "which push is newer" by time, then
is recorded on the group and makes every genuine push after it look older. So the product's clock
bounds it where a payload is read (`ahead_of`, called by `events.adapters.parse_body`): a push time
later than receipt by more than the skew (`ECI_REDEPLOY_MAX_CLOCK_SKEW_SECONDS`, default 300:
registries and FC hosts are NTP-synced, and a legitimate push cannot be later than its own
notification) is refused, that event only (the reply names it, an audit line with outcome
`refused` says why). Not clamped to receipt: receipt is the latest time a genuine push can have, so a
clamped forgery would still beat every genuine push of the same delivery. A time in the past is kept:
it cannot win against what came later, only lose. `trusted_ms` is the same bound for
times read back later (a record written before this bound existed, a hand-edited tag): later than
now + skew is no evidence of order at all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

SKEW_ENV = "ECI_REDEPLOY_MAX_CLOCK_SKEW_SECONDS"
DEFAULT_SKEW_SECONDS = 300
MAX_SKEW_SECONDS = 24 * 3600  # a day: anything larger is no bound


def _wall() -> datetime:
    return datetime.now(timezone.utc)


CLOCK: Callable[[], datetime] = _wall  # tests may replace it


def now() -> datetime:
    return CLOCK()


_SKEWS: dict[str, timedelta] = {}  # by the variable's text: read per comparison, parsed once


def skew(env: Mapping[str, str] | None = None) -> timedelta:
    """The allowed skew from the environment (os.environ by default: the functions read it there)."""
    raw = (os.environ if env is None else env).get(SKEW_ENV, "").strip()
    found = _SKEWS.get(raw)
    if found is not None:
        return found
    if not raw:
        found = timedelta(seconds=DEFAULT_SKEW_SECONDS)
    elif raw.isascii() and raw.isdigit() and int(raw) <= MAX_SKEW_SECONDS:
        found = timedelta(seconds=int(raw))
    else:
        from .errors import ConfigError

        raise ConfigError(f"{SKEW_ENV} must be a whole number of seconds from 0 to {MAX_SKEW_SECONDS}, not {raw!r}")
    _SKEWS[raw] = found
    return found


def ahead_of(time: datetime | None, received: datetime, allowed: timedelta) -> str | None:
    """Why a push time read at `received` is refused (later than receipt by more than `allowed`), or None."""
    if time is None:
        return None
    if time.tzinfo is None:  # no adapter makes one; compared as UTC rather than failing
        time = time.replace(tzinfo=timezone.utc)
    if time - received <= allowed:
        return None
    return (
        f"push time {time.isoformat()} is later than its receipt at {received.isoformat()} by more than "
        f"{int(allowed.total_seconds())} s ({SKEW_ENV}): refused, nothing is planned for it"
    )


def trusted_ms(ms: int | None, at: datetime | None = None, allowed: timedelta | None = None) -> int | None:
    """A time read back (Unix ms), or None when it is later than the clock by more than the skew."""
    if ms is None:
        return None
    # the wall clock without building a datetime: asked once per push compared
    wall = at is None and CLOCK is _wall
    now_ms = time.time() * 1000 if wall else (at or now()).timestamp() * 1000
    ceiling = now_ms + (allowed if allowed is not None else skew()).total_seconds() * 1000
    return ms if ms <= ceiling else None
