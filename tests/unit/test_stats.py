"""Stats: the arithmetic on the store's figures, the service's window, and their rendering."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import WorkerInfo, WorkerRef
from queuectl.domain.services import StatsService
from queuectl.domain.stats import Durations, QueueStats, nearest_rank
from queuectl.entrypoints import render

from .fakes import T0, FakeClock

P, F, C, D = JobState.PENDING, JobState.FAILED, JobState.COMPLETED, JobState.DEAD
STATS_KEYS = ["now", "since", "window_seconds", "jobs", "completed", "failed", "completed_per_minute",
              "failed_per_minute", "success_rate", "duration_seconds", "queue_depth",
              "oldest_waiting_age_seconds", "retries_scheduled", "dlq_size", "queues"]


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def figures(**fields) -> QueueStats:
    return QueueStats(now=at(0), since=at(-600), **fields)


@pytest.mark.parametrize("values, quantile, expected", [
    ([], 0.5, None), ([7.0], 0.95, 7.0), ([1, 2, 3, 4], 0.5, 2), ([1, 2, 3, 4], 0.95, 4),
    (list(range(1, 101)), 0.95, 95), (list(range(1, 101)), 0.5, 50),
])
def test_percentiles_take_the_nearest_rank(values, quantile, expected):
    assert nearest_rank(values, quantile) == expected


def test_rates_and_the_success_rate_come_from_the_window_counts():
    stats = figures(outcomes={C: 30, F: 6, D: 4, P: 2})
    assert (stats.window_seconds, stats.completed, stats.failed) == (600, 30, 10)
    assert (stats.per_minute(stats.completed), stats.success_rate) == (3.0, 0.75)
    assert figures(outcomes={P: 3}).success_rate is None  # releases are not runs


def test_counts_depth_and_ages_come_from_the_jobs_per_queue():
    stats = figures(jobs_by_queue={"a": {P: 2, F: 1, D: 1}, "b": {C: 5}}, oldest_due_run_at=at(-90))
    assert stats.jobs == {P: 2, JobState.BLOCKED: 0, JobState.PROCESSING: 0, C: 5, F: 1, D: 1, JobState.CANCELLED: 0}
    assert stats.queue_depth == {"a": 3}
    assert (stats.retries_scheduled, stats.dlq_size, stats.oldest_waiting_age) == (1, 1, 90)
    assert figures().oldest_waiting_age is None


def test_the_service_asks_the_store_for_the_window_ending_now():
    store, clock = InMemoryStore(), FakeClock(at(0))
    store.jobs.add(Job.new("a", "true", at(-300)))
    job = store.jobs.claim_next(WorkerRef("w", "h"), at(-300), at(-270))
    token = job.lease_token
    job.fail(at(-297), "exit code 1", BackoffPolicy(base=2), exit_code=1)
    store.jobs.record_outcome(job, token)
    stats = StatsService(store, clock).stats(timedelta(minutes=10))
    assert (stats.now, stats.since, stats.failed, stats.durations.max) == (at(0), at(-600), 1, 3.0)
    assert StatsService(store, clock).stats(timedelta(minutes=1)).failed == 0


def test_live_workers_are_those_beating_within_the_lease():
    store, clock = InMemoryStore(), FakeClock(at(0))
    for worker_id, beat in (("fresh", at(-5)), ("stale", at(-31))):
        store.workers.register(WorkerInfo(worker_id, "h", 1, 1.0, (), at(-60), beat))
    assert StatsService(store, clock).live_workers() == 1


def test_stats_json_has_the_documented_keys():
    stats = figures(jobs_by_queue={"a": {P: 2}}, outcomes={C: 2, F: 1},
                    durations=Durations(3, 1.5, 2.25, 2.25), oldest_due_run_at=at(-12.5))
    data = render.stats_dict(stats)
    assert list(data) == STATS_KEYS
    assert data["jobs"]["pending"] == 2 and data["queues"] == {"a": {**{s.value: 0 for s in JobState}, "pending": 2}}
    assert (data["window_seconds"], data["completed_per_minute"], data["success_rate"]) == (600, 0.2, 0.6667)
    assert data["duration_seconds"] == {"count": 3, "p50": 1.5, "p95": 2.25, "max": 2.25}
    assert (data["oldest_waiting_age_seconds"], data["queue_depth"]) == (12.5, {"a": 2})


def test_stats_text_names_every_figure():
    text = render.stats_text(figures(outcomes={C: 1}, durations=Durations(1, 0.25, 0.25, 0.25)))
    assert text.splitlines()[0] == f"window             last 10m (since {render.format_time(at(-600))})"
    assert "success_rate       100.0%" in text and "p50 250ms" in text
    assert text.endswith("No jobs waiting.")


@pytest.mark.parametrize("seconds, shown", [
    (None, "-"), (0.0123, "12ms"), (2.0, "2s"), (12.25, "12.2s"), (65, "1m 05s"), (3600, "1h"),
    (7380, "2h 03m"), (90000, "1d 01h"),
])
def test_durations_read_like_a_person_would_write_them(seconds, shown):
    assert render.seconds_text(seconds) == shown


def test_running_totals_count_settled_attempts_once_and_recount_only_recent_ones():
    from queuectl.domain.stats import AttemptTotals, RunningTotals

    finished = [at(-3600), at(-400), at(-30)]  # completed attempts, by finish time
    calls = []

    def count(since, until):
        calls.append((since, until))
        n = sum(1 for t in finished if (since is None or t >= since) and (until is None or t < until))
        return AttemptTotals({C: n} if n else {}, ((1.0, n),), n, float(n))

    running = RunningTotals(count, settle=timedelta(minutes=5))
    assert running.totals(at(0)).completed == 3
    assert calls == [(None, at(-300)), (at(-300), None)]
    finished.append(at(10))
    later = running.totals(at(60))
    assert (later.completed, later.buckets, later.duration_sum) == (4, ((1.0, 4),), 4.0)
    assert calls[2:] == [(at(-300), at(-240)), (at(-240), None)]
    assert running.totals(at(30)).completed == 4  # a clock step back reuses the cutoff
