"""The `gates` section of the rules file: what must be true before a push reaches a rule's groups.

Pure (pydantic models and time arithmetic, no I/O), so the rules model (model.py) can import it and the JSON Schema
shows every key. Durations are `15m`, `24h`, `1h30m`, `2d`; windows name weekdays, an `HH:MM-HH:MM`
range (the end is exclusive; an end before the start runs past midnight) and an IANA time zone.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# ACR EE's scan summary counts High / Medium / Low / Unknown; Trivy results also say Critical.
SEVERITIES = ("unknown", "low", "medium", "high", "critical")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def parse_duration(text: str) -> timedelta:
    """`15m`, `24h`, `1h30m`, `2d`, `90s` -> timedelta; anything else is a ValueError naming the text."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration (e.g. 15m, 24h, 1h30m, 2d)")
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Shanghai, UTC)") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ScanGate(_Strict):
    max_severity: Literal["none", "unknown", "low", "medium", "high", "critical"] = Field(
        "medium",
        description="the highest vulnerability severity allowed (ACR EE scan); 'none': no finding at all",
    )

    def allows(self, counts: dict[str, int]) -> bool:
        return not self.blocking(counts)

    def blocking(self, counts: dict[str, int]) -> dict[str, int]:
        """The counts above the threshold (empty: the scan passes)."""
        limit = -1 if self.max_severity == "none" else SEVERITIES.index(self.max_severity)
        return {s: n for s, n in counts.items() if n and s in SEVERITIES and SEVERITIES.index(s) > limit}


class WindowGate(_Strict):
    days: list[Day] = Field(
        default_factory=lambda: list(DAYS), description="weekdays the window opens on (default: every day)"
    )
    hours: str = Field("00:00-24:00", description="HH:MM-HH:MM in the zone; an end before the start runs past midnight")
    timezone: str = Field("UTC", description="IANA time zone, e.g. Asia/Shanghai")

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        match = _HOURS.match(v)
        if not match or (match.group(3) == "24" and match.group(4) != "00") or v[:5] == v[6:]:
            raise ValueError(f"{v!r} is not a window like '02:00-05:00' (24:00 ends a day; start and end differ)")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        zone(v)
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[Day]) -> list[Day]:
        if not v:
            raise ValueError("name at least one day")
        return v

    def _bounds(self) -> tuple[int, int]:
        start = int(self.hours[0:2]) * 60 + int(self.hours[3:5])
        end = int(self.hours[6:8]) * 60 + int(self.hours[9:11])
        return start, end

    def open_at(self, when: datetime) -> bool:
        local = when.astimezone(zone(self.timezone))
        start, end = self._bounds()
        minute = local.hour * 60 + local.minute
        today = DAYS[local.weekday()]
        yesterday = DAYS[(local.weekday() - 1) % 7]
        if start < end:
            return today in self.days and start <= minute < end
        # Past midnight: the evening part belongs to today, the morning part to the day before.
        return (today in self.days and minute >= start) or (yesterday in self.days and minute < end)

    def next_open(self, when: datetime) -> datetime:
        """The next time the window opens at or after `when` (`when` itself if it is open)."""
        if self.open_at(when):
            return when
        tz = zone(self.timezone)
        local = when.astimezone(tz)
        start, _ = self._bounds()
        for offset in range(0, 9):
            day = (local + timedelta(days=offset)).date()
            if DAYS[day.weekday()] not in self.days:
                continue
            candidate = datetime.combine(day, time(start // 60, start % 60), tzinfo=tz)
            if candidate >= local:
                return candidate.astimezone(when.tzinfo)
        raise AssertionError("a window with at least one day opens within a week")


class ApprovalGate(_Strict):
    approvers_env: str = Field(
        pattern=ENV_NAME,
        description="variable holding the approvers as 'name:token' pairs, comma-separated (a token alone is allowed)",
    )
    expires: str = Field("24h", description="how long a held change waits for an approval before it is refused")

    @field_validator("expires")
    @classmethod
    def _expires(cls, v: str) -> str:
        if parse_duration(v) <= timedelta(0):
            raise ValueError("expires must be longer than 0")
        return v

    @property
    def expires_after(self) -> timedelta:
        return parse_duration(self.expires)


class Gates(_Strict):
    """Conditions a push must meet before it is deployed; each left out is not checked."""

    scan: ScanGate | None = Field(
        None, description="hold until ACR EE has scanned the digest; refuse above the threshold"
    )
    signed: bool = Field(False, description="hold until ACR EE has signed the digest")
    window: WindowGate | None = Field(None, description="deploy only inside this maintenance window")
    soak: str | None = Field(None, description="deploy only images at least this old, e.g. 15m (a newer push replaces)")
    approval: ApprovalGate | None = Field(None, description="hold until a person approves (POST /approvals/<id>)")

    @field_validator("soak")
    @classmethod
    def _soak(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    @property
    def soak_for(self) -> timedelta | None:
        return parse_duration(self.soak) if self.soak else None

    @property
    def active(self) -> bool:
        return bool(self.scan or self.signed or self.window or self.soak or self.approval)
