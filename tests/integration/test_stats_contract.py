"""The stats contract: every store computes the same figures from the same history.

One scenario, built through the model at fixed fake times, covers every state:
runs in and out of the window, a retry then the DLQ, a scheduled retry, a
cancelled and a released attempt, a running job and waiting jobs in two queues.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Store, WorkerRef

T = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
WORKER = WorkerRef("worker-1", "host-a")
QUICK = BackoffPolicy(base=2, maximum=3600)
SLOW = BackoffPolicy(base=10_000, maximum=100_000)  # the retry is due long after T

P, R, C, F, D, X = (JobState.PENDING, JobState.PROCESSING, JobState.COMPLETED, JobState.FAILED,
                    JobState.DEAD, JobState.CANCELLED)


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def claim(store: Store, start: float) -> Job:
    job = store.jobs.claim_next(WORKER, at(start), at(start + 30))
    assert job is not None
    return job


def run(store: Store, job_id: str, start: float, seconds: float, ok: bool = True,
        backoff: BackoffPolicy = QUICK, again: bool = False, **fields) -> Job:
    """Add the job (unless it runs ``again``), claim it at ``start``, record how it ended."""
    if not again:
        store.jobs.add(Job.new(job_id, "true", at(start), priority=100, **fields))
    job = claim(store, start)
    assert job.id == job_id
    token = job.lease_token
    if ok:
        job.succeed(at(start + seconds))
    else:
        job.fail(at(start + seconds), "exit code 1", backoff, exit_code=1)
    assert store.jobs.record_outcome(job, token)
    return job


@pytest.fixture
def scenario(store: Store) -> Store:
    run(store, "old", -7200, 100)              # outside a one-hour window
    run(store, "done-1", -600, 2)
    run(store, "done-2", -500, 4)
    run(store, "done-3", -400, 10)             # finishes at T-390
    run(store, "flaky", -300, 1, ok=False, max_retries=1)
    run(store, "flaky", -290, 1, ok=False, again=True)  # second failure: dead
    run(store, "retry", -200, 3, ok=False, backoff=SLOW)
    store.jobs.add(Job.new("cancelled", "true", at(-100), priority=100))
    claim(store, -100)
    store.jobs.cancel("cancelled", at(-95))
    store.jobs.add(Job.new("released", "true", at(-50), priority=100))
    job = claim(store, -50)
    token = job.lease_token
    job.release(at(-45))
    assert store.jobs.record_outcome(job, token)
    store.jobs.add(Job.new("running", "true", at(-20), priority=200))
    assert claim(store, -20).id == "running"
    store.jobs.add_many([Job.new("waiting-a", "true", at(-30), queue="emails"),
                         Job.new("waiting-b", "true", at(-120)),
                         Job.new("later", "true", at(0), queue="emails", run_at=at(3600))])
    return store


def test_attempts_record_the_state_their_job_moved_to(scenario):
    outcomes = {job_id: [a.outcome for a in scenario.jobs.get(job_id).history]
                for job_id in ("done-1", "flaky", "retry", "cancelled", "released", "running")}
    assert outcomes == {"done-1": [C], "flaky": [F, D], "retry": [F], "cancelled": [X],
                        "released": [P], "running": [None]}


def test_stats_count_jobs_per_state_and_queue(scenario):
    stats = scenario.stats.stats(T, T - HOUR)
    assert stats.jobs == {P: 4, JobState.BLOCKED: 0, R: 1, C: 4, F: 1, D: 1, X: 1}
    assert {queue: dict(states) for queue, states in stats.jobs_by_queue.items()} == {
        "default": {P: 2, R: 1, C: 4, F: 1, D: 1, X: 1}, "emails": {P: 2}}
    assert stats.queue_depth == {"default": 3, "emails": 2}
    assert (stats.retries_scheduled, stats.dlq_size) == (1, 1)


def test_the_oldest_waiting_job_is_the_one_due_longest(scenario):
    stats = scenario.stats.stats(T, T - HOUR)
    assert stats.oldest_due_run_at == at(-120)
    assert stats.oldest_waiting_age == pytest.approx(120)
    assert scenario.stats.stats(at(-200), at(-200) - HOUR).oldest_due_run_at is None


def test_stats_count_the_attempts_that_closed_in_the_window_by_outcome(scenario):
    stats = scenario.stats.stats(T, T - HOUR)
    assert dict(stats.outcomes) == {C: 3, F: 2, D: 1, X: 1, P: 1}
    assert (stats.completed, stats.failed, stats.success_rate) == (3, 3, 0.5)
    assert stats.per_minute(stats.completed) == pytest.approx(3 / 60)


def test_duration_percentiles_cover_the_attempts_that_ran_in_the_window(scenario):
    durations = scenario.stats.stats(T, T - HOUR).durations  # runs of 1, 1, 2, 3, 4 and 10 s
    assert durations.count == 6
    assert (durations.p50, durations.p95, durations.max) == (pytest.approx(2), pytest.approx(10),
                                                             pytest.approx(10))


def test_the_window_bounds_are_inclusive_and_narrow_every_figure(scenario):
    stats = scenario.stats.stats(T, at(-390))  # done-3 finished exactly at T-390
    assert (stats.completed, stats.failed, stats.durations.count) == (1, 3, 4)
    assert stats.durations.max == pytest.approx(10)
    assert scenario.stats.stats(at(-390), at(-7200)).completed == 4
    assert scenario.stats.stats(at(-390) - timedelta(milliseconds=1), at(-7200)).completed == 3


def test_stats_of_an_empty_store_are_zeros_and_nones(store):
    stats = store.stats.stats(T, T - HOUR)
    assert stats.jobs == {state: 0 for state in JobState}
    assert (stats.completed, stats.failed, stats.success_rate, stats.oldest_waiting_age) == (0, 0, None, None)
    assert (stats.durations.count, stats.durations.p50, stats.durations.max) == (0, None, None)
    assert stats.queue_depth == {}


def test_totals_count_every_attempt_ever_and_histogram_the_runs(scenario):
    totals = scenario.stats.totals((1.0, 2.5, 5.0, 60.0))
    assert dict(totals.outcomes) == {C: 4, F: 2, D: 1, X: 1, P: 1}
    assert (totals.completed, totals.failed, totals.dead) == (4, 3, 1)
    assert totals.buckets == ((1.0, 2), (2.5, 3), (5.0, 5), (60.0, 6))
    assert (totals.duration_count, totals.duration_sum) == (7, pytest.approx(121))


def test_totals_never_decrease_when_a_dead_job_is_retried(scenario):
    before = scenario.stats.totals((1.0,))
    scenario.jobs.retry("flaky", at(1))
    assert scenario.stats.totals((1.0,)) == before
    assert [a.outcome for a in scenario.jobs.get("flaky").history] == [F, D]


def test_totals_of_adjacent_ranges_add_up_to_the_whole(scenario):
    bounds = (1.0, 2.5, 5.0, 60.0)
    whole = scenario.stats.totals(bounds)
    before, after = scenario.stats.totals(bounds, until=at(-300)), scenario.stats.totals(bounds, since=at(-300))
    joined = before + after
    assert (joined.outcomes, joined.buckets, joined.duration_count) == (
        whole.outcomes, whole.buckets, whole.duration_count)
    assert joined.duration_sum == pytest.approx(whole.duration_sum)
    assert (before.completed, after.completed, after.failed) == (4, 0, 3)
    # done-3 finished exactly at T-390: in a range that starts there, not in one that ends there
    assert scenario.stats.totals(bounds, since=at(-390), until=at(-389)).completed == 1
    assert scenario.stats.totals(bounds, since=at(-391), until=at(-390)).completed == 0
