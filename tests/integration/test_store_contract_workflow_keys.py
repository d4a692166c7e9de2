"""The store contract of unique keys and exit-code retry rules (SPEC 9.3), on every store.

A unique key is held by one job at a time while that job is not final: every store
refuses a second holder in the write itself (a unique index, or the memory store's lock),
frees the key on every way a job ends, and takes it again on ``retry``. The retry rules are
stored with the job and read back as given (normal form).
"""

from __future__ import annotations

import pytest

from queuectl.domain.errors import DuplicateJob, UniqueKeyHeld
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Outcome, Page, Store

from .test_store_contract import BACKOFF, NOW, WORKER, claim, fail_next, new_job, seconds


def held(store: Store, job_id: str, key: str = "deploy:prod", **fields) -> Job:
    job = new_job(job_id, unique_key=key, **fields)
    store.jobs.add(job)
    return job


def refusal(store: Store, job: Job) -> str:
    with pytest.raises(UniqueKeyHeld) as caught:
        store.jobs.add(job)
    return str(caught.value)


def ids(store: Store) -> list[str]:
    return sorted(job.id for job in store.jobs.list(Page(limit=0)))


def test_a_second_job_with_a_held_key_is_refused_naming_the_holder_and_nothing_is_stored(store):
    held(store, "first")
    assert refusal(store, new_job("second", unique_key="deploy:prod")) == (
        "unique key 'deploy:prod' is held by job 'first' (pending)")
    assert ids(store) == ["first"]


def test_the_holder_is_named_in_its_current_state(store):
    held(store, "first", max_retries=3)
    claim(store)
    assert refusal(store, new_job("x", unique_key="deploy:prod")).endswith("job 'first' (processing)")


def test_a_failed_job_awaiting_its_retry_still_holds_its_key(store):
    held(store, "first", max_retries=3)
    assert fail_next(store, NOW).state is JobState.FAILED
    assert refusal(store, new_job("x", unique_key="deploy:prod")).endswith("job 'first' (failed)")


def test_other_keys_and_jobs_without_a_key_are_not_affected(store):
    held(store, "first")
    held(store, "other", key="deploy:staging")
    store.jobs.add(new_job("plain-1"))
    store.jobs.add(new_job("plain-2"))
    assert ids(store) == ["first", "other", "plain-1", "plain-2"]


def test_a_duplicate_id_is_still_a_duplicate_even_with_a_key(store):
    held(store, "first")
    with pytest.raises(DuplicateJob):
        store.jobs.add(new_job("first", unique_key="another"))


def _complete(store: Store) -> None:
    job = claim(store)
    token = job.lease_token
    job.succeed(NOW + seconds(1))
    assert store.jobs.record_outcome(job, token)


def _die(store: Store) -> None:
    assert fail_next(store, NOW).state is JobState.DEAD  # max_retries=0


def _cancel(store: Store) -> None:
    store.jobs.cancel("first", NOW)


def _cancel_running(store: Store) -> None:
    claim(store)
    store.jobs.cancel_all(NOW, {JobState.PROCESSING})


def _lose(store: Store) -> None:
    claim(store)
    [job] = store.jobs.expired_leases(NOW + seconds(60))
    token = job.lease_token
    job.lose_lease(NOW + seconds(60), BACKOFF)
    assert job.state is JobState.DEAD and store.jobs.record_outcome(job, token)


def _bury(store: Store) -> None:
    job = claim(store)
    token = job.lease_token
    job.refuse(NOW, "too large")
    assert store.jobs.bury(job, token)


def _settle(store: Store) -> None:
    job = claim(store)
    token = job.lease_token
    job.succeed(NOW + seconds(1))
    assert store.jobs.settle_and_claim([Outcome(job, token)], WORKER, NOW, NOW + seconds(30))[0] == [True]


@pytest.mark.parametrize("end", [_complete, _die, _cancel, _cancel_running, _lose, _bury, _settle],
                         ids=["completed", "dead", "cancelled", "cancel-all-running", "lost-lease-dead",
                              "buried", "settled-with-claim"])
def test_the_key_is_free_again_once_its_holder_is_final(store, end):
    held(store, "first", max_retries=0)
    end(store)
    assert store.jobs.get("first").state in {JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED}
    held(store, "second")
    assert store.jobs.get("second").unique_key == "deploy:prod"


def test_retry_takes_the_key_again(store):
    held(store, "first", max_retries=0)
    _die(store)
    store.jobs.retry("first", NOW)
    assert refusal(store, new_job("second", unique_key="deploy:prod")).endswith("job 'first' (pending)")


def test_retry_while_another_job_holds_the_key_is_refused_and_changes_nothing(store):
    held(store, "first", max_retries=0)
    _die(store)
    held(store, "second")
    with pytest.raises(UniqueKeyHeld) as caught:
        store.jobs.retry("first", NOW)
    assert str(caught.value) == "unique key 'deploy:prod' is held by job 'second' (pending)"
    assert store.jobs.get("first").state is JobState.DEAD
    with pytest.raises(UniqueKeyHeld):
        store.jobs.retry("first", NOW, only_dead=True)  # dlq retry too


def test_retry_all_skips_jobs_whose_key_is_held_and_counts_only_the_moved(store):
    for job_id in ("a", "b"):
        held(store, job_id, max_retries=0)
        _die(store)
    held(store, "plain", key="other", max_retries=0)
    _die(store)
    assert store.jobs.retry_all(NOW, {JobState.DEAD}) == 2  # one of a and b, and plain
    states = {job.id: job.state for job in store.jobs.list(Page(limit=0))}
    assert states["plain"] is JobState.PENDING
    assert sorted(states[job_id].value for job_id in ("a", "b")) == ["dead", "pending"]


def test_retry_rules_are_stored_in_normal_form(store):
    store.jobs.add(new_job("r", retry_on="75, 64-70,timeout,65"))
    store.jobs.add(new_job("n", no_retry_on=["lost", 2, "3-4"]))
    assert (store.jobs.get("r").retry_on, store.jobs.get("r").no_retry_on) == ("64-70,75,timeout", None)
    assert (store.jobs.get("n").retry_on, store.jobs.get("n").no_retry_on) == (None, "2-4,lost")
    assert [job.retry_on for job in store.jobs.list(Page(limit=0)) if job.id == "r"] == ["64-70,75,timeout"]


def test_a_no_retry_on_failure_is_stored_dead_with_the_rule_named(store):
    store.jobs.add(new_job("deploy", max_retries=5, no_retry_on="2"))
    job = claim(store)
    token = job.lease_token
    job.fail(NOW, "exit code 2", BACKOFF, exit_code=2)
    assert store.jobs.record_outcome(job, token)
    stored = store.jobs.get("deploy")
    assert (stored.state, stored.attempts) == (JobState.DEAD, 1)
    assert stored.last_error == "exit code 2 (no-retry-on: dead without retry)"
    assert stored.history[-1].error == stored.last_error


def test_every_field_of_a_keyed_job_with_rules_reads_back(store):
    job = new_job("k", unique_key="a/b@c=d+e", retry_on="75")
    store.jobs.add(job)
    assert store.jobs.get("k") == job
