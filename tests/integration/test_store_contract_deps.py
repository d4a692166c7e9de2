"""The store contract of dependencies (SPEC 9.3, ``enqueue --after``): a job waits ``blocked``
until every dependency completes, and is cancelled with the reason, down the chain, when one
ends dead or cancelled, whichever path ended it (outcome, lost lease, burial, cancel, cancel --all).

Run against every store, like ``test_store_contract.py`` (whose helpers these reuse).
"""

from __future__ import annotations

import pytest

from queuectl.domain.errors import UniqueKeyHeld, UnknownDependency
from queuectl.domain.model import JobState
from queuectl.domain.ports import Outcome, Page, Store

from .test_store_contract import BACKOFF, LEASE, NOW, WORKER, claim, claimed_ids, fail_next, make_dead, new_job, seconds


def state(store: Store, job_id: str) -> JobState:
    return store.jobs.get(job_id).state


def complete(store: Store, job_id: str, at=NOW) -> None:
    job = claim(store, at)
    assert job is not None and job.id == job_id
    token = job.lease_token
    job.succeed(at + seconds(1))
    assert store.jobs.record_outcome(job, token)


def release_marked(store: Store) -> None:
    """What any worker's upkeep does (a no-op where release is atomic with the outcome)."""
    store.jobs.release_dependents(NOW + seconds(60))


def test_a_job_after_an_unfinished_one_is_blocked_and_never_claimed_until_it_completes(store):
    store.jobs.add(new_job("build"))
    store.jobs.add(new_job("deploy", after=["build"], priority=5))
    assert state(store, "deploy") is JobState.BLOCKED
    assert store.jobs.get("deploy").after == ["build"]
    assert store.jobs.count_by_state()[JobState.BLOCKED] == 1
    complete(store, "build")  # claimed first despite deploy's priority: deploy is blocked
    assert state(store, "deploy") is JobState.PENDING
    assert claimed_ids(store, NOW + seconds(2)) == ["deploy"]


def test_a_job_waits_for_every_dependency(store):
    for job_id in ("a", "b"):
        store.jobs.add(new_job(job_id))
    store.jobs.add(new_job("c", after=["a", "b"]))
    complete(store, "a")
    assert state(store, "c") is JobState.BLOCKED
    complete(store, "b")
    assert state(store, "c") is JobState.PENDING


def test_a_released_job_keeps_its_run_at(store):
    store.jobs.add(new_job("a"))
    store.jobs.add(new_job("later", after=["a"], run_at=NOW + seconds(3600)))
    complete(store, "a")
    assert state(store, "later") is JobState.PENDING
    assert claim(store, NOW + seconds(10)) is None
    assert claimed_ids(store, NOW + seconds(3600)) == ["later"]


def test_an_unknown_dependency_is_refused_and_nothing_is_stored(store):
    with pytest.raises(UnknownDependency, match="dependency 'ghost' not found"):
        store.jobs.add(new_job("x", after=["ghost"]))
    with pytest.raises(UnknownDependency):
        store.jobs.add_many([new_job("y"), new_job("z", after=["nobody"])])
    assert store.jobs.list(Page(limit=0)) == []


def test_a_completed_dependency_counts_as_done_at_enqueue(store):
    store.jobs.add(new_job("a"))
    complete(store, "a")
    job = new_job("b", after=["a"])
    store.jobs.add(job)
    assert job.state is JobState.PENDING and state(store, "b") is JobState.PENDING


def test_a_job_after_a_dead_one_is_stored_cancelled_with_the_reason(store):
    make_dead(store, "broken")
    job = new_job("next", after=["broken"])
    store.jobs.add(job)
    stored = store.jobs.get("next")
    assert (stored.state, stored.last_error) == (JobState.CANCELLED, "dependency 'broken' ended dead")
    assert job.state is JobState.CANCELLED


def test_add_many_takes_dependencies_earlier_in_the_same_batch(store):
    assert store.jobs.add_many([new_job("a"), new_job("b", after=["a"]), new_job("c", after=["b"])]) == []
    assert [state(store, name) for name in "abc"] == [JobState.PENDING, JobState.BLOCKED, JobState.BLOCKED]
    complete(store, "a")
    assert state(store, "b") is JobState.PENDING


def chain(store: Store) -> None:
    """a <- b <- c, and d after c and an unrelated e."""
    store.jobs.add(new_job("a", max_retries=0))
    store.jobs.add(new_job("e"))
    store.jobs.add(new_job("b", after=["a"]))
    store.jobs.add(new_job("c", after=["b"]))
    store.jobs.add(new_job("d", after=["c", "e"]))


def assert_chain_cancelled(store: Store, first: str, ended: str) -> None:
    release_marked(store)
    errors = {name: (state(store, name), store.jobs.get(name).last_error) for name in "bcd"}
    assert errors == {"b": (JobState.CANCELLED, f"dependency '{first}' ended {ended}"),
                      "c": (JobState.CANCELLED, "dependency 'b' ended cancelled"),
                      "d": (JobState.CANCELLED, "dependency 'c' ended cancelled")}
    assert state(store, "e") is JobState.PENDING


def test_a_dependency_ending_dead_cancels_the_chain_with_the_reason(store):
    chain(store)
    job = claim(store)
    token = job.lease_token
    job.fail(NOW, "exit code 1", BACKOFF, exit_code=1)
    assert store.jobs.record_outcome(job, token)
    assert_chain_cancelled(store, "a", "dead")


def test_cancelling_a_dependency_cancels_the_chain(store):
    chain(store)
    store.jobs.cancel("a", NOW)
    assert_chain_cancelled(store, "a", "cancelled")


