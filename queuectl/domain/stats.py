"""What ``stats``, the dashboard and ``/metrics`` report, as values a store computes.

A store fills ``QueueStats`` and ``AttemptTotals`` with aggregations of its own
(SQL, MongoDB pipelines), never by loading every job; this module only adds
the arithmetic on top: rates, the success rate, ages. The window ends at
``now`` and starts at ``since``; an attempt belongs to it when it finished in
``[since, now]``.

An attempt *ran* when its outcome is completed, failed or dead: released and
cancelled attempts were interrupted and count neither as a success nor as a
failure, nor in the durations.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping, Sequence

from .model import WAITING, JobState

RAN = (JobState.COMPLETED, JobState.FAILED, JobState.DEAD)
FAILED_OUTCOMES = (JobState.FAILED, JobState.DEAD)
# The duration histogram's upper bounds, seconds: shell jobs run from milliseconds to hours.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def rank_index(count: int, quantile: float) -> int:
    """The 0-based position of ``quantile`` in ``count`` sorted values (nearest rank)."""
    return max(0, math.ceil(quantile * count) - 1)


def nearest_rank(sorted_values: Sequence[float], quantile: float) -> float | None:
    return sorted_values[rank_index(len(sorted_values), quantile)] if sorted_values else None


@dataclass(frozen=True)
class Durations:
    """Run time of the attempts that ran and finished in the window, seconds."""

    count: int = 0
    p50: float | None = None
    p95: float | None = None
    max: float | None = None


class _OutcomeCounts:
    """``completed`` and ``failed`` read from an ``outcomes`` mapping of attempts."""

    outcomes: Mapping[JobState, int]

    @property
    def completed(self) -> int:
        return self.outcomes.get(JobState.COMPLETED, 0)

    @property
    def failed(self) -> int:
        """Failed attempts: those retried later and those that sent their job to the DLQ."""
        return sum(self.outcomes.get(state, 0) for state in FAILED_OUTCOMES)


@dataclass(frozen=True)
class QueueStats(_OutcomeCounts):
    now: datetime
    since: datetime
    # jobs per queue and state, zero counts left out
    jobs_by_queue: Mapping[str, Mapping[JobState, int]] = field(default_factory=dict)
    # attempts that closed in the window, per outcome
    outcomes: Mapping[JobState, int] = field(default_factory=dict)
    durations: Durations = Durations()
    # run_at of the waiting job that has been due longest (None: nothing is due)
    oldest_due_run_at: datetime | None = None

    @property
    def window_seconds(self) -> float:
        return max((self.now - self.since).total_seconds(), 0.0)

    @property
    def jobs(self) -> dict[JobState, int]:
        """Every state with its count, zeros included."""
        totals = {state: 0 for state in JobState}
        for states in self.jobs_by_queue.values():
            for state, count in states.items():
                totals[state] += count
        return totals

    @property
    def queue_depth(self) -> dict[str, int]:
        """Waiting jobs (pending or failed) per queue; queues with none are left out."""
        depth = {queue: sum(states.get(state, 0) for state in WAITING)
                 for queue, states in sorted(self.jobs_by_queue.items())}
        return {queue: count for queue, count in depth.items() if count}


    def per_minute(self, count: int) -> float:
        minutes = self.window_seconds / 60
        return count / minutes if minutes else 0.0

    @property
    def success_rate(self) -> float | None:
        """Completed attempts among the attempts that ran; None when none ran."""
        ran = self.completed + self.failed
        return self.completed / ran if ran else None

    @property
    def oldest_waiting_age(self) -> float | None:
        """Seconds the longest-due waiting job has waited since it became due."""
        if self.oldest_due_run_at is None:
            return None
        return max((self.now - self.oldest_due_run_at).total_seconds(), 0.0)

    @property
    def retries_scheduled(self) -> int:
        return self.jobs[JobState.FAILED]

    @property
    def dlq_size(self) -> int:
        return self.jobs[JobState.DEAD]


@dataclass(frozen=True)
class AttemptTotals(_OutcomeCounts):
    """Every attempt ever recorded, by outcome: counts that never decrease.

    ``buckets`` pairs each upper bound with the number of attempts that ran at
    most that long (cumulative, as Prometheus wants it).
    """

    outcomes: Mapping[JobState, int] = field(default_factory=dict)
    buckets: tuple[tuple[float, int], ...] = ()
    duration_count: int = 0
    duration_sum: float = 0.0


    @property
    def dead(self) -> int:
        return self.outcomes.get(JobState.DEAD, 0)

    def __add__(self, other: "AttemptTotals") -> "AttemptTotals":
        """The totals of two disjoint sets of attempts (same bucket bounds)."""
        outcomes = {state: self.outcomes.get(state, 0) + other.outcomes.get(state, 0)
                    for state in {*self.outcomes, *other.outcomes}}
        counts = dict(self.buckets)
        for bound, count in other.buckets:
            counts[bound] = counts.get(bound, 0) + count
        return AttemptTotals(outcomes, tuple(sorted(counts.items())), self.duration_count + other.duration_count,
                             self.duration_sum + other.duration_sum)


class RunningTotals:
    """All-time totals kept current without rescanning every attempt on each call.

    Attempts that finished before a cutoff (``settle`` before now) are counted
    once and kept; each call adds those that settled since the last call and
    recounts only the recent ones. An attempt is recorded the moment it ends,
    so one whose ``finished_at`` is more than ``settle`` old when it is written
    (a worker clock that far behind) would be missed, never counted twice.
    """

    def __init__(self, count: Callable[[datetime | None, datetime | None], AttemptTotals],
                 settle: timedelta = timedelta(minutes=5)) -> None:
        self._count = count  # (since, until) -> totals of attempts finished in [since, until)
        self._settle = settle
        self._settled: AttemptTotals | None = None
        self._cutoff: datetime | None = None
        self._lock = threading.Lock()

    def totals(self, now: datetime) -> AttemptTotals:
        with self._lock:
            cutoff = now - self._settle
            if self._settled is None or self._cutoff is None:
                self._settled, self._cutoff = self._count(None, cutoff), cutoff
            elif cutoff > self._cutoff:
                self._settled += self._count(self._cutoff, cutoff)
                self._cutoff = cutoff
            return self._settled + self._count(self._cutoff, None)
