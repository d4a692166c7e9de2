"""JobService's control use cases (SPEC 9.2) on the in-memory store with a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain.errors import InvalidJob, InvalidTransition, JobNotFound
from queuectl.domain.model import JobState
from queuectl.domain.ports import Notifier, WorkerRef
from queuectl.domain.services import JobService
from queuectl.domain.specs import JobChanges, JobSpec, changes_from_mapping

from .fakes import T0, FakeClock


class CountingNotifier(Notifier):
    def __init__(self) -> None:
        self.wakes = 0

    def jobs_changed(self) -> None:
        self.wakes += 1


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def notifier():
    return CountingNotifier()


@pytest.fixture
def jobs(clock, notifier):
    return JobService(InMemoryStore(), clock, notifier)


def complete(service: JobService, job_id: str) -> None:
    now = service.clock.now()
    job = service.store.jobs.claim_next(WorkerRef("w", "h"), now, now + timedelta(seconds=30))
    assert job is not None and job.id == job_id
    token = job.lease_token
    job.succeed(now)
    assert service.store.jobs.record_outcome(job, token)


def test_retry_of_several_ids_moves_each_it_can_and_keeps_the_refusals_in_order(jobs, notifier):
    jobs.enqueue(JobSpec("true", id="done"))
    complete(jobs, "done")
    jobs.enqueue(JobSpec("true", id="waiting"))
    results = jobs.retry(["ghost", "done", "waiting", "done"])
    assert [r.job_id for r in results] == ["ghost", "done", "waiting"]  # a repeated id counts once
    assert isinstance(results[0].error, JobNotFound) and isinstance(results[2].error, InvalidTransition)
    assert results[1].unwrap().state is JobState.PENDING
    with pytest.raises(InvalidTransition, match="'waiting' is pending"):
        results[2].unwrap()
    assert notifier.wakes == 3  # two enqueues, then the retry


def test_cancel_all_takes_the_waiting_jobs_by_default_and_running_ones_only_when_named(jobs, notifier):
    jobs.enqueue(JobSpec("true", id="running"))
    jobs.store.jobs.claim_next(WorkerRef("w", "h"), T0, T0 + timedelta(seconds=30))
    jobs.enqueue(JobSpec("true", id="waiting"))
    assert jobs.cancel_all() == 1
    assert jobs.get("running").state is JobState.PROCESSING
    wakes = notifier.wakes
    assert jobs.cancel_all(states={JobState.PROCESSING}) == 1
    assert jobs.get("running").state is JobState.CANCELLED
    assert notifier.wakes == wakes + 1  # its worker notices at once


@pytest.mark.parametrize("move, call", [
    ("retry", lambda jobs: jobs.retry_all({JobState.PROCESSING})),
    ("retry", lambda jobs: jobs.retry_all(set())),
    ("cancel", lambda jobs: jobs.cancel_all(states={JobState.COMPLETED})),
], ids=["retry-processing", "retry-nothing", "cancel-completed"])
def test_a_bulk_move_refuses_states_it_cannot_take(jobs, move, call):
    with pytest.raises(InvalidJob, match=f"{move} --all takes only the states"):
        call(jobs)


def test_retry_all_dead_is_the_dlq_retry(jobs):
    jobs.enqueue(JobSpec("true", id="done"))
    complete(jobs, "done")
    assert jobs.retry_all_dead() == 0
    with pytest.raises(InvalidTransition, match="cannot retry from the DLQ"):
        jobs.retry_dead("done")


def test_update_with_a_delay_counts_it_from_now_and_wakes_the_workers(jobs, clock, notifier):
    jobs.enqueue(JobSpec("true", id="job1"))
    clock.advance(10)
    updated = jobs.update("job1", changes_from_mapping({"delay": "5m", "priority": 3}))
    assert (updated.run_at, updated.priority, updated.updated_at) == (
        T0 + timedelta(seconds=310), 3, T0 + timedelta(seconds=10))
    assert notifier.wakes == 2


@pytest.mark.parametrize("data, message", [
    ({}, "nothing to update"), ({"command": "rm"}, "cannot update 'command'"),
    ({"priority": 1.5}, "must be an integer"), ({"max_retries": -1}, "between 0 and"),
    ({"run_at": "2030-01-01", "delay": "5m"}, "not both"), ({"queue": None}, "invalid queue name"),
])
def test_changes_are_checked_as_enqueue_checks_a_job(data, message):
    with pytest.raises(InvalidJob, match=message):
        changes_from_mapping(data)


def test_changes_name_only_what_was_given():
    assert changes_from_mapping({"timeout": 5}).values(T0) == {"timeout": 5.0}
    assert JobChanges(delay=timedelta(seconds=1)).values(T0) == {"run_at": T0 + timedelta(seconds=1)}
