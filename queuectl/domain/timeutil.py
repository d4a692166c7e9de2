"""Time values as users see them: UTC ISO-8601 with milliseconds and a ``Z``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import InvalidJob

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def format_time(value: datetime | None) -> str | None:
    """``2026-11-28T12:00:00.123Z``; None stays None."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """An ISO-8601 instant; a value without an offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidJob(f"invalid time '{text}': expected ISO-8601 such as 2026-01-31T12:00:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_duration(text: str) -> timedelta:
    """``30`` / ``30s`` / ``5m`` / ``2h`` / ``1d`` -> timedelta."""
    match = _DURATION.match(str(text))
    if not match:
        raise InvalidJob(f"invalid duration '{text}': use seconds or a number with s, m, h or d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def to_epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)
