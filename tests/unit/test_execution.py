"""The worker's claim -> run -> record loop, with the in-memory store, a fake clock and scripted commands."""

from datetime import timedelta

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain.execution import Worker, WorkerControl
from queuectl.domain.model import WORKER_LOST, Job, JobState
from queuectl.domain.ports import WorkerInfo, WorkerRef

from .fakes import ClockWaiter, Script, ScriptedRunner


@pytest.fixture
def store():
    store = InMemoryStore()
    store.settings.save("lease_seconds", 30.0)
    return store


def make_worker(store, clock, runner, worker_id="w1", queues=(), prefetch=0.0, outcomes_ride_with_claim=True):
    info = WorkerInfo(worker_id, "host", 100, 1.0, tuple(queues), clock.now(), clock.now())
    store.workers.register(info)
    return Worker(store, clock, runner, ClockWaiter(clock), info, WorkerControl(), prefetch_window=prefetch,
                  outcomes_ride_with_claim=outcomes_ride_with_claim)


def step(worker):
    """One claim -> run, with its outcome written (normally the next claim writes it)."""
    job = worker.run_once()
    worker.flush()
    return job


def enqueue(store, clock, job_id, **fields):
    store.jobs.add(Job.new(job_id, fields.pop("command", "true"), clock.now(), **fields))


def test_a_successful_command_completes_the_job(store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=2, output="hi\n")]
    step(make_worker(store, clock, runner))
    job = store.jobs.get("job1")
    assert job.state is JobState.COMPLETED and job.exit_code == 0
    assert store.jobs.logs("job1")[0].output == "hi\n"


def test_a_failing_command_is_retried_after_the_backoff_then_lands_in_the_dlq(store, clock, runner):
    store.settings.save("backoff_base", 3.0)
    enqueue(store, clock, "job1", max_retries=2)
    runner.scripts["job1"] = [Script(exit_code=1, error="exit code 1")]
    worker = make_worker(store, clock, runner)
    step(worker)
    job = store.jobs.get("job1")
    assert job.state is JobState.FAILED and job.run_at == clock.now() + timedelta(seconds=3)
    assert step(worker) is None  # not due yet
    clock.advance(3)
    step(worker)
    assert store.jobs.get("job1").run_at == clock.now() + timedelta(seconds=9)
    clock.advance(9)
    step(worker)
    job = store.jobs.get("job1")
    assert job.state is JobState.DEAD and job.attempts == 3 and len(job.history) == 3


def test_with_backoff_jitter_set_jobs_failing_together_are_retried_at_spread_out_instants(store, clock, runner):
    store.settings.save("backoff_jitter", 0.2)
    for n in range(20):
        enqueue(store, clock, f"job{n}")
        runner.scripts[f"job{n}"] = [Script(exit_code=1, error="exit code 1")]
    worker = make_worker(store, clock, runner)
    for _ in range(20):
        step(worker)
    delays = {store.jobs.get(f"job{n}").run_at - clock.now() for n in range(20)}
    assert len(delays) >= 15  # the delay is 2 s without jitter
    assert all(timedelta(seconds=1.6) <= delay <= timedelta(seconds=2.4) for delay in delays)


def test_the_lease_is_renewed_while_a_long_command_runs(store, clock, runner):
    enqueue(store, clock, "long")
    runner.scripts["long"] = [Script(duration=100)]
    seen = []
    runner.on_wait.extend([lambda cmd: seen.append(store.jobs.get("long").lease_until)] * 5)
    step(make_worker(store, clock, runner))
    assert store.jobs.get("long").state is JobState.COMPLETED
    assert len(set(seen)) >= 3  # the lease moved on every renew


def test_a_timeout_kills_the_command_and_fails_the_attempt(store, clock, runner):
    enqueue(store, clock, "slow", timeout=5.0, max_retries=0)
    runner.scripts["slow"] = [Script(duration=60)]
    step(make_worker(store, clock, runner))
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
    step(make_worker(store, clock, runner))
    job = store.jobs.get("job1")
    assert runner.commands[0].killed == "lease lost"
    assert job.state is JobState.FAILED and job.last_error == WORKER_LOST and job.attempts == 1


def test_an_expired_lease_is_recovered_by_a_live_worker_and_the_job_runs_again(store, clock, runner):
    enqueue(store, clock, "job1")
    store.jobs.claim_next(WorkerRef("dead-worker", "h"), clock.now(), clock.now() + timedelta(seconds=30))
    clock.advance(31)
    worker = make_worker(store, clock, runner)
    step(worker)  # recovers: failed, retry in 2 s
    assert store.jobs.get("job1").state is JobState.FAILED
    clock.advance(2)
    step(worker)
    job = store.jobs.get("job1")
    assert job.state is JobState.COMPLETED and job.attempts == 2 and job.history[0].error == WORKER_LOST


def test_stop_now_kills_the_command_and_releases_the_job_without_counting_it(store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=100)]
    worker = make_worker(store, clock, runner)
    runner.on_wait.append(lambda _cmd: setattr(worker.control, "stop_now", True))
    step(worker)
    job = store.jobs.get("job1")
    assert job.state is JobState.PENDING and job.attempts == 0
    assert runner.commands[0].killed.startswith("released")


def test_cancelling_a_running_job_kills_it_and_it_stays_cancelled(store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=100)]
    runner.on_wait.append(lambda _cmd: store.jobs.cancel("job1", clock.now()))
    step(make_worker(store, clock, runner))
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
    while step(worker):
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
    step(worker)
    assert worker.control.stop