def test_cancelling_a_running_dependency_cancels_the_chain(store):
    chain(store)
    assert claim(store).id == "a"
    store.jobs.cancel("a", NOW)
    assert_chain_cancelled(store, "a", "cancelled")


def test_a_lost_lease_that_ends_dead_cancels_the_chain(store):
    chain(store)
    job = claim(store)
    token = job.lease_token
    job.lose_lease(NOW + seconds(60), BACKOFF)
    assert store.jobs.record_outcome(job, token)
    assert_chain_cancelled(store, "a", "dead")


def test_a_buried_dependency_cancels_the_chain(store):
    chain(store)
    job = claim(store)
    token = job.lease_token
    job.refuse(NOW, "too large")
    assert store.jobs.bury(job, token)
    assert_chain_cancelled(store, "a", "dead")


def test_cancel_all_takes_blocked_jobs_and_their_dependents_in_other_queues(store):
    store.jobs.add(new_job("a"))
    store.jobs.add(new_job("b", after=["a"]))
    store.jobs.add(new_job("other", after=["b"], queue="elsewhere"))
    assert store.jobs.cancel_all(NOW, {JobState.PENDING, JobState.BLOCKED}, queue="default") == 2
    release_marked(store)
    assert {name: state(store, name) for name in ("a", "b", "other")} == dict.fromkeys(
        ("a", "b", "other"), JobState.CANCELLED)


def test_retrying_a_dead_dependency_does_not_bring_back_its_cancelled_dependents(store):
    make_dead(store, "a")
    store.jobs.add(new_job("b", after=["a"]))
    release_marked(store)
    store.jobs.retry("a", NOW + seconds(1))
    complete(store, "a", NOW + seconds(1))
    release_marked(store)
    assert state(store, "b") is JobState.CANCELLED


def test_updating_a_blocked_job_keeps_it_blocked(store):
    store.jobs.add(new_job("a"))
    store.jobs.add(new_job("b", after=["a"]))
    updated = store.jobs.update("b", NOW + seconds(1), {"priority": 9})
    assert (updated.state, updated.priority) == (JobState.BLOCKED, 9)
    complete(store, "a", NOW + seconds(2))
    assert (state(store, "b"), store.jobs.get("b").priority) == (JobState.PENDING, 9)


def test_a_removed_dependency_counts_as_done(store):
    store.jobs.add(new_job("a"))
    store.jobs.add(new_job("b"))
    store.jobs.add(new_job("c", after=["a", "b"]))
    complete(store, "a")
    store.jobs.remove(["a"])
    complete(store, "b")
    assert state(store, "c") is JobState.PENDING


def test_a_batch_of_outcomes_releases_its_dependents_before_the_claim(store):
    store.jobs.add_many([new_job("a"), new_job("b"), new_job("c", after=["a", "b"])])
    outcomes = []
    for job in (claim(store), claim(store)):
        token = job.lease_token
        job.succeed(NOW)
        outcomes.append(Outcome(job, token))
    recorded, next_jobs = store.jobs.settle_and_claim(outcomes, WORKER, NOW, NOW + LEASE)
    assert recorded == [True, True] and [job.id for job in next_jobs] == ["c"]


def test_a_blocked_job_holds_its_unique_key_and_frees_it_when_its_dependencys_death_cancels_it(store):
    store.jobs.add(new_job("a", max_retries=0))
    store.jobs.add(new_job("b", after=["a"], unique_key="deploy:prod"))
    with pytest.raises(UniqueKeyHeld) as refused:
        store.jobs.add(new_job("early", unique_key="deploy:prod"))
    assert str(refused.value) == "unique key 'deploy:prod' is held by job 'b' (blocked)"
    assert fail_next(store, NOW).state is JobState.DEAD  # a, max_retries=0
    release_marked(store)
    assert (state(store, "b"), store.jobs.get("b").last_error) == (JobState.CANCELLED, "dependency 'a' ended dead")
    store.jobs.add(new_job("again", unique_key="deploy:prod"))  # the cascade freed the key
    assert state(store, "again") is JobState.PENDING


def test_a_blocked_job_released_to_pending_keeps_its_unique_key(store):
    store.jobs.add(new_job("a"))
    store.jobs.add(new_job("b", after=["a"], unique_key="deploy:prod"))
    complete(store, "a")
    release_marked(store)
    assert state(store, "b") is JobState.PENDING
    with pytest.raises(UniqueKeyHeld) as refused:
        store.jobs.add(new_job("late", unique_key="deploy:prod"))
    assert str(refused.value) == "unique key 'deploy:prod' is held by job 'b' (pending)"


def test_on_mongodb_a_release_cut_short_after_the_outcome_is_finished_by_any_workers_upkeep(
        store, monkeypatch):
    """The crash between a dependency's fenced outcome and the release of its dependents: the
    second step fails; the outcome stands, the job stays marked, and the upkeep's sweep releases."""
    if "mongo" not in type(store).__name__.lower():
        pytest.skip("MongoDB only: the other stores release in the outcome's own transaction")
    from pymongo.errors import AutoReconnect

    from queuectl.adapters.mongo import dependencies as mongo_dependencies

    def cut_short(*_args):
        raise AutoReconnect("connection lost")

    store.jobs.add(new_job("a"))
    store.jobs.add(new_job("b", after=["a"]))
    with monkeypatch.context() as patch:
        patch.setattr(mongo_dependencies, "release", cut_short)
        complete(store, "a")
    assert (state(store, "a"), state(store, "b")) == (JobState.COMPLETED, JobState.BLOCKED)
    assert store.jobs.release_dependents(NOW + seconds(5)) == 1
    assert state(store, "b") is JobState.PENDING
    assert store.jobs.release_dependents(NOW + seconds(6)) == 0  # the mark is cleared
