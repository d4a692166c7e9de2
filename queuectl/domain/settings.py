"""Configuration keys, their defaults and validation (SPEC section 7).

Values live in the store so that every worker on every host sees the same
ones. ``max-retries`` and ``max_retries`` are the same key: ``normalise_key``
is the one place that says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

from .errors import InvalidSetting


@dataclass(frozen=True)
class Settings:
    max_retries: int = 3
    backoff_base: float = 2.0
    backoff_max: float = 3600.0
    job_timeout: float = 0.0
    lease_seconds: float = 30.0
    poll_interval: float = 0.5

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


def _integer(minimum: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        value = raw if isinstance(raw, int) else int(str(raw).strip())
        if value < minimum:
            raise ValueError
        return value

    parse.rule = f"an integer >= {minimum}"  # type: ignore[attr-defined]
    return parse


def _number(minimum: float, inclusive: bool = True) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
        if not math.isfinite(value) or value < minimum or (not inclusive and value == minimum):
            raise ValueError
        return value

    parse.rule = f"a number {'>=' if inclusive else '>'} {minimum:g}"  # type: ignore[attr-defined]
    return parse


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "max_retries": _integer(0),
    "backoff_base": _number(1),
    "backoff_max": _number(0),
    "job_timeout": _number(0),
    "lease_seconds": _number(1),
    "poll_interval": _number(0, inclusive=False),
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
