"""The store contract of the operator's control moves (SPEC 9.2): ``retry`` of any finished or
failed job, ``retry_all`` and ``cancel_all`` by state and queue, ``update`` of a waiting job.

Run against every store, like ``test_store_contract.py`` (whose helpers these reuse).
"""

from __future__ import annotations

import pytest

from queuectl.domain.errors import InvalidJob, InvalidTransition, JobNotFound
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Page, Store

from .test_store_contract import BACKOFF, NOW, claim, fail_next, make_dead, new_job, seconds


def make_completed(store: Store, job_id: str, **fields) -> None:
    store.jobs.add(new_job(job_id, **fields))
    job = claim(store)
    token = job.lease_token
    job.succeed(NOW + seconds(1))
    assert store.jobs.record_outcome(job, token, "done\n")


def states(store: Store) -> dict[str, JobState]:
    return {job.id: job.state for job in store.jobs.list(Page(limit=0))}


# -- retry -------------------------------------------------------------------------

def test_retry_runs_a_completed_job_again_keeping_its_history(store):
    make_completed(store, "build-42")
    retried = store.jobs.retry("build-42", NOW + seconds(60))
    assert (retried.state, retried.attempts, retried.run_at) == (JobState.PENDING, 0, NOW + seconds(60))
    stored = store.jobs.get("build-42")
    assert (stored.state, stored.attempts, len(stored.history)) == (JobState.PENDING, 0, 1)
    assert stored.history[0].outcome is JobState.COMPLETED
    again = claim(store, NOW + seconds(60))
    assert (again.id, again.attempts) == ("build-42", 1)
    assert [entry.attempt for entry in store.jobs.get("build-42").history] == [1, 1]


def test_retry_takes_back_failed_and_cancelled_jobs_due_at_once(store):
    store.jobs.add(new_job("flaky", max_retries=3))
    fail_next(store, NOW)  # failed, due in 2 s
    store.jobs.add(new_job("stopped"))
    store.jobs.cancel("stopped", NOW)
    for job_id in ("flaky", "stopped"):
        retried = store.jobs.retry(job_id, NOW + seconds(1))
        assert (retried.state, retried.attempts, retried.run_at) == (JobState.PENDING, 0, NOW + seconds(1))
    assert sorted(job.id for job in [claim(store, NOW + seconds(1)), claim(store, NOW + seconds(1))]) == [
        "flaky", "stopped"]


@pytest.mark.parametrize("state", ["pending", "processing"])
def test_retry_refuses_a_waiting_or_running_job_naming_its_state_and_changes_nothing(store, state):
    store.jobs.add(new_job("job-1"))
    if state == "processing":
        claim(store)
    before = store.jobs.get("job-1")
    with pytest.raises(InvalidTransition, match=f"job 'job-1' is {state}: cannot retry"):
        store.jobs.retry("job-1", NOW + seconds(5))
    assert store.jobs.get("job-1") == before


def test_a_dlq_retry_takes_only_dead_jobs(store):
    make_completed(store, "done")
    with pytest.raises(InvalidTransition, match="job 'done' is completed: cannot retry from the DLQ"):
        store.jobs.retry("done", NOW, only_dead=True)
    make_dead(store, "dead")
    assert store.jobs.retry("dead", NOW, only_dead=True).state is JobState.PENDING
    assert store.jobs.get("done").state is JobState.COMPLETED


def test_retry_all_takes_the_chosen_states_of_the_chosen_queue_only(store):
    make_completed(store, "done-nightly", queue="nightly")
    make_completed(store, "done-default")
    store.jobs.add(new_job("cancelled-nightly", queue="nightly"))
    store.jobs.cancel("cancelled-nightly", NOW)
    store.jobs.add(new_job("waiting-nightly", queue="nightly"))
    count = store.jobs.retry_all(NOW + seconds(9), {JobState.COMPLETED, JobState.PENDING}, queue="nightly")
    assert count == 1
    assert states(store) == {"done-nightly": JobState.PENDING, "done-default": JobState.COMPLETED,
                             "cancelled-nightly": JobState.CANCELLED, "waiting-nightly": JobState.PENDING}
    assert store.jobs.get("done-nightly").run_at == NOW + seconds(9)
    assert store.jobs.retry_all(NOW, {JobState.PROCESSING}) == 0


# -- cancel --all ---------------------------------------------------------------------

def test_cancel_all_cancels_the_waiting_jobs_of_a_queue(store):
    make_completed(store, "done", queue="nightly")
    store.jobs.add(new_job("b", queue="nightly", max_retries=3))
    fail_next(store, NOW)  # b: failed, waiting for its retry
    store.jobs.add(new_job("a", queue="nightly"))
    store.jobs.add(new_job("other"))
    count = store.jobs.cancel_all(NOW + seconds(3), {JobState.PENDING, JobState.FAILED}, queue="nightly")
    assert count == 2
    assert states(store) == {"a": JobState.CANCELLED, "b": JobState.CANCELLED, "other": JobState.PENDING,
                             "done": JobState.COMPLETED}
    assert store.jobs.get("a").finished_at == NOW + seconds(3)


