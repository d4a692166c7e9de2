"""Time values as users see them: UTC ISO-8601 with milliseconds and a ``Z``.

Every instant a user gives lies within years 1-9999 in UTC, and every duration
is finite and at most ``defaults.DURATION_LIMIT``: nothing parsed here can
overflow a ``datetime`` later.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from . import defaults
from .errors import InvalidJob
from .quoting import quoted

_DURATION = re.compile(r"\s*([0-9]{1,20}(?:\.[0-9]{1,20})?)\s*([smhd]?)\s*")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": defaults.DAY_SECONDS}
# The last millisecond: a later instant's epoch float (…59.99999) can round up into year 10000.
LATEST = datetime(defaults.LATEST_YEAR, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc)
_LATEST_EPOCH = LATEST.timestamp()
EARLIEST = datetime(1, 1, 1, tzinfo=timezone.utc)


def format_time(value: datetime | None) -> str | None:
    """``2026-11-28T12:00:00.123Z``; None stays None."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    return f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_time(text: object) -> datetime:
    """An ISO-8601 instant; a value without an offset is taken as UTC."""
    value = None
    if isinstance(text, str):
        try:
            value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
    if value is None:
        raise InvalidJob(f"invalid time {quoted(text)}: expected ISO-8601 such as 2026-01-31T12:00:00Z")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is in year 10000 in UTC
        value = None
    if value is None or value > LATEST:
        raise InvalidJob(f"time {quoted(text)} is outside years 1-{defaults.LATEST_YEAR} in UTC") from None
    return value


def parse_duration(text: object, limit: float = defaults.DURATION_LIMIT) -> timedelta:
    """``30`` / ``30s`` / ``5m`` / ``2h`` / ``1d`` -> timedelta, at most ``limit`` seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text) if text >= 0 else math.nan
    else:
        match = _DURATION.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise InvalidJob(f"invalid duration {quoted(text)}: use seconds or a number with s, m, h or d")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not math.isfinite(seconds) or not 0 <= seconds <= limit:
        raise InvalidJob(f"invalid duration {quoted(text)}: use 0 to {duration_text(limit)}")
    return timedelta(seconds=seconds)


def duration_text(seconds: float) -> str:
    """A limit for people: ``30d``, ``2h``, ``90s``."""
    for unit in ("d", "h", "m"):
        if seconds >= _UNIT_SECONDS[unit] and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{int(seconds // _UNIT_SECONDS[unit])}{unit}"
    return f"{seconds:g}s"


def later(now: datetime, delay: timedelta) -> datetime:
    """``now + delay``, which must land within year 9999."""
    if delay > LATEST - now:
        raise InvalidJob(f"a delay of {duration_text(delay.total_seconds())} lands after year "
                         f"{defaults.LATEST_YEAR}")
    return now + delay


def earlier(now: datetime, window: timedelta) -> datetime:
    """``now - window``, or the first instant of the calendar if that lies before it."""
    return EARLIEST if window >= now - EARLIEST else now - window


def bounded_seconds(value: object, limit: float = defaults.TIMEOUT_LIMIT) -> float:
    """A stored number of seconds made safe: 0 to ``limit``; NaN, infinity or garbage count as ``limit``.

    For rows written before the bounds existed (a timeout of ``inf``, say):
    such a value must never stop a worker.
    """
    if value is None:
        return 0.0
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return float(limit)
    if math.isnan(seconds):
        return float(limit)
    return min(max(seconds, 0.0), float(limit))


def to_epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def from_epoch(value: float | None) -> datetime | None:
    """A stored epoch as a time; one past ``LATEST`` (stored by an older version) reads as ``LATEST``."""
    return None if value is None else datetime.fromtimestamp(min(value, _LATEST_EPOCH), timezone.utc)


def bounded_timedelta(value: float) -> timedelta:
    """``bounded_seconds`` as a timedelta: a row stored before the bounds (a timeout of inf) must not end a worker."""
    return timedelta(seconds=bounded_seconds(value))
