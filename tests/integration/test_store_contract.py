"""The store contract: every store (memory, SQLite, MongoDB) passes these same tests.

Time is a fixed fake ``NOW`` passed in; nothing sleeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import DuplicateJob, InvalidTransition, JobNotFound
from queuectl.domain.model import WORKER_LOST, Job, JobState
from queuectl.domain.ports import Outcome, Page, Store, WorkerInfo, WorkerRef

NOW = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
LEASE = timedelta(seconds=30)
BACKOFF = BackoffPolicy(base=2, maximum=3600)
WORKER = WorkerRef("worker-1", "host-a")
OTHER_WORKER = WorkerRef("worker-2", "host-b")


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def new_job(job_id: str, at: datetime = NOW, **fields) -> Job:
    return Job.new(job_id, f"echo {job_id}", at, **fields)


def claim(store: Store, now: datetime = NOW, worker: WorkerRef = WORKER, queues=None) -> Job | None:
    return store.jobs.claim_next(worker, now, now + LEASE, queues)


def claimed_ids(store: Store, now: datetime = NOW, queues=None) -> list[str]:
    ids = []
    while (job := claim(store, now, queues=queues)) is not None:
        ids.append(job.id)
    return ids


def fail_next(store: Store, now: datetime, output: str | None = None) -> Job:
    """Claim the next due job and record a failed attempt (exit code 1)."""
    job = claim(store, now)
    assert job is not None
    token = job.lease_token
    job.fail(now, "exit code 1", BACKOFF, exit_code=1)
    assert store.jobs.record_outcome(job, token, output)
    return job


def make_dead(store: Store, job_id: str) -> None:
    store.jobs.add(new_job(job_id, max_retries=0))
    assert fail_next(store, NOW).state is JobState.DEAD


# -- add, get, list, counts ----------------------------------------------------

def test_an_added_job_reads_back_with_every_field(store):
    job = new_job("job-1", queue="emails", priority=5, max_retries=2, timeout=7.5, run_at=NOW + seconds(60))
    store.jobs.add(job)
    assert store.jobs.get("job-1") == job


def test_adding_an_existing_id_is_refused_and_changes_nothing(store):
    store.jobs.add(new_job("job-1"))
    with pytest.raises(DuplicateJob, match="job 'job-1' already exists"):
        store.jobs.add(Job.new("job-1", "rm -rf /tmp/x", NOW + seconds(5), priority=9))
    stored = store.jobs.get("job-1")
    assert (stored.command, stored.priority, stored.created_at) == ("echo job-1", 0, NOW)
    assert len(store.jobs.list(Page(limit=0))) == 1


def test_add_many_stores_new_ids_and_returns_the_duplicates(store):
    store.jobs.add(new_job("old"))
    duplicates = store.jobs.add_many([new_job("a"), new_job("old"), new_job("b"),
                                      Job.new("a", "echo again", NOW)])
    assert sorted(duplicates) == ["a", "old"]
    assert store.jobs.get("a").command == "echo a"
    assert store.jobs.get("old").command == "echo old"
    assert sorted(job.id for job in store.jobs.list(Page(limit=0))) == ["a", "b", "old"]


def test_add_many_of_nothing_stores_nothing(store):
    assert store.jobs.add_many([]) == []
    assert store.jobs.list(Page()) == []


def test_getting_an_unknown_job_raises_job_not_found(store):
    with pytest.raises(JobNotFound, match="job 'nope' not found"):
        store.jobs.get("nope")


def test_list_shows_newest_first_without_history(store):
    for job_id in ("c", "a", "b"):
        store.jobs.add(new_job(job_id))
    claim(store)
    jobs = store.jobs.list(Page())
    assert [job.id for job in jobs] == ["b", "a", "c"]
    assert all(job.history == [] for job in jobs)
    assert jobs[2].state is JobState.PROCESSING


def test_list_filters_by_state_and_queue(store):
    store.jobs.add_many([new_job("a1", queue="alpha"), new_job("b1", queue="beta"),
                         new_job("a2", queue="alpha")])
    claim(store, queues=["alpha"])
    assert [j.id for j in store.jobs.list(Page(queue="alpha"))] == ["a2", "a1"]
    assert [j.id for j in store.jobs.list(Page(state=JobState.PENDING))] == ["a2", "b1"]
    assert [j.id for j in store.jobs.list(Page(state=JobState.PENDING, queue="alpha"))] == ["a2"]
    assert store.jobs.list(Page(state=JobState.DEAD)) == []


def test_list_limit_caps_the_jobs_and_zero_means_all(store):
    store.jobs.add_many([new_job(f"job-{n:03d}") for n in range(150)])
    assert [j.id for j in store.jobs.list(Page(limit=2))] == ["job-149", "job-148"]
    assert len(store.jobs.list(Page())) == 100
    assert len(store.jobs.list(Page(limit=0))) == 150


def test_counts_name_every_state_with_zeros(store):
    assert store.jobs.count_by_state() == {state: 0 for state in JobState}
    store.jobs.add_many([new_job("a"), new_job("b"), new_job("c")])
    claim(store)
    counts = store.jobs.count_by_state()
    assert counts == {**{state: 0 for state in JobState}, JobState.PENDING: 2, JobState.PROCESSING: 1}


# -- claim order and filters -----------------------------------------------------

def test_claim_takes_higher_priority_first(store):
    store.jobs.add_many([new_job("low", priority=-1), new_job("normal"), new_job("high", priority=10)])
    assert claimed_ids(store) == ["high", "normal", "low"]


def test_claim_takes_earlier_run_at_first_among_equal_priority(store):
    store.jobs.add_many([new_job("later", run_at=NOW - seconds(1)), new_job("earlier", run_at=NOW - seconds(5))])
    assert claimed_ids(store) == ["earlier", "later"]


def test_claim_is_first_in_first_out_for_identical_run_at(store):
    for job_id in ("m", "z", "a", "k"):
        store.jobs.add(new_job(job_id))
    store.jobs.add_many([new_job("y"), new_job("b")])
    assert claimed_ids(store) == ["m", "z", "a", "k", "y", "b"]


def test_claim_skips_jobs_whose_run_at_has_not_come(store):
    store.jobs.add(new_job("later", run_at=NOW + seconds(60)))
    assert claim(store) is None
    assert claim(store, NOW + seconds(59)) is None
    assert claim(store, NOW + seconds(60)).id == "later"


def test_claim_returns_none_when_nothing_waits(store):
    assert claim(store) is None
    store.jobs.add(new_job("only"))
    claim(store)
    assert claim(store) is None


def test_claim_serves_only_the_requested_queues(store):
    store.jobs.add_many([new_job("d1"), new_job("e1", queue="emails"), new_job("r1", queue="reports")])
    assert claimed_ids(store, queues=["emails", "reports"]) == ["e1", "r1"]
    assert claimed_ids(store, queues=["emails"]) == []
    assert claimed_ids(store) == ["d1"]


def test_claim_returns_a_processing_job_with_a_fresh_token_and_one_new_attempt(store):
    store.jobs.add(new_job("job-1", max_retries=3))
    first = claim(store)
    assert first.state is JobState.PROCESSING
    assert (first.attempts, first.worker, first.started_at, first.lease_until) == (1, "worker-1", NOW, NOW + LEASE)
    assert first.lease_token
    assert [(a.attempt, a.worker, a.host, a.started_at, a.finished_at) for a in first.history] == [
        (1, "worker-1", "host-a", NOW, None)]
    assert store.jobs.get("job-1") == first

    first_token = first.lease_token
    first.fail(NOW + seconds(1), "boom", BACKOFF, exit_code=3)
    assert store.jobs.record_outcome(first, first_token)
    second = claim(store, NOW + seconds(10), worker=OTHER_WORKER)
    assert second.lease_token not in (None, first_token)
    assert second.attempts == 2 and second.worker == "worker-2"
    assert [a.attempt for a in second.history] == [2]
    stored = store.jobs.get("job-1")
    assert [(a.attempt, a.worker, a.exit_code, a.error) for a in stored.history] == [
        (1, "worker-1", 3, "boom"), (2, "worker-2", None, None)]


# -- leases --------------------------------------------------------------------

def test_renewing_with_the_current_token_extends_the_lease(store):
    store.jobs.add(new_job("job-1"))
    job = claim(store)
    assert store.jobs.renew_lease("job-1", job.lease_token, NOW + seconds(90))
    assert store.jobs.get("job-1").lease_until == NOW + seconds(90)


def test_renewing_with_a_stale_token_fails_and_keeps_the_lease(store):
    store.jobs.add(new_job("job-1"))
    job = claim(store)
    assert not store.jobs.renew_lease("job-1", "not-the-token", NOW + seconds(90))
    assert not store.jobs.renew_lease("missing", job.lease_token, NOW + seconds(90))
    assert store.jobs.get("job-1").lease_until == NOW + LEASE


def test_recording_success_completes_the_job_and_closes_its_attempt(store):
    store.jobs.add(new_job("job-1"))
    job = claim(store)
    token = job.lease_token
    job.succeed(NOW + seconds(2))
    assert store.jobs.record_outcome(job, token, "hello\n")
    stored = store.jobs.get("job-1")
    assert (stored.state, stored.exit_code, stored.finished_at, stored.lease_token) == (
        JobState.COMPLETED, 0, NOW + seconds(2), None)
    assert [(a.finished_at, a.exit_code) for a in stored.history] == [(NOW + seconds(2), 0)]
    assert not store.jobs.renew_lease("job-1", token, NOW + seconds(90))


def test_recording_with_a_stale_token_fails_and_writes_nothing(store):
    store.jobs.add(new_job("job-1"))
    job = claim(store)
    before = store.jobs.get("job-1")
    job.succeed(NOW + seconds(2))
    assert not store.jobs.record_outcome(job, "stale-token", "output")
    assert store.jobs.get("job-1") == before
    assert [log.output for log in store.jobs.logs("job-1")] == [""]


def test_recording_the_outcome_of_an_unknown_job_fails(store):
    job = new_job("ghost")
    assert not store.jobs.record_outcome(job, "any-token")
    with pytest.raises(JobNotFound):
        store.jobs.get("ghost")


def test_expired_leases_list_processing_jobs_past_their_lease_oldest_first(store):
    store.jobs.add_many([new_job("a"), new_job("b"), new_job("c")])
    a = store.jobs.claim_next(WORKER, NOW, NOW + seconds(20))
    b = store.jobs.claim_next(WORKER, NOW, NOW + seconds(10))
    store.jobs.claim_next(WORKER, NOW, NOW + seconds(99))
    assert store.jobs.expired_leases(NOW + seconds(10)) == []
    expired = store.jobs.expired_leases(NOW + seconds(30))
    assert [(job.id, job.lease_token) for job in expired] == [("b", b.lease_token), ("a", a.lease_token)]
    assert [job.id for job in store.jobs.expired_leases(NOW + seconds(30), limit=1)] == ["b"]


def test_a_lost_lease_counts_as_a_failed_attempt_and_fences_the_old_worker(store):
    store.jobs.add(new_job("job-1"))
    running = claim(store)
    old_token = running.lease_token
    later = NOW + LEASE + seconds(1)
    [expired] = store.jobs.expired_leases(later)
    expired.lose_lease(later, BACKOFF)
    assert store.jobs.record_outcome(expired, old_token)

    running.succeed(later + seconds(1))
    assert not store.jobs.record_outcome(running, old_token, "too late")
    stored = store.jobs.get("job-1")
    assert (stored.state, stored.last_error, stored.run_at) == (JobState.FAILED, WORKER_LOST, later + seconds(2))
    assert [(a.finished_at, a.error) for a in stored.history] == [(later, WORKER_LOST)]
    assert store.jobs.expired_leases(later + seconds(60)) == []


def test_release_puts_the_job_back_without_spending_an_attempt(store):
    store.jobs.add(new_job("job-1", max_retries=0))
    job = claim(store)
    token = job.lease_token
    job.release(NOW + seconds(3))
    assert store.jobs.record_outcome(job, token)
    stored = store.jobs.get("job-1")
    assert (stored.state, stored.attempts, stored.run_at) == (JobState.PENDING, 0, NOW)  # keeps its place
    assert stored.history[0].error == "released: worker stopped"
    again = claim(store, NOW + seconds(3))
    assert again.attempts == 1
    assert len(store.jobs.get("job-1").history) == 2


# -- retries, the DLQ ------------------------------------------------------------

def test_a_failure_schedules_the_retry_after_exponential_backoff(store):
    store.jobs.add(new_job("job-1", max_retries=3))
    first = fail_next(store, NOW)
    assert (first.state, first.run_at) == (JobState.FAILED, NOW + seconds(2))
    assert claim(store, NOW + seconds(1)) is None
    second = fail_next(store, NOW + seconds(2))
    assert (second.attempts, second.run_at) == (2, NOW + seconds(2 + 4))
    stored = store.jobs.get("job-1")
    assert (stored.state, stored.run_at, stored.last_error, stored.exit_code) == (
        JobState.FAILED, NOW + seconds(6), "exit code 1", 1)


def test_a_job_goes_dead_after_max_retries(store):
    store.jobs.add(new_job("job-1", max_retries=2))
    fail_next(store, NOW)
    fail_next(store, NOW + seconds(10))
    last = fail_next(store, NOW + seconds(100))
    assert (last.state, last.attempts) == (JobState.DEAD, 3)
    assert store.jobs.get("job-1").state is JobState.DEAD
    assert claim(store, NOW + seconds(10_000)) is None
    assert [j.id for j in store.jobs.list(Page(state=JobState.DEAD))] == ["job-1"]


def test_cancelling_a_waiting_job_makes_it_cancelled_and_unclaimable(store):
    store.jobs.add(new_job("job-1"))
    cancelled = store.jobs.cancel("job-1", NOW + seconds(1))
    assert (cancelled.state, cancelled.finished_at) == (JobState.CANCELLED, NOW + seconds(1))
    assert store.jobs.get("job-1").state is JobState.CANCELLED
    assert claim(store, NOW + seconds(2)) is None


def test_cancelling_a_running_job_closes_its_attempt_and_fences_its_worker(store):
    store.jobs.add(new_job("job-1"))
    running = claim(store)
    token = running.lease_token
    cancelled = store.jobs.cancel("job-1", NOW + seconds(5))
    assert (cancelled.state, cancelled.lease_token) == (JobState.CANCELLED, None)
    stored = store.jobs.get("job-1")
    assert [(a.finished_at, a.error) for a in stored.history] == [(NOW + seconds(5), "cancelled")]
    running.succeed(NOW + seconds(6))
    assert not store.jobs.record_outcome(running, token)
    assert not store.jobs.renew_lease("job-1", token, NOW + seconds(60))
    assert store.jobs.get("job-1").state is JobState.CANCELLED


def test_cancelling_a_finished_job_is_an_invalid_transition(store):
    store.jobs.add(new_job("job-1"))
    job = claim(store)
    token = job.lease_token
    job.succeed(NOW)
    store.jobs.record_outcome(job, token)
    with pytest.raises(InvalidTransition, match="job 'job-1' is completed"):
        store.jobs.cancel("job-1", NOW + seconds(1))
    assert store.jobs.get("job-1").state is JobState.COMPLETED


def test_cancelling_an_unknown_job_raises_job_not_found(store):
    with pytest.raises(JobNotFound):
        store.jobs.cancel("nope", NOW)


def test_retry_brings_a_dead_job_back_with_attempts_reset(store):
    make_dead(store, "job-1")
    retried = store.jobs.retry("job-1", NOW + seconds(50))
    assert (retried.state, retried.attempts, retried.run_at) == (JobState.PENDING, 0, NOW + seconds(50))
    stored = store.jobs.get("job-1")
    assert (stored.state, stored.attempts, len(stored.history)) == (JobState.PENDING, 0, 1)
    assert claim(store, NOW + seconds(50)).attempts == 1


def test_retry_refuses_a_job_that_is_not_dead(store):
    store.jobs.add(new_job("job-1"))
    with pytest.raises(InvalidTransition):
        store.jobs.retry("job-1", NOW)
    assert store.jobs.get("job-1").state is JobState.PENDING
    with pytest.raises(JobNotFound):
        store.jobs.retry("nope", NOW)


def test_retry_all_brings_back_every_dead_job(store):
    make_dead(store, "d1")
    make_dead(store, "d2")
    store.jobs.add(new_job("waiting"))
    assert store.jobs.retry_all(NOW + seconds(9)) == 2
    counts = store.jobs.count_by_state()
    assert (counts[JobState.PENDING], counts[JobState.DEAD]) == (3, 0)
    assert {(j.attempts, j.run_at) for j in store.jobs.list(Page(state=JobState.PENDING))} >= {
        (0, NOW + seconds(9))}
    assert store.jobs.retry_all(NOW + seconds(10)) == 0


# -- logs ------------------------------------------------------------------------

def test_logs_show_each_attempt_newest_first_with_its_output(store):
    store.jobs.add(new_job("job-1", max_retries=5))
    fail_next(store, NOW, output="first try\n")
    fail_next(store, NOW + seconds(2))
    job = claim(store, NOW + seconds(10))
    token = job.lease_token
    job.succeed(NOW + seconds(11))
    store.jobs.record_outcome(job, token, "third try\n")
    logs = store.jobs.logs("job-1")
    assert [(log.attempt.attempt, log.attempt.exit_code, log.output) for log in logs] == [
        (3, 0, "third try\n"), (2, 1, ""), (1, 1, "first try\n")]


def test_logs_of_a_job_never_run_are_empty(store):
    store.jobs.add(new_job("job-1"))
    assert store.jobs.logs("job-1") == []


def test_logs_of_an_unknown_job_raise_job_not_found(store):
    with pytest.raises(JobNotFound):
        store.jobs.logs("nope")


# -- remove and prune ------------------------------------------------------------

def complete(store: Store, job_id: str, now: datetime, output: str | None = None) -> None:
    store.jobs.add(new_job(job_id, at=now))
    job = store.jobs.claim_next(WORKER, now, now + LEASE)
    token = job.lease_token
    job.succeed(now)
    assert store.jobs.record_outcome(job, token, output)


def test_remove_deletes_final_jobs_with_their_history_and_output(store):
    complete(store, "done", NOW, output="hello\n")
    make_dead(store, "dead")
    store.jobs.add(new_job("gone"))
    store.jobs.cancel("gone", NOW)
    removed = store.jobs.remove(["done", "dead", "gone"])
    assert [(job.id, job.state) for job in removed] == [
        ("done", JobState.COMPLETED), ("dead", JobState.DEAD), ("gone", JobState.CANCELLED)]
    for job_id in ("done", "dead", "gone"):
        with pytest.raises(JobNotFound):
            store.jobs.get(job_id)
    assert sum(store.jobs.count_by_state().values()) == 0
    store.jobs.add(new_job("done"))  # the id is free again, with no old history
    assert store.jobs.logs("done") == []


def test_remove_refuses_a_job_that_is_not_final_and_deletes_none(store):
    complete(store, "done", NOW)
    store.jobs.add(new_job("waiting"))
    with pytest.raises(InvalidTransition, match="job 'waiting' is pending: cannot remove"):
        store.jobs.remove(["done", "waiting"])
    assert store.jobs.get("done").state is JobState.COMPLETED
    assert store.jobs.get("waiting").state is JobState.PENDING


def test_remove_refuses_an_unknown_id_and_deletes_none(store):
    complete(store, "done", NOW)
    with pytest.raises(JobNotFound, match="job 'nope' not found"):
        store.jobs.remove(["done", "nope"])
    assert store.jobs.get("done").state is JobState.COMPLETED


def test_prune_deletes_only_jobs_in_the_states_that_finished_before_the_cutoff(store):
    complete(store, "old-done", NOW - seconds(100))
    complete(store, "new-done", NOW)
    make_dead(store, "dead")  # finished at NOW
    store.jobs.add(new_job("old-cancelled", at=NOW - seconds(200)))
    store.jobs.cancel("old-cancelled", NOW - seconds(90))  # never ran: finished when cancelled
    store.jobs.add(new_job("waiting", at=NOW - seconds(500)))
    pruned = store.jobs.prune({JobState.COMPLETED, JobState.CANCELLED}, NOW - seconds(50), 100)
    assert sorted(job.id for job in pruned) == ["old-cancelled", "old-done"]
    assert sorted(job.id for job in store.jobs.list(Page(limit=0))) == ["dead", "new-done", "waiting"]


def test_prune_deletes_at_most_the_limit_oldest_enqueued_first(store):
    for n in range(5):
        complete(store, f"job-{n}", NOW - seconds(100 - n))
    first = store.jobs.prune({JobState.COMPLETED}, NOW, 2)
    assert [job.id for job in first] == ["job-0", "job-1"]
    assert [job.id for job in store.jobs.prune({JobState.COMPLETED}, NOW, 10)] == ["job-2", "job-3", "job-4"]
    assert store.jobs.prune({JobState.COMPLETED}, NOW, 10) == []


def test_prune_never_deletes_a_job_that_is_not_final(store):
    store.jobs.add(new_job("running", at=NOW - seconds(100)))
    claim(store, NOW - seconds(100))
    fail_next_at = NOW - seconds(100)
    store.jobs.add(new_job("failed", at=fail_next_at, max_retries=3))
    fail_next(store, fail_next_at)
    assert store.jobs.prune(set(JobState), NOW, 100) == []
    assert {job.state for job in store.jobs.list(Page(limit=0))} == {JobState.PROCESSING, JobState.FAILED}


# -- settings and workers --------------------------------------------------------

def test_settings_start_empty_and_keep_the_last_saved_value(store):
    assert store.settings.load() == {}
    store.settings.save("max_retries", 5)
    store.settings.save("backoff_base", 1.5)
    store.settings.save("max_retries", 7)
    assert store.settings.load() == {"max_retries": 7, "backoff_base": 1.5}


def worker_info(worker_id: str = "worker-1", **fields) -> WorkerInfo:
    values = dict(id=worker_id, host="host-a", pid=4242, pid_started_at=1234.5, queues=("default", "emails"),
                  started_at=NOW, last_heartbeat=NOW)
    return WorkerInfo(**{**values, **fields})


def test_a_registered_worker_is_listed_with_every_field(store):
    store.workers.register(worker_info())
    store.workers.register(worker_info("worker-2", queues=(), slots=32))  # runs 32 jobs at once (SPEC 9.7)
    assert sorted(store.workers.workers(), key=lambda w: w.id) == [
        worker_info(), worker_info("worker-2", queues=(), slots=32)]


def test_registering_again_replaces_the_record(store):
    store.workers.register(worker_info(pid=1))
    store.workers.register(worker_info(pid=2))
    assert [w.pid for w in store.workers.workers()] == [2]


def test_a_heartbeat_records_liveness_and_the_current_job(store):
    store.workers.register(worker_info())
    assert store.workers.heartbeat("worker-1", NOW + seconds(5), "job-1")
    [info] = store.workers.workers()
    assert (info.last_heartbeat, info.current_job) == (NOW + seconds(5), "job-1")
    assert store.workers.heartbeat("worker-1", NOW + seconds(6), None)
    assert store.workers.workers()[0].current_job is None


def test_a_heartbeat_says_stop_once_a_stop_is_requested(store):
    store.workers.register(worker_info())
    store.workers.register(worker_info("worker-2"))
    store.workers.request_stop(["worker-1", "unknown"])
    assert not store.workers.heartbeat("worker-1", NOW + seconds(1), None)
    assert store.workers.heartbeat("worker-2", NOW + seconds(1), None)
    stopping = {w.id: w.stop_requested for w in store.workers.workers()}
    assert stopping == {"worker-1": True, "worker-2": False}


def test_a_deregistered_worker_is_gone_and_its_heartbeat_says_stop(store):
    store.workers.register(worker_info())
    store.workers.deregister("worker-1")
    store.workers.deregister("worker-1")
    assert store.workers.workers() == []
    assert not store.workers.heartbeat("worker-1", NOW, None)


# -- the worker's combined step ---------------------------------------------------
def test_settle_and_claim_writes_outcomes_then_claims_a_batch_in_order(store):
    store.jobs.add_many([new_job(f"job-{n}") for n in range(5)])
    _, first = store.jobs.settle_and_claim([], WORKER, NOW, NOW + LEASE, limit=2)
    # up to the limit, at least one, in claim order (a store may claim one at a time)
    assert [job.id for job in first] in (["job-0"], ["job-0", "job-1"])
    assert len({job.lease_token for job in first}) == len(first)
    outcomes = []
    for job in first:
        token = job.lease_token
        job.succeed(NOW + seconds(1))
        outcomes.append(Outcome(job, token, f"out {job.id}\n"))
    recorded, second = store.jobs.settle_and_claim(outcomes, WORKER, NOW, NOW + LEASE, limit=10)
    assert recorded == [True] * len(first)
    expected = [f"job-{n}" for n in range(len(first), 5)]
    assert second and [job.id for job in second] == expected[:len(second)]
    assert all(store.jobs.get(job.id).state is JobState.COMPLETED for job in first)
    assert store.jobs.logs("job-0")[0].output == "out job-0\n"


def test_settle_and_claim_refuses_only_the_outcome_whose_lease_was_taken_over(store):
    store.jobs.add_many([new_job("kept"), new_job("stolen")])
    jobs = [claim(store), claim(store)]
    tokens = [job.lease_token for job in jobs]
    lost = store.jobs.expired_leases(NOW + LEASE + seconds(1))
    recovered = next(job for job in lost if job.id == "stolen")
    recovered.lose_lease(NOW + LEASE + seconds(1), BACKOFF)  # another worker recovers it
    assert store.jobs.record_outcome(recovered, tokens[1])
    for job in jobs:
        job.succeed(NOW + seconds(1))
    recorded, _ = store.jobs.settle_and_claim([Outcome(j, t) for j, t in zip(jobs, tokens)],
                                              WORKER, NOW, NOW + LEASE, limit=0)
    assert recorded == [True, False]
    assert store.jobs.get("kept").state is JobState.COMPLETED
    assert store.jobs.get("stolen").state is JobState.FAILED


# -- bounded histories and refused outcomes (SPEC 9.4) ----------------------------
def fail_with_output(store: Store, now: datetime, history_max: int, output: str = "its output\n") -> None:
    job = claim(store, now)
    token = job.lease_token
    job.fail(now, f"exit code 1 at attempt {job.attempts}", BACKOFF, exit_code=1)
    assert store.jobs.record_outcome(job, token, output, history_max)


def test_a_history_keeps_its_newest_history_max_attempts_in_full_and_the_summary_of_older_ones(store):
    store.jobs.add(new_job("job-1", max_retries=10))
    for n in range(5):
        fail_with_output(store, NOW + seconds(100 * n), history_max=2)
    history = store.jobs.get("job-1").history
    assert [(a.attempt, a.worker, a.started_at, a.exit_code, a.outcome) for a in history] == [
        (n, "worker-1", NOW + seconds(100 * (n - 1)), 1, JobState.FAILED) for n in range(1, 6)]
    assert [a.error for a in history] == [None, None, None, "exit code 1 at attempt 4", "exit code 1 at attempt 5"]
    assert [log.output for log in store.jobs.logs("job-1")] == ["its output\n"] * 2 + [""] * 3


def test_a_smaller_history_max_trims_every_older_attempt_at_the_next_outcome(store):
    store.jobs.add(new_job("job-1", max_retries=10))
    for n in range(3):
        fail_with_output(store, NOW + seconds(100 * n), history_max=100)
    assert all(a.error for a in store.jobs.get("job-1").history)
    fail_with_output(store, NOW + seconds(300), history_max=1)
    assert [a.error is None for a in store.jobs.get("job-1").history] == [True, True, True, False]
    assert [log.output for log in store.jobs.logs("job-1")] == ["its output\n", "", "", ""]


def test_a_refused_outcome_is_buried_dead_with_the_refusal_fenced_by_the_lease_token(store):
    store.jobs.add(new_job("job-1", max_retries=5))
    job = claim(store)
    token = job.lease_token
    job.fail(NOW + seconds(1), "exit code 1", BACKOFF, exit_code=1)
    job.refuse(NOW + seconds(1), "document too large")
    assert not store.jobs.bury(job, "stale-token")
    assert store.jobs.get("job-1").state is JobState.PROCESSING
    assert store.jobs.bury(job, token)
    stored = store.jobs.get("job-1")
    assert (stored.state, stored.last_error, stored.lease_token, stored.lease_until, stored.attempts) == (
        JobState.DEAD, "outcome not recorded: document too large", None, None, 1)
    assert [(a.outcome, a.error, a.exit_code, a.finished_at) for a in stored.history] == [
        (JobState.DEAD, stored.last_error, 1, NOW + seconds(1))]
    assert not store.jobs.bury(job, token) and claim(store, NOW + seconds(3600)) is None


def test_a_refused_claim_is_buried_dead_only_while_the_job_waits(store):
    store.jobs.add_many([new_job("running"), new_job("waiting")])
    token = claim(store).lease_token
    running, waiting = store.jobs.get("running"), store.jobs.get("waiting")
    for job in (running, waiting):
        job.refuse(NOW, "document too large", ran=False)
    assert not store.jobs.bury(running, None)
    assert store.jobs.get("running").lease_token == token
    assert store.jobs.bury(waiting, None)
    stored = store.jobs.get("waiting")
    assert (stored.state, stored.last_error, stored.history) == (
        JobState.DEAD, "outcome not recorded: document too large", [])
