"""Riding out a store outage: capped, jittered retry delays, one log line per outage.

A worker never ends because its store stopped answering (a server restart, a
network blip, a full disk, a lock held too long): each store call that fails
with ``StoreUnavailable`` is tried again after a pause that doubles from
``first`` up to ``cap``, each pause drawn at random between half and all of
that step, so workers that lost the store together do not all return in the
same instant. The outage is logged when it starts and when it ends, never
once per retry.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from . import defaults
from .errors import StoreUnavailable

log = logging.getLogger("queuectl.domain.execution")

# After an outage, a worker leaves other workers' expired leases alone this
# long: every live worker retries at least every OUTAGE_RETRY_CAP_SECONDS, so each
# renews its own lease first, and a job whose lease ran out only because the
# store was away is not run twice.
RECOVERY_GRACE_SECONDS = 2 * defaults.OUTAGE_RETRY_CAP_SECONDS


@dataclass(frozen=True)
class RetryPolicy:
    first: float = defaults.OUTAGE_RETRY_FIRST_SECONDS
    cap: float = defaults.OUTAGE_RETRY_CAP_SECONDS

    def delay(self, failures: int, fraction: float) -> float:
        """The pause after ``failures`` failed tries in a row (>= 1); ``fraction`` in [0, 1]."""
        step = min(self.cap, self.first * 2.0 ** min(max(failures, 1) - 1, 64))
        return step * (0.5 + 0.5 * min(max(fraction, 0.0), 1.0))


@dataclass
class Outage:
    """What one worker knows of its store: up, or down since when and after how many failures."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    fraction: Callable[[], float] = random.random
    since: datetime | None = None
    failures: int = 0
    ended: datetime | None = None

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, error: StoreUnavailable, now: datetime) -> float:
        """Note a failed call; the seconds to wait before the next try."""
        if self.since is None:
            self.since = now
            log.warning("store unavailable: %s; retrying", error)
        self.failures += 1
        return self.policy.delay(self.failures, self.fraction())

    def answered(self, now: datetime) -> None:
        """Note a call that succeeded: the end of the outage, if there was one."""
        if self.since is not None:
            log.warning("store back after %.1f s (%d failed tries)", (now - self.since).total_seconds(),
                        self.failures)
            self.since, self.failures, self.ended = None, 0, now

    def settling(self, now: datetime) -> bool:
        """True during an outage and for ``RECOVERY_GRACE_SECONDS`` after it."""
        return self.down or (self.ended is not None
                             and (now - self.ended).total_seconds() < RECOVERY_GRACE_SECONDS)
