"""A worker rides out a store outage: retries with capped backoff, its command keeps running,
one log line when the outage starts and one when it ends. Fake clock, no real sleeps."""

import logging
from datetime import timedelta

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain.errors import StoreLost
from queuectl.domain.execution import Worker, WorkerControl
from queuectl.domain.model import Job, JobState
from queuectl.domain.outage import Outage, RetryPolicy
from queuectl.domain.ports import WorkerInfo, WorkerRef

from .fakes import ClockWaiter, FlakyStore, Script, ScriptedRunner

LOGGER = "queuectl.domain.execution"


@pytest.fixture
def inner():
    store = InMemoryStore()
    store.settings.save("lease_seconds", 30.0)
    return store


def make_worker(inner, clock, runner, outcomes_ride_with_claim=True, fraction=1.0):
    store = FlakyStore(inner, clock)
    info = WorkerInfo("w1", "host", 100, 1.0, (), clock.now(), clock.now())
    inner.workers.register(info)
    return Worker(store, clock, runner, ClockWaiter(clock), info, WorkerControl(), prefetch_window=0.0,
                  outage=Outage(fraction=lambda: fraction), outcomes_ride_with_claim=outcomes_ride_with_claim)


def enqueue(inner, clock, job_id, **fields):
    inner.jobs.add(Job.new(job_id, fields.pop("command", "true"), clock.now(), **fields))


def test_retry_pauses_double_from_a_tenth_of_a_second_and_stop_at_five_seconds():
    policy = RetryPolicy()
    assert [policy.delay(n, 1.0) for n in range(1, 9)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])
    assert policy.delay(1000, 1.0) == 5.0


def test_retry_pauses_are_jittered_between_half_and_all_of_the_step():
    policy = RetryPolicy()
    assert policy.delay(3, 0.0) == pytest.approx(0.2)
    assert policy.delay(3, 0.5) == pytest.approx(0.3)
    assert policy.delay(50, 0.0) == pytest.approx(2.5)


def test_a_claim_that_fails_is_retried_with_backoff_until_the_store_answers(inner, clock, runner):
    enqueue(inner, clock, "job1")
    worker = make_worker(inner, clock, runner)
    worker.settings(clock.now())
    worker._beat_at = clock.now() + timedelta(seconds=10)
    worker.store.fail_next = 4
    assert worker.run_once().id == "job1"
    worker.flush()
    assert worker.waiter.waits == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert inner.jobs.get("job1").state is JobState.COMPLETED


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(inner, clock, runner, caplog):
    enqueue(inner, clock, "job1")
    worker = make_worker(inner, clock, runner)
    worker.store.down_for(9.8)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        worker.run_once()
        worker.flush()
    outage_lines = [r.getMessage() for r in caplog.records if "store" in r.getMessage()]
    assert worker.store.errors > 5
    assert len(outage_lines) == 2
    assert outage_lines[0] == "store unavailable: the test store is down; retrying"
    assert outage_lines[1].startswith("store back after ")
    assert float(outage_lines[1].split()[3]) >= 9.8
    assert inner.jobs.get("job1").state is JobState.COMPLETED


def test_a_command_keeps_running_through_an_outage_and_its_outcome_is_written_afterwards(inner, clock, runner):
    enqueue(inner, clock, "long")
    runner.scripts["long"] = [Script(duration=40)]
    worker = make_worker(inner, clock, runner)
    runner.on_wait.append(lambda cmd: worker.store.down_for(20))  # the store goes away mid-run
    worker.run_once()
    worker.flush()
    job = inner.jobs.get("long")
    assert runner.commands[0].killed is None
    assert job.state is JobState.COMPLETED and job.attempts == 1 and len(job.history) == 1


@pytest.mark.parametrize("outcomes_ride_with_claim", [True, False], ids=["settled-with-claim", "written-at-once"])
def test_a_command_that_ends_during_an_outage_is_recorded_once_the_store_returns(
        inner, clock, runner, outcomes_ride_with_claim):
    enqueue(inner, clock, "job1")
    runner.scripts["job1"] = [Script(duration=5, exit_code=3, error="exit code 3")]
    worker = make_worker(inner, clock, runner, outcomes_ride_with_claim)
    runner.on_wait.append(lambda cmd: worker.store.down_for(12))
    worker.run_once()
    worker.flush()
    job = inner.jobs.get("job1")
    assert job.state is JobState.FAILED and job.exit_code == 3 and job.attempts == 1


def test_the_lease_is_renewed_within_five_seconds_of_the_store_returning(inner, clock, runner):
    enqueue(inner, clock, "long")
    runner.scripts["long"] = [Script(duration=100)]
    worker = make_worker(inner, clock, runner)
    back_at = []
    renewals = []

    def watch(cmd):
        renewals.append((clock.now(), inner.jobs.get("long").lease_until))
        runner.on_wait.append(watch)

    def outage(cmd):
        worker.store.down_for(25)
        back_at.append(clock.now() + timedelta(seconds=25))
        runner.on_wait.append(watch)

    runner.on_wait.append(outage)
    worker.run_once()
    renewed_at = next(until for seen, until in renewals if until > back_at[0]) - timedelta(seconds=30)
    assert renewed_at - back_at[0] <= timedelta(seconds=5)
    assert runner.commands[0].killed is None


