from datetime import timedelta

import pytest

from queuectl.domain import defaults
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import InvalidJob, InvalidTransition
from queuectl.domain.model import WORKER_LOST, Attempt, Job, JobState, clip, trim_history

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


def test_retry_takes_a_dead_job_back_to_pending_with_attempts_reset():
    job = claimed(max_retries=0)
    job.fail(T0, "boom", BACKOFF)
    job.retry(T0 + timedelta(seconds=9))
    assert (job.state, job.attempts, job.run_at) == (JobState.PENDING, 0, T0 + timedelta(seconds=9))


@pytest.mark.parametrize("move", ["succeed", "release", "renew"])
def test_moves_that_need_a_running_job_refuse_a_pending_one(move):
    job = Job.new("job1", "true", T0)
    args = {"succeed": (T0,), "release": (T0,), "renew": (T0,)}[move]
    with pytest.raises(InvalidTransition):
        getattr(job, move)(*args)


def test_only_dead_jobs_can_be_retried_and_only_waiting_ones_claimed():
    job = claimed()
    with pytest.raises(InvalidTransition):
        job.retry(T0)
    with pytest.raises(InvalidTransition):
        job.claim("w2", "h", "t2", T0, T0)


def test_state_words_are_the_users_words():
    assert [s.value for s in JobState] == ["pending", "blocked", "processing", "completed", "failed", "dead", "cancelled"]
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


# -- bounded histories and refused outcomes (SPEC 9.4) -------------------------

def test_a_long_error_is_clipped_to_error_max_with_a_marker_saying_how_much_went():
    job = claimed(max_retries=0)
    job.fail(T0, "x" * 100_000, BACKOFF, exit_code=1)
    assert defaults.ERROR_MAX - 10 < len(job.last_error) <= defaults.ERROR_MAX
    assert job.history[-1].error == job.last_error
    kept, marker = job.last_error.split(" [... ")
    assert set(kept) == {"x"} and marker == f"{100_000 - len(kept)} more characters cut]"


def test_a_short_error_is_kept_as_it_is():
    assert clip("exit code 1") == "exit code 1" and clip("y" * defaults.ERROR_MAX) == "y" * defaults.ERROR_MAX


def test_trimming_keeps_the_newest_attempts_in_full_and_only_the_summary_of_older_ones():
    history = [Attempt(n, "w1", "host", T0, T0 + timedelta(seconds=n), 1, f"exit code {n}", JobState.FAILED)
               for n in range(1, 6)]
    trimmed = trim_history(history, 2)
    assert trimmed[3:] == history[3:]
    assert [(a.attempt, a.worker, a.finished_at, a.exit_code, a.outcome, a.error) for a in trimmed[:3]] == [
        (n, "w1", T0 + timedelta(seconds=n), 1, JobState.FAILED, None) for n in range(1, 4)]
    assert trim_history(history, 5) == history


def test_a_refused_outcome_closes_the_job_dead_with_the_stores_error_whatever_the_move_was():
    job = claimed(max_retries=5)
    job.succeed(T0 + timedelta(seconds=1))
    job.refuse(T0 + timedelta(seconds=2), "document too large")
    assert (job.state, job.last_error, job.lease_token, job.lease_until) == (
        JobState.DEAD, "outcome not recorded: document too large", None, None)
    last = job.history[-1]
    assert (last.outcome, last.error, last.exit_code, last.finished_at) == (
        JobState.DEAD, job.last_error, 0, T0 + timedelta(seconds=1))


def test_a_refused_claim_closes_the_waiting_job_dead_and_leaves_its_past_attempts_alone():
    job = claimed()
    job.fail(T0, "exit code 1", BACKOFF, exit_code=1)
    before = list(job.history)
    job.refuse(T0, "document too large", ran=False)
    assert job.state is JobState.DEAD and job.history == before


def test_a_cancelled_job_cannot_be_closed_dead():
    job = claimed()
    job.cancel(T0)
    with pytest.raises(InvalidTransition):
        job.refuse(T0, "document too large")


def test_retry_runs_a_completed_job_again_keeping_history_and_last_error():
    job = claimed()
    job.fail(T0, "boom", BACKOFF)
    job.claim("w1", "host", "t2", T0, T0)
    job.succeed(T0 + timedelta(seconds=1))
    job.retry(T0 + timedelta(seconds=5))
    assert (job.state, job.attempts, job.run_at, len(job.history)) == (
        JobState.PENDING, 0, T0 + timedelta(seconds=5), 2)


def test_a_dlq_retry_refuses_a_job_that_is_not_dead():
    job = claimed()
    job.succeed(T0)
    with pytest.raises(InvalidTransition, match="is completed: cannot retry from the DLQ"):
        job.retry(T0, only_dead=True)
    assert job.state is JobState.COMPLETED


def test_update_changes_the_settings_of_a_waiting_job_checked_as_at_enqueue():
    job = Job.new("job1", "true", T0)
    job.update(T0 + timedelta(seconds=1), {"priority": 4, "queue": "q2", "max_retries": 0, "timeout": 3})
    assert (job.priority, job.queue, job.max_retries, job.timeout, job.updated_at) == (
        4, "q2", 0, 3.0, T0 + timedelta(seconds=1))
    for bad in ({"priority": True}, {"queue": ""}, {"timeout": -1}, {"run_at": "tomorrow"}, {"state": "dead"}):
        with pytest.raises(InvalidJob):
            job.update(T0, bad)
    assert job.priority == 4


def test_update_refuses_a_running_job():
    job = claimed()
    with pytest.raises(InvalidTransition, match="is processing: cannot update it"):
        job.update(T0, {"priority": 1})
