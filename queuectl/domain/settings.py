"""Configuration keys, their defaults and validation (SPEC section 7).

Values live in the store so that every worker on every host sees the same
ones. ``max-retries`` and ``max_retries`` are the same key: ``normalise_key``
is the one place that says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

from . import defaults as D
from .errors import InvalidSetting


@dataclass(frozen=True)
class Settings:
    max_retries: int = D.MAX_RETRIES
    backoff_base: float = D.BACKOFF_BASE
    backoff_max: float = D.BACKOFF_MAX
    backoff_jitter: float = D.BACKOFF_JITTER
    job_timeout: float = D.JOB_TIMEOUT
    lease_seconds: float = D.LEASE_SECONDS
    poll_interval: float = D.POLL_INTERVAL
    output_max: int = D.OUTPUT_MAX
    retention: float = D.RETENTION
    history_max: int = D.HISTORY_MAX

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> "Settings":
        """Build from stored values; unknown or unparsable entries keep the default."""
        values = {}
        for key, raw in stored.items():
            try:
                name = normalise_key(key)
                values[name] = parse_value(name, raw)
            except InvalidSetting:
                continue
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _integer(minimum: int, maximum: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        value = raw if isinstance(raw, int) else int(str(raw).strip())
        if not minimum <= value <= maximum:
            raise ValueError
        return value

    parse.rule = f"an integer from {minimum} to {maximum}"  # type: ignore[attr-defined]
    return parse


def _number(minimum: float, maximum: float, inclusive: bool = True) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
        if not math.isfinite(value) or not minimum <= value <= maximum or (not inclusive and value == minimum):
            raise ValueError
        return value

    low = ">=" if inclusive else ">"
    parse.rule = f"a number {low} {minimum:g} and <= {maximum:g}"  # type: ignore[attr-defined]
    return parse


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2,
               "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3, "gib": 1024 ** 3}
_SIZE = re.compile(r"(\d{1,15})\s*([a-z]{0,3})")


def _size(minimum: int, maximum: int) -> Callable[[Any], int]:
    """Bytes: ``1048576``, ``64MiB``, ``512k`` (binary units)."""
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, int):
            value = raw
        else:
            match = _SIZE.fullmatch(str(raw).strip().lower())
            if not match or match.group(2) not in _SIZE_UNITS:
                raise ValueError
            value = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
        if not minimum <= value <= maximum:
            raise ValueError
        return value

    parse.rule = f"a size in bytes from {minimum} to {maximum} (units k, M, G allowed, e.g. 64MiB)"  # type: ignore[attr-defined]
    return parse


_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": D.DAY_SECONDS}
_DURATION = re.compile(r"(\d{1,12}(?:\.\d{1,9})?)\s*([smhd]?)")


def _decimal(pattern: re.Pattern[str], units: Mapping[str, float], maximum: float, rule: str) -> Callable[[Any], float]:
    """A number from 0 to ``maximum``: as is, or text that ``pattern`` matches whole (group 1 the
    number, group 2 its unit, a key of ``units``)."""
    def parse(raw: Any) -> float:
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, (int, float)):
            value = float(raw)
        else:
            match = pattern.fullmatch(str(raw).strip().lower())
            if not match:
                raise ValueError
            value = float(match.group(1)) * units[match.group(2)]
        if not math.isfinite(value) or not 0 <= value <= maximum:
            raise ValueError
        return value

    parse.rule = rule  # type: ignore[attr-defined]
    return parse


def _duration(maximum: float) -> Callable[[Any], float]:
    """Seconds: ``3600``, ``30d``, ``12h``; 0 means "off"."""
    return _decimal(_DURATION, _DURATION_UNITS, maximum,
                    f"a duration from 0 to {maximum / D.DAY_SECONDS:g}d (seconds, or with s, m, h, d)")


_FRACTION = re.compile(r"([0-9]{1,15}(?:\.[0-9]{1,15})?|\.[0-9]{1,15})()")


def _fraction() -> Callable[[Any], float]:
    """A share from 0 to 1 written as a plain decimal: ``0.2``, ``1``, ``.5``."""
    return _decimal(_FRACTION, {"": 1.0}, 1.0, "a number from 0 to 1 (e.g. 0.2)")


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "max_retries": _integer(0, D.MAX_RETRIES_LIMIT),
    "backoff_base": _number(1, D.BACKOFF_BASE_LIMIT),
    "backoff_max": _number(0, D.BACKOFF_MAX_LIMIT),
    "backoff_jitter": _fraction(),
    "job_timeout": _number(0, D.TIMEOUT_LIMIT),
    "lease_seconds": _number(*D.LEASE_SECONDS_RANGE),
    "poll_interval": _number(*D.POLL_INTERVAL_RANGE),
    "output_max": _size(*D.OUTPUT_MAX_RANGE),
    "retention": _duration(D.RETENTION_LIMIT),
    "history_max": _integer(*D.HISTORY_MAX_RANGE),
}

KEYS: tuple[str, ...] = tuple(_PARSERS)


def normalise_key(key: str) -> str:
    name = str(key).strip().lower().replace("-", "_")
    if name not in _PARSERS:
        raise InvalidSetting(f"unknown config key '{key}' (known: {', '.join(KEYS)})")
    return name


def parse_value(key: str, raw: Any) -> Any:
    """Validate ``raw`` for the (normalised) ``key``; raise InvalidSetting if it does not fit."""
    parser = _PARSERS[key]
    try:
        return parser(raw)
    except (TypeError, ValueError, OverflowError):
        raise InvalidSetting(f"invalid value '{raw}' for {key}: expected {parser.rule}") from None  # type: ignore[attr-defined]