def test_a_failing_heartbeat_does_not_stop_the_worker_and_is_retried_soon(inner, clock, runner):
    worker = make_worker(inner, clock, runner)
    settings = worker.settings(clock.now())
    worker.store.fail_next = 1
    worker.beat(clock.now(), None, settings)
    assert not worker.control.stop
    assert worker._beat_at - clock.now() <= timedelta(seconds=5)
    clock.advance(1)
    worker.beat(clock.now(), None, settings)
    assert inner.workers.workers()[0].last_heartbeat == clock.now()


def test_a_graceful_stop_during_an_outage_exits_and_leaves_the_job_to_its_lease(inner, clock, runner):
    enqueue(inner, clock, "job1")
    runner.scripts["job1"] = [Script(duration=5)]
    worker = make_worker(inner, clock, runner)

    def stop_while_down(cmd):
        worker.store.down_for(10_000)
        worker.control.stop = True

    runner.on_wait.append(stop_while_down)
    worker.run()
    job = inner.jobs.get("job1")
    assert job.state is JobState.PROCESSING  # recovered by any worker once its lease ends
    assert clock.now() - job.started_at < timedelta(seconds=30)  # it did not wait out the outage


def test_a_worker_whose_store_was_lost_kills_its_command_and_stops_with_the_error(inner, clock, runner):
    enqueue(inner, clock, "long")
    runner.scripts["long"] = [Script(duration=100)]
    worker = make_worker(inner, clock, runner)
    runner.on_wait.append(lambda cmd: setattr(worker.store, "lost", StoreLost("the file was replaced")))
    with pytest.raises(StoreLost):
        worker.run()
    assert runner.commands[0].killed == "worker stopped"


def stop_when(worker, clock, condition):
    """Idle waits move the clock on; the worker is asked to stop once ``condition()`` holds."""
    def wait(seconds):
        clock.advance(seconds)
        worker.control.stop = condition()
    worker.waiter.wait = wait


def test_a_worker_that_starts_during_an_outage_registers_once_the_store_answers(inner, clock, runner):
    worker = make_worker(inner, clock, runner)
    inner.workers.deregister("w1")
    registered = []
    original = inner.workers.register
    inner.workers.register = lambda info: (registered.append(clock.now()), original(info))[1]
    worker.store.down_for(7)
    stop_when(worker, clock, lambda: bool(registered))
    worker.run()
    assert worker.store.errors > 0 and not worker.outage.down
    assert registered and registered[0] >= worker.store.down_until


def test_an_idle_worker_beats_every_third_of_a_lease_whatever_the_poll_interval(inner, clock, runner):
    inner.settings.save("poll_interval", 60.0)
    worker = make_worker(inner, clock, runner)
    beats = []
    original = inner.workers.heartbeat
    inner.workers.heartbeat = lambda *a: (beats.append(clock.now()), original(*a))[1]
    stop_when(worker, clock, lambda: clock.now() >= beats[0] + timedelta(seconds=60))
    worker.run()
    gaps = [(b - a).total_seconds() for a, b in zip(beats, beats[1:])]
    assert len(beats) >= 6 and max(gaps) <= 10.0 + 1e-6


def test_an_idle_worker_picks_up_a_shorter_poll_interval_within_five_seconds(inner, clock, runner):
    inner.settings.save("poll_interval", 60.0)
    worker = make_worker(inner, clock, runner)
    waits = []

    def wait(seconds):
        waits.append((clock.now(), seconds))
        clock.advance(seconds)
        if len(waits) == 1:
            inner.settings.save("poll_interval", 0.25)
            changed.append(clock.now())
        worker.control.stop = len(waits) > 20

    changed = []
    worker.waiter.wait = wait
    worker.run()
    first_short = next(at for at, seconds in waits if seconds == 0.25)
    assert first_short - changed[0] <= timedelta(seconds=5)


def test_after_an_outage_longer_than_the_lease_a_live_workers_job_is_not_taken_from_it(inner, clock, runner):
    enqueue(inner, clock, "long")
    runner.scripts["long"] = [Script(duration=120)]
    running = make_worker(inner, clock, runner)
    info = WorkerInfo("w2", "host", 101, 1.0, (), clock.now(), clock.now())
    inner.workers.register(info)
    idle = Worker(FlakyStore(inner, clock), clock, ScriptedRunner(clock), ClockWaiter(clock), info,
                  WorkerControl(), outage=Outage(fraction=lambda: 1.0))

    def outage(cmd):  # both lose the store for twice the lease
        for worker in (running, idle):
            worker.store.down_for(60)
        runner.on_wait.append(meanwhile)

    def meanwhile(cmd):  # the idle worker gets turns (beats, claims) at every wait of the busy one
        idle.run_once()
        idle.run_once()
        runner.on_wait.append(meanwhile)

    runner.on_wait.append(outage)
    running.run_once()
    running.flush()
    job = inner.jobs.get("long")
    assert runner.commands[0].killed is None
    assert job.state is JobState.COMPLETED and job.attempts == 1


def test_a_lease_that_expired_without_an_outage_seen_here_is_recovered_at_once(inner, clock, runner):
    enqueue(inner, clock, "orphan")
    assert inner.jobs.claim_next(WorkerRef("gone", "h"), clock.now(), clock.now() + timedelta(seconds=30))
    clock.advance(31)
    worker = make_worker(inner, clock, runner)
    worker.run_once()
    assert inner.jobs.get("orphan").history[0].error.startswith("worker lost")
