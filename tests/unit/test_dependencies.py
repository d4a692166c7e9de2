"""Dependencies in the domain (SPEC 9.3): the model's moves, the settling rule, the enqueue checks,
and the service on the in-memory store with a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain import defaults
from queuectl.domain.dependencies import settle
from queuectl.domain.errors import InvalidJob, InvalidTransition, UnknownDependency
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import WorkerRef
from queuectl.domain.services import JobService
from queuectl.domain.specs import JobSpec, spec_from_json

from .fakes import T0, FakeClock

C, D, X, P = JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED, JobState.PENDING


def blocked(*after: str) -> Job:
    return Job.new("job", "echo hi", T0, after=list(after))


def test_a_job_with_dependencies_starts_blocked_and_one_without_pending():
    assert blocked("a").state is JobState.BLOCKED and blocked("a").after == ["a"]
    assert Job.new("job", "echo hi", T0).state is P


@pytest.mark.parametrize("after, message", [
    (["job"], "cannot wait for itself"),
    (["bad id"], "invalid dependency id"),
    ("a", "must be a list of job ids"),
    ([f"j{n}" for n in range(defaults.DEPENDENCIES_MAX + 1)], f"at most {defaults.DEPENDENCIES_MAX} jobs"),
])
def test_bad_dependencies_are_refused(after, message):
    with pytest.raises(InvalidJob, match=message):
        Job.new("job", "echo hi", T0, after=after)


def test_repeated_dependencies_count_once_in_the_order_given():
    assert blocked("b", "a", "b").after == ["b", "a"]


def test_a_blocked_job_is_pending_once_every_dependency_completed_and_keeps_its_run_at():
    job = Job.new("job", "echo hi", T0, after=["a", "b"], run_at=T0 + timedelta(hours=1))
    assert not settle(job, {"a": C, "b": P}, T0)
    assert job.state is JobState.BLOCKED
    assert settle(job, {"a": C, "b": C}, T0 + timedelta(seconds=5))
    assert (job.state, job.run_at, job.updated_at) == (P, T0 + timedelta(hours=1), T0 + timedelta(seconds=5))


@pytest.mark.parametrize("ended", [D, X])
def test_a_dependency_that_ended_badly_cancels_the_job_naming_it(ended):
    job = blocked("a", "b")
    assert settle(job, {"a": P, "b": ended}, T0)
    assert (job.state, job.last_error, job.finished_at) == (X, f"dependency 'b' ended {ended.value}", T0)


def test_a_missing_dependency_counts_as_done_and_a_settled_job_is_not_moved_again():
    job = blocked("gone")
    assert settle(job, {}, T0) and job.state is P
    assert not settle(job, {"gone": D}, T0)


@pytest.mark.parametrize("move", ["claim", "retry", "unblock_pending"])
def test_a_blocked_job_cannot_be_claimed_or_retried_and_only_a_blocked_one_unblocked(move):
    job = blocked("a")
    with pytest.raises(InvalidTransition):
        if move == "claim":
            job.claim("w", "h", "t", T0, T0)
        elif move == "retry":
            job.retry(T0)
        else:
            Job.new("p", "echo", T0).unblock(T0)


def test_a_blocked_job_can_be_updated_and_cancelled():
    job = blocked("a")
    job.update(T0, {"priority": 7})
    assert (job.state, job.priority) == (JobState.BLOCKED, 7)
    job.cancel(T0)
    assert job.state is X and job.last_error is None


def test_after_in_json_is_a_list_of_ids():
    assert spec_from_json('{"command": "x", "after": ["a", "b"]}').after == ("a", "b")
    with pytest.raises(InvalidJob, match="list of job ids"):
        spec_from_json('{"command": "x", "after": {"a": 1}}')


@pytest.fixture
def service():
    return JobService(InMemoryStore(), FakeClock())


def run_next(service: JobService, succeed: bool = True) -> Job:
    job = service.store.jobs.claim_next(WorkerRef("w", "h"), service.clock.now(), service.clock.now() + timedelta(seconds=30))
    token = job.lease_token
    job.succeed(service.clock.now()) if succeed else job.refuse(service.clock.now(), "boom")
    assert (service.store.jobs.record_outcome if succeed else service.store.jobs.bury)(job, token)
    return job


def test_enqueue_of_an_unknown_dependency_stores_nothing(service):
    with pytest.raises(UnknownDependency, match="dependency 'nope' not found"):
        service.enqueue(JobSpec("echo", id="b", after=("nope",)))
    assert service.status().jobs == dict.fromkeys(JobState, 0)


def test_a_chain_runs_in_order_and_show_lists_the_dependencies(service):
    service.enqueue(JobSpec("echo a", id="a"))
    b = service.enqueue(JobSpec("echo b", id="b", after=("a",)))
    assert b.state is JobState.BLOCKED
    service.enqueue(JobSpec("echo c", id="c", after=("b", "a")))
    assert service.dependency_states(service.get("c")) == [("b", JobState.BLOCKED), ("a", P)]
    assert [run_next(service).id for _ in range(3)] == ["a", "b", "c"]


def test_cancel_all_by_default_takes_blocked_jobs_too(service):
    service.enqueue(JobSpec("echo a", id="a", run_at=T0 + timedelta(days=1)))
    service.enqueue(JobSpec("echo b", id="b", after=("a",)))
    assert service.cancel_all() == 2
    assert service.get("b").state is X


def test_a_dead_dependency_cancels_the_chain_and_its_retry_brings_nothing_back(service):
    service.enqueue(JobSpec("echo a", id="a"))
    service.enqueue(JobSpec("echo b", id="b", after=("a",)))
    service.enqueue(JobSpec("echo c", id="c", after=("b",)))
    run_next(service, succeed=False)  # a: dead (refused outcome)
    assert [(service.get(n).state, service.get(n).last_error) for n in "bc"] == [
        (X, "dependency 'a' ended dead"), (X, "dependency 'b' ended cancelled")]
    service.retry(["a"])
    run_next(service)
    assert service.get("b").state is X


def test_every_heartbeat_of_a_worker_finishes_the_releases_a_store_left_marked():
    """The upkeep half of MongoDB's release protocol, on any store: ``beat`` calls the sweep."""
    from queuectl.domain.execution import Worker, WorkerControl
    from queuectl.domain.ports import WorkerInfo

    from .fakes import ClockWaiter, ScriptedRunner

    store, clock, sweeps = InMemoryStore(), FakeClock(), []
    store.jobs.release_dependents = lambda now, limit=100: sweeps.append(now) or 0
    info = WorkerInfo("w1", "host", 100, 1.0, (), clock.now(), clock.now())
    store.workers.register(info)
    worker = Worker(store, clock, ScriptedRunner(clock), ClockWaiter(clock), info, WorkerControl())
    worker.beat(clock.now(), None, worker.settings(clock.now()))
    clock.advance(11)  # past lease/3 of the default 30 s lease
    worker.beat(clock.now(), None, worker.settings(clock.now()))
    assert sweeps == [T0, T0 + timedelta(seconds=11)]
