"""Retry delay: ``base ** n`` seconds after the n-th failed attempt, capped, then jittered.

With ``jitter`` j > 0 the capped delay is multiplied by a factor drawn uniformly
from [1 - j, 1 + j], so jobs that failed together for one cause come back spread
out rather than all at once (a capped delay may so reach ``maximum * (1 + j)``).
The random source is the policy's own: tests give it a seeded ``random.Random``;
with no jitter it is never called and the delays are exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from . import defaults
from .settings import Settings

_SYSTEM_RANDOM = random.Random()


@dataclass(frozen=True)
class BackoffPolicy:
    base: float = defaults.BACKOFF_BASE
    maximum: float = defaults.BACKOFF_MAX
    jitter: float = defaults.BACKOFF_JITTER
    rng: random.Random = field(default=_SYSTEM_RANDOM, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, rng: random.Random | None = None) -> "BackoffPolicy":
        return cls(base=settings.backoff_base, maximum=settings.backoff_max, jitter=settings.backoff_jitter,
                   rng=_SYSTEM_RANDOM if rng is None else rng)

    def delay(self, failed_attempts: int) -> timedelta:
        try:
            seconds = min(float(self.base) ** failed_attempts, self.maximum)
        except OverflowError:
            seconds = self.maximum
        if self.jitter > 0:
            seconds *= self.rng.uniform(1 - self.jitter, 1 + self.jitter)
        return timedelta(seconds=seconds)
