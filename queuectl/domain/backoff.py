"""Exponential retry delay: ``base ** n`` seconds after the n-th failed attempt, capped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from . import defaults
from .settings import Settings


@dataclass(frozen=True)
class BackoffPolicy:
    base: float = defaults.BACKOFF_BASE
    maximum: float = defaults.BACKOFF_MAX

    @classmethod
    def from_settings(cls, settings: Settings) -> "BackoffPolicy":
        return cls(base=settings.backoff_base, maximum=settings.backoff_max)

    def delay(self, failed_attempts: int) -> timedelta:
        try:
            seconds = min(float(self.base) ** failed_attempts, self.maximum)
        except OverflowError:
            seconds = self.maximum
        return timedelta(seconds=seconds)
