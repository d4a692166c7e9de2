from datetime import timedelta

import pytest

from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import InvalidJob, InvalidTransition
from queuectl.domain.model import WORKER_LOST, Job, JobState

from .fakes import T0

BACKOFF = BackoffPolicy(base=2, maximum=3600)


def claimed(max_retries: int = 3, attempts_before: int = 0) -> Job:
    job = Job.new("job1", "true", T0, max_retries=max_retries)
    job.attempts = attempts_before
    job.claim("w1", "host", "token", T0, T0 + timedelta(seconds=30))
    return job


def test_a_new_job_is_pending_and_due_at_once():
    job = Job.new("job1", "echo hi", T0)
    assert (job.state, job.attempts, job.run_at, job.queue) == (JobState.PENDING, 0, T0, "default")


@pytest.mark.parametrize("bad_id", ["", "has space", "a/b", "x" * 129, "é"])
def test_job_ids_outside_the_allowed_alphabet_are_rejected(bad_id):
    with pytest.raises(InvalidJob, match="invalid job id"):
        Job.new(bad_id, "true", T0)


def test_a_blank_command_is_rejected():
    with pytest.raises(InvalidJob, match="non-empty \"command\""):
        Job.new("job1", "   ", T0)


def test_claim_starts_an_attempt_with_the_lease_and_worker():
    job = claimed()
    assert job.state is JobState.PROCESSING and job.attempts == 1
    assert (job.worker, job.lease_token, job.lease_until) == ("w1", "token", T0 + timedelta(seconds=30))
    assert job.history[-1].attempt == 1 and job.history[-1].finished_at is None


def test_success_completes_and_closes_the_attempt():
    job = claimed()
    job.succeed(T0 + timedelta(seconds=1))
    assert job.state is JobState.COMPLETED and job.exit_code == 0 and job.lease_token is None
    assert job.history[-1].finished_at == T0 + timedelta(seconds=1)


def test_failure_with_retries_left_schedules_a_retry_after_base_to_the_attempts():
    job = claimed(attempts_before=2)  # this is attempt 3
    job.fail(T0, "exit code 1", BACKOFF, exit_code=1)
    assert job.state is JobState.FAILED and job.run_at == T0 + timedelta(seconds=8)
    assert job.last_error == "exit code 1" and job.history[-1].exit_code == 1


def test_failure_of_the_last_allowed_attempt_goes_to_the_dlq():
    job = claimed(max_retries=3, attempts_before=3)  # attempt 4 = first + 3 retries
    job.fail(T0, "exit code 1", BACKOFF, exit_code=1)
    assert job.state is JobState.DEAD


def test_zero_retries_means_one_attempt_then_dead():
    job = claimed(max_retries=0)
    job.fail(T0, "boom", BACKOFF)
    assert job.state is JobState.DEAD


def test_a_lost_lease_counts_as_a_failed_attempt():
    job = claimed()
    job.lose_lease(T0, BACKOFF)
    assert job.state is JobState.FAILED and job.last_error == WORKER_LOST and job.attempts == 1


def test_release_returns_the_job_without_counting_the_attempt():
    job = claimed(attempts_before=1)
    job.release(T0 + timedelta(seconds=5))
    assert job.state is JobState.PENDING and job.attempts == 1
    assert job.run_at == T0 and job.history[-1].error.startswith("released")  # keeps its place in line


def test_cancel_works_on_waiting_and_running_jobs_but_not_final_ones():
    waiting = Job.new("a", "true", T0)
    waiting.cancel(T0)
    running = claimed()
    running.cancel(T0)
    assert waiting.state is running.state is JobState.CANCELLED
    assert running.lease_token is None and running.history[-1].error == "cancelled"
    with pytest.raises(InvalidTransition, match="is cancelled"):
        waiting.cancel(T0)


def test_revive_takes_a_dead_job_back_to_pending_with_attempts_reset():
    job = claimed(max_retries=0)
    job.fail(T0, "boom", BACKOFF)
    job.revive(T0 + timedelta(seconds=9))
    assert (job.state, job.attempts, job.run_at) == (JobState.PENDING, 0, T0 + timedelta(seconds=9))


@pytest.mark.parametrize("move", ["succeed", "release", "renew"])
def test_moves_that_need_a_running_job_refuse_a_pending_one(move):
    job = Job.new("job1", "true", T0)
    args = {"succeed": (T0,), "release": (T0,), "renew": (T0,)}[move]
    with pytest.raises(InvalidTransition):
        getattr(job, move)(*args)


def test_only_dead_jobs_can_be_revived_and_only_waiting_ones_claimed():
    job = claimed()
    with pytest.raises(InvalidTransition):
        job.revive(T0)
    with pytest.raises(InvalidTransition):
        job.claim("w2", "h", "t2", T0, T0)


def test_state_words_are_the_users_words():
    assert [s.value for s in JobState] == ["pending", "processing", "completed", "failed", "dead", "cancelled"]
    assert JobState.parse(" DEAD ") is JobState.DEAD
    with pytest.raises(InvalidJob, match="unknown state 'zombie'"):
        JobState.parse("zombie")


@pytest.mark.parametrize("field, value", [("priority", 2**70), ("priority", -(2**70)), ("max_retries", 2**64)])
def test_numbers_no_store_can_hold_are_rejected_before_storing(field, value):
    with pytest.raises(InvalidJob, match=f'"{field}" must be between'):
        Job.new("job1", "true", T0, **{field: value})


@pytest.mark.parametrize("move, outcome", [
    (lambda job: job.succeed(T0), JobState.COMPLETED),
    (lambda job: job.fail(T0, "exit code 1", BACKOFF, exit_code=1), JobState.FAILED),
    (lambda job: job.lose_lease(T0, BACKOFF), JobState.FAILED),
    (lambda job: job.release(T0), JobState.PENDING),
    (lambda job: job.cancel(T0), JobState.CANCELLED),
])
def test_closing_an_attempt_records_the_state_the_job_moved_to(move, outcome):
    job = claimed()
    assert job.history[-1].outcome is None
    move(job)
    assert job.history[-1].outcome is outcome is job.state


def test_the_last_allowed_failure_records_a_dead_outcome():
    job = claimed(max_retries=0)
    job.fail(T0, "exit code 1", BACKOFF, exit_code=1)
    assert job.history[-1].outcome is JobState.DEAD
