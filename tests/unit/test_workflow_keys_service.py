"""Unique keys through JobService, and the retry rules through a worker (SPEC 9.3): in memory, fake clock."""

from __future__ import annotations

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain.errors import UniqueKeyHeld, UnknownDependency
from queuectl.domain.model import JobState
from queuectl.domain.ports import Page
from queuectl.domain.services import JobService
from queuectl.domain.specs import JobSpec

from .fakes import FakeClock, Script, ScriptedRunner
from .test_execution import enqueue, make_worker, step


@pytest.fixture
def store():
    store = InMemoryStore()
    store.settings.save("lease_seconds", 30.0)
    return store


@pytest.fixture
def clock():
    return FakeClock()


def test_enqueue_refuses_a_held_key_naming_the_holder(store, clock):
    jobs = JobService(store, clock)
    jobs.enqueue(JobSpec("true", id="a", unique_key="k"))
    with pytest.raises(UniqueKeyHeld, match=r"^unique key 'k' is held by job 'a' \(pending\)$"):
        jobs.enqueue(JobSpec("true", id="b", unique_key="k"))


def test_enqueue_many_refuses_a_held_key_at_its_position_and_keeps_the_input_order(store, clock):
    jobs = JobService(store, clock)
    jobs.enqueue(JobSpec("true", id="old"))
    specs = [JobSpec("true", id="p1"), JobSpec("true", id="k1", unique_key="k"), JobSpec("true", id="p2"),
             JobSpec("true", id="k2", unique_key="k"), JobSpec("true", id="old"), JobSpec("true", id="p3"),
             JobSpec("true", id="old", unique_key="j")]
    result = jobs.enqueue_many(specs)
    assert result.invalid == {3: "unique key 'k' is held by job 'k1' (pending)"}
    assert result.duplicates == ["old"]
    assert [job.id for job in result.stored] == ["p1", "k1", "p2", "p3"]
    assert [job.id for job in store.jobs.list(Page(limit=0))][::-1] == ["old", "p1", "k1", "p2", "p3"]


def test_a_timeout_under_no_retry_on_timeout_goes_dead_after_one_attempt(store, clock):
    runner = ScriptedRunner(clock)
    enqueue(store, clock, "slow", timeout=5.0, max_retries=3, no_retry_on="timeout")
    runner.scripts["slow"] = [Script(duration=60)]
    step(make_worker(store, clock, runner))
    job = store.jobs.get("slow")
    assert (job.state, job.attempts, job.last_error) == (
        JobState.DEAD, 1, "timed out after 5s (no-retry-on: dead without retry)")


def test_a_timeout_is_retried_under_retry_on_timeout_and_its_kill_code_does_not_match(store, clock):
    runner = ScriptedRunner(clock)
    enqueue(store, clock, "slow", timeout=5.0, max_retries=3, retry_on="timeout")
    enqueue(store, clock, "code", timeout=5.0, max_retries=3, no_retry_on="143")
    runner.scripts["slow"] = runner.scripts["code"] = [Script(duration=60)]
    worker = make_worker(store, clock, runner)
    step(worker)
    step(worker)
    assert store.jobs.get("slow").state is JobState.FAILED
    assert store.jobs.get("code").state is JobState.FAILED


def test_the_key_is_free_once_a_worker_completes_its_holder(store, clock):
    jobs = JobService(store, clock)
    jobs.enqueue(JobSpec("true", id="a", unique_key="k"))
    step(make_worker(store, clock, ScriptedRunner(clock)))
    assert store.jobs.get("a").state is JobState.COMPLETED
    assert jobs.enqueue(JobSpec("true", id="b", unique_key="k")).id == "b"


def test_enqueue_many_with_keys_and_an_unknown_dependency_stores_nothing(store, clock):
    """An unknown dependency fails its whole batch, as without keys, though jobs with a key
    are stored one by one."""
    jobs = JobService(store, clock)
    specs = [JobSpec("true", id="a"), JobSpec("true", id="k", unique_key="k"), JobSpec("true", id="b", after=("a",)),
             JobSpec("true", id="c", after=("nope",))]
    with pytest.raises(UnknownDependency, match=r"^dependency 'nope' not found"):
        jobs.enqueue_many(specs)
    assert store.jobs.list(Page(limit=0)) == []
    specs[-1] = JobSpec("true", id="c", after=("k", "b"))
    assert [job.id for job in jobs.enqueue_many(specs).stored] == ["a", "k", "b", "c"]
    assert store.jobs.get("c").state is JobState.BLOCKED
