"""The worker's claim -> run -> record loop, with the in-memory store, a fake clock and scripted commands."""

from datetime import timedelta

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain.execution import Worker, WorkerControl
from queuectl.domain.model import WORKER_LOST, Job, JobState
from queuectl.domain.ports import WorkerInfo, WorkerRef

from .fakes import ClockWaiter, FakeClock, Script, ScriptedRunner


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def store():
    store = InMemoryStore()
    store.settings.save("lease_seconds", 30.0)
    return store


@pytest.fixture
def runner(clock):
    return ScriptedRunner(clock)


def make_worker(store, clock, runner, worker_id="w1", queues=()):
    info = WorkerInfo(worker_id, "host", 100, 1.0, tuple(queues), clock.now(), clock.now())
    return Worker(store, clock, runner, ClockWaiter(clock), info, WorkerControl())


def enqueue(store, clock, job_id, **fields):
    store.jobs.add(Job.new(job_id, fields.pop("command", "true"), clock.now(), **fields))


def test_a_successful_command_completes_the_job(store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=2, output="hi\n")]
    make_worker(store, clock, runner).run_once()
    job = store.jobs.get("job1")
    assert job.state is JobState.COMPLETED and job.exit_code == 0
    assert store.jobs.logs("job1")[0].output == "hi\n"


def test_a_failing_command_is_retried_after_the_backoff_then_lands_in_the_dlq(store, clock, runner):
    store.settings.save("backoff_base", 3.0)
    enqueue(store, clock, "job1", max_retries=2)
    runner.scripts["job1"] = [Script(exit_code=1, error="exit code 1")]
    worker = make_worker(store, clock, runner)
    worker.run_once()
    job = store.jobs.get("job1")
    assert job.state is JobState.FAILED and job.run_at == clock.now() + timedelta(seconds=3)
    assert worker.run_once() is None  # not due yet
    clock.advance(3)
    worker.run_once()
    assert store.jobs.get("job1").run_at == clock.now() + timedelta(seconds=9)
    clock.advance(9)
    worker.run_once()
    job = store.jobs.get("job1")
    assert job.state is JobState.DEAD and job.attempts == 3 and len(job.history) == 3


def test_the_lease_is_renewed_while_a_long_command_runs(store, clock, runner):
    enqueue(store, clock, "long")
    runner.scripts["long"] = [Script(duration=100)]
    seen = []
    runner.on_wait.extend([lambda cmd: seen.append(store.jobs.get("long").lease_until)] * 5)
    make_worker(store, clock, runner).run_once()
    assert store.jobs.get("long").state is JobState.COMPLETED
    assert len(set(seen)) >= 3  # the lease moved on every renew


def test_a_timeout_kills_the_command_and_fails_the_attempt(store, clock, runner):
    enqueue(store, clock, "slow", timeout=5.0, max_retries=0)
    runner.scripts["slow"] = [Script(duration=60)]
    make_worker(store, clock, runner).run_once()
    job = store.jobs.get("slow")
    assert runner.commands[0].killed == "timed out after 5s"
    assert job.state is JobState.DEAD and job.last_error == "timed out after 5s"


def test_a_worker_whose_lease_was_taken_over_kills_its_command_and_writes_nothing(store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=100)]

    def steal(_command):
        clock.advance(31)  # the lease ran out; another worker recovers the job
        other = make_worker(store, clock, ScriptedRunner(clock), worker_id="w2")
        other.recover_lost(clock.now(), other.settings(clock.now()))

    runner.on_wait.append(steal)
    make_worker(store, clock, runner).run_once()
    job = store.jobs.get("job1")
    assert runner.commands[0].killed == "lease lost"
    assert job.state is JobState.FAILED and job.last_error == WORKER_LOST and job.attempts == 1


def test_an_expired_lease_is_recovered_by_a_live_worker_and_the_job_runs_again(store, clock, runner):
    enqueue(store, clock, "job1")
    store.jobs.claim_next(WorkerRef("dead-worker", "h"), clock.now(), clock.now() + timedelta(seconds=30))
    clock.advance(31)
    worker = make_worker(store, clock, runner)
    worker.run_once()  # recovers: failed, retry in 2 s
    assert store.jobs.get("job1").state is JobState.FAILED
    clock.advance(2)
    worker.run_once()
    job = store.jobs.get("job1")
    assert job.state is JobState.COMPLETED and job.attempts == 2 and job.history[0].error == WORKER_LOST


def test_stop_now_kills_the_command_and_releases_the_job_without_counting_it(store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=100)]
    worker = make_worker(store, clock, runner)
    runner.on_wait.append(lambda _cmd: setattr(worker.control, "stop_now", True))
    worker.run_once()
    job = store.jobs.get("job1")
    assert job.state is JobState.PENDING and job.attempts == 0
    assert runner.commands[0].killed.startswith("released")


def test_cancelling_a_running_job_kills_it_and_it_stays_cancelled(store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=100)]
    runner.on_wait.append(lambda _cmd: store.jobs.cancel("job1", clock.now()))
    make_worker(store, clock, runner).run_once()
    assert runner.commands[0].killed == "lease lost"
    assert store.jobs.get("job1").state is JobState.CANCELLED


def test_a_graceful_stop_finishes_the_running_job_and_claims_no_more(store, clock, runner):
    enqueue(store, clock, "first")
    enqueue(store, clock, "second")
    runner.scripts["first"] = [Script(duration=10)]
    worker = make_worker(store, clock, runner)
    runner.on_wait.append(lambda _cmd: setattr(worker.control, "stop", True))
    worker.run()
    assert store.jobs.get("first").state is JobState.COMPLETED
    assert store.jobs.get("second").state is JobState.PENDING
    assert store.workers.workers() == []  # deregistered on the way out


def test_higher_priority_runs_first_and_queues_are_respected(store, clock, runner):
    enqueue(store, clock, "low", priority=0)
    enqueue(store, clock, "high", priority=5)
    enqueue(store, clock, "other", priority=9, queue="other")
    worker = make_worker(store, clock, runner, queues=["default"])
    while worker.run_once():
        pass
    assert runner.started == ["high", "low"]


def test_an_idle_worker_waits_the_poll_interval(store, clock, runner):
    store.settings.save("poll_interval", 0.25)
    worker = make_worker(store, clock, runner)
    runner_waits = worker.waiter.waits
    worker.waiter.wait = lambda s: (runner_waits.append(s), setattr(worker.control, "stop", True))
    worker.run()
    assert runner_waits == [0.25]


def test_a_worker_asked_to_stop_through_the_registry_exits(store, clock, runner):
    worker = make_worker(store, clock, runner)
    store.workers.register(worker.info)
    store.workers.request_stop([worker.info.id])
    worker.run_once()
    assert worker.control.stop