def test_cancel_all_of_running_jobs_closes_their_attempts_and_fences_their_workers(store):
    store.jobs.add(new_job("running"))
    running = claim(store)
    token = running.lease_token
    store.jobs.add(new_job("waiting"))
    assert store.jobs.cancel_all(NOW + seconds(5), {JobState.PROCESSING}) == 1
    stored = store.jobs.get("running")
    assert (stored.state, stored.lease_token) == (JobState.CANCELLED, None)
    assert [(a.finished_at, a.error, a.outcome) for a in stored.history] == [
        (NOW + seconds(5), "cancelled", JobState.CANCELLED)]
    assert not store.jobs.renew_lease("running", token, NOW + seconds(60))
    running.succeed(NOW + seconds(6))
    assert not store.jobs.record_outcome(running, token)
    assert store.jobs.get("waiting").state is JobState.PENDING


def test_cancel_all_skips_final_states(store):
    make_completed(store, "done")
    assert store.jobs.cancel_all(NOW, {JobState.COMPLETED, JobState.DEAD}) == 0
    assert store.jobs.get("done").state is JobState.COMPLETED


# -- update ------------------------------------------------------------------------------

def test_update_changes_a_waiting_job_and_the_next_claim_follows_it(store):
    store.jobs.add(new_job("first"))
    store.jobs.add(new_job("second"))
    changes = {"priority": 10, "queue": "urgent", "max_retries": 7, "timeout": 2.5}
    updated = store.jobs.update("second", NOW + seconds(1), changes)
    assert (updated.priority, updated.queue, updated.max_retries, updated.timeout) == (10, "urgent", 7, 2.5)
    stored = store.jobs.get("second")
    assert (stored.priority, stored.queue, stored.max_retries, stored.timeout, stored.updated_at) == (
        10, "urgent", 7, 2.5, NOW + seconds(1))
    assert stored.command == "echo second" and stored.state is JobState.PENDING
    assert claim(store, NOW + seconds(1), queues=["default"]).id == "first"
    assert claim(store, NOW + seconds(1), queues=["urgent"]).id == "second"


def test_update_of_run_at_postpones_a_failed_job(store):
    store.jobs.add(new_job("flaky", max_retries=3))
    fail_next(store, NOW)
    store.jobs.update("flaky", NOW + seconds(1), {"run_at": NOW + seconds(100)})
    assert claim(store, NOW + seconds(99)) is None
    job = claim(store, NOW + seconds(100))
    assert (job.id, job.attempts) == ("flaky", 2)


@pytest.mark.parametrize("state", ["processing", "completed", "cancelled", "dead"])
def test_update_refuses_a_job_that_is_not_waiting_and_changes_nothing(store, state):
    if state == "dead":
        make_dead(store, "job-1")
    elif state == "completed":
        make_completed(store, "job-1")
    else:
        store.jobs.add(new_job("job-1"))
        claim(store) if state == "processing" else store.jobs.cancel("job-1", NOW)
    before = store.jobs.get("job-1")
    with pytest.raises(InvalidTransition, match=f"job 'job-1' is {state}: cannot update"):
        store.jobs.update("job-1", NOW + seconds(5), {"priority": 5})
    assert store.jobs.get("job-1") == before


def test_update_refuses_values_enqueue_refuses_and_unknown_jobs(store):
    store.jobs.add(new_job("job-1"))
    before = store.jobs.get("job-1")
    for changes in ({"priority": 10 ** 12}, {"queue": "no spaces"}, {"max_retries": -1},
                    {"timeout": float("nan")}, {"command": "rm -rf /"}, {}):
        with pytest.raises(InvalidJob):
            store.jobs.update("job-1", NOW, changes)
    assert store.jobs.get("job-1") == before
    with pytest.raises(JobNotFound):
        store.jobs.update("nope", NOW, {"priority": 1})


def test_a_worker_records_the_outcome_of_an_updated_job_with_its_new_settings(store):
    store.jobs.add(new_job("job-1", max_retries=0))
    store.jobs.update("job-1", NOW, {"max_retries": 2, "priority": 3})
    job = claim(store)
    token = job.lease_token
    job.fail(NOW + seconds(1), "exit code 1", BACKOFF, exit_code=1)
    assert job.state is JobState.FAILED  # retries left after the update
    assert store.jobs.record_outcome(job, token)
    stored = store.jobs.get("job-1")
    assert (stored.state, stored.max_retries, stored.priority) == (JobState.FAILED, 2, 3)


def test_an_updated_job_reads_back_in_listings(store):
    store.jobs.add(Job.new("job-1", "true", NOW))
    store.jobs.update("job-1", NOW, {"queue": "moved"})
    assert [job.id for job in store.jobs.list(Page(queue="moved"))] == ["job-1"]
    assert store.jobs.list(Page(queue="default")) == []