def test_an_outcome_is_written_in_the_same_store_call_as_the_next_claim(store, clock, runner):
    enqueue(store, clock, "first")
    enqueue(store, clock, "second")
    worker = make_worker(store, clock, runner)
    calls = []
    original = store.jobs.settle_and_claim
    store.jobs.settle_and_claim = lambda outcomes, *a, **k: (calls.append([o.job.id for o in outcomes]),
                                                             original(outcomes, *a, **k))[1]
    worker.run_once()
    worker.run_once()
    assert calls == [[], ["first"]]
    assert store.jobs.get("first").state is JobState.COMPLETED
    assert store.jobs.get("second").state is JobState.PROCESSING  # its outcome waits for the next call
    worker.flush()
    assert store.jobs.get("second").state is JobState.COMPLETED


def test_a_worker_claims_short_jobs_in_batches_and_runs_each_once(store, clock, runner):
    for n in range(40):
        enqueue(store, clock, f"j{n:02d}")
    runner.scripts.update({f"j{n:02d}": [Script(duration=0.001)] for n in range(40)})
    limits = []
    original = store.jobs.settle_and_claim
    store.jobs.settle_and_claim = lambda *a, **k: (limits.append(k["limit"]), original(*a, **k))[1]
    worker = make_worker(store, clock, runner, prefetch=0.02)
    while worker.run_once():
        pass
    assert max(limits) > 1 and len(limits) < 20  # far fewer store round trips than jobs
    assert sorted(runner.started) == [f"j{n:02d}" for n in range(40)]
    assert all(len(store.jobs.get(f"j{n:02d}").history) == 1 for n in range(40))
    assert store.jobs.count_by_state()[JobState.COMPLETED] == 40


def test_jobs_claimed_ahead_are_handed_back_while_a_long_one_runs(store, clock, runner):
    for n in range(6):
        enqueue(store, clock, f"j{n}")
    runner.scripts.update({f"j{n}": [Script(duration=0.001)] for n in range(6)})
    runner.scripts["j4"] = [Script(duration=60)]
    worker = make_worker(store, clock, runner, prefetch=0.02)
    worker._typical_seconds = 0.001  # recent jobs were short: it claims all six at once
    states_during_j4 = []

    def watch(command):
        if command.script.duration == 60:
            states_during_j4.append(store.jobs.get("j5").state)
        runner.on_wait.append(watch)

    runner.on_wait.append(watch)
    while worker.run_once():
        pass
    worker.flush()
    assert JobState.PENDING in states_during_j4  # free for any worker while j4 ran
    j5 = store.jobs.get("j5")
    assert j5.state is JobState.COMPLETED and j5.attempts == 1
    assert [a.error for a in j5.history] == ["released: not started (claimed ahead)", None]


def test_a_job_claimed_ahead_whose_lease_was_lost_while_waiting_is_not_run(store, clock, runner):
    for n in range(3):
        enqueue(store, clock, f"j{n}")
    runner.scripts.update({f"j{n}": [Script(duration=0.001)] for n in range(3)})
    worker = make_worker(store, clock, runner, prefetch=0.02)
    worker._typical_seconds = 0.001  # claims all three at once

    def stall_then_lose_j2(command):
        clock.advance(31)  # past the 30 s lease of the jobs still waiting their turn
        other = make_worker(store, clock, ScriptedRunner(clock), worker_id="w2")
        other.recover_lost(clock.now(), other.settings(clock.now()))

    runner.on_wait.append(stall_then_lose_j2)
    while worker.run_once():
        pass
    worker.flush()
    assert "j2" not in runner.started and "j1" not in runner.started
    assert store.jobs.get("j2").state is JobState.FAILED  # recovered: its attempt counts as lost


def test_a_job_claimed_ahead_gets_its_lease_renewed_before_it_starts(store, clock, runner):
    for n in range(2):
        enqueue(store, clock, f"j{n}")
    runner.scripts["j0"] = [Script(duration=0.001)]
    runner.scripts["j1"] = [Script(duration=0.001)]
    worker = make_worker(store, clock, runner, prefetch=0.02)
    worker._typical_seconds = 0.001
    runner.on_wait.append(lambda _cmd: clock.advance(15))  # j0 waits long enough to age j1's lease
    while worker.run_once():
        pass
    worker.flush()
    assert runner.started == ["j0", "j1"]
    assert store.jobs.get("j1").state is JobState.COMPLETED


def test_where_the_store_cannot_settle_with_a_claim_an_outcome_is_written_when_the_command_ends(
        store, clock, runner):
    enqueue(store, clock, "job1")
    worker = make_worker(store, clock, runner, outcomes_ride_with_claim=False)  # as for MongoDB
    worker.run_once()  # no flush: nothing may wait for a next claim that could come too late
    assert store.jobs.get("job1").state is JobState.COMPLETED


@pytest.mark.parametrize("url, with_claim", [("sqlite:///q.db", True), ("memory://", True),
                                             ("mongodb://db.invalid/q", False)])
def test_the_container_lets_outcomes_wait_for_the_next_claim_only_on_a_local_store(tmp_path, url, with_claim):
    from queuectl.container import build_container

    assert build_container(url, str(tmp_path)).outcomes_ride_with_claim() is with_claim
