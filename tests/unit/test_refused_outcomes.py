"""A job the store cannot record ends dead; the worker goes on (SPEC 9.4). Bounded histories."""

from datetime import timedelta

import pytest

from queuectl.domain.model import JobState
from queuectl.domain.ports import WorkerRef

from .fakes import RefusingJobRepository, Script, refusing_store
from . import test_execution
from .test_execution import enqueue, step

REFUSED = f"outcome not recorded: {RefusingJobRepository.REASON}"


@pytest.fixture(params=[True, False], ids=["outcome-with-next-claim", "outcome-at-once"])
def store(request):
    """Both ways a worker writes an outcome: with its next claim (SQLite) or at once (MongoDB)."""
    store = refusing_store()
    store.outcomes_ride_with_claim = request.param  # read by make_worker below
    store.settings.save("lease_seconds", 30.0)
    return store


def make_worker(store, clock, runner, **options):
    with_claim = getattr(store, "outcomes_ride_with_claim", True)  # set by the store fixture
    return test_execution.make_worker(store, clock, runner, outcomes_ride_with_claim=with_claim, **options)


def test_a_job_whose_outcome_the_store_refuses_ends_dead_and_the_worker_runs_the_next_job(store, clock, runner):
    enqueue(store, clock, "poison", priority=1, max_retries=5)
    enqueue(store, clock, "next")
    store.jobs.poisoned.add("poison")
    runner.scripts["poison"] = [Script(exit_code=1, error="exit code 1", output="z" * 65536)]
    worker = make_worker(store, clock, runner)
    step(worker)
    step(worker)
    poison, following = store.jobs.get("poison"), store.jobs.get("next")
    assert (poison.state, poison.last_error, poison.lease_token, poison.attempts) == (JobState.DEAD, REFUSED, None, 1)
    assert (poison.history[-1].outcome, poison.history[-1].error) == (JobState.DEAD, REFUSED)
    assert following.state is JobState.COMPLETED
    assert runner.started == ["poison", "next"] and not worker.stopping


def test_a_successful_job_whose_outcome_is_refused_also_ends_dead_rather_than_run_again(store, clock, runner):
    enqueue(store, clock, "poison")
    store.jobs.poisoned.add("poison")
    worker = make_worker(store, clock, runner)
    step(worker)
    clock.advance(3600)
    assert step(worker) is None
    assert store.jobs.get("poison").state is JobState.DEAD and runner.started == ["poison"]


def test_a_job_whose_claim_the_store_refuses_ends_dead_unrun_and_the_next_due_job_runs(store, clock, runner):
    enqueue(store, clock, "poison", priority=1)
    enqueue(store, clock, "next")
    store.jobs.unclaimable.add("poison")
    worker = make_worker(store, clock, runner)
    step(worker)
    poison = store.jobs.get("poison")
    assert (poison.state, poison.last_error, poison.attempts, poison.history) == (JobState.DEAD, REFUSED, 0, [])
    assert store.jobs.get("next").state is JobState.COMPLETED and runner.started == ["next"]


def test_a_lost_job_whose_outcome_is_refused_ends_dead_when_a_live_worker_recovers_it(store, clock, runner):
    enqueue(store, clock, "poison")
    store.jobs.claim_next(WorkerRef("gone", "h"), clock.now(), clock.now() + timedelta(seconds=30))
    store.jobs.poisoned.add("poison")
    clock.advance(31)
    enqueue(store, clock, "next")
    worker = make_worker(store, clock, runner)
    step(worker)
    poison = store.jobs.get("poison")
    assert (poison.state, poison.last_error, poison.history[-1].worker) == (JobState.DEAD, REFUSED, "gone")
    assert store.jobs.get("next").state is JobState.COMPLETED


def test_a_released_job_whose_outcome_is_refused_ends_dead_and_the_worker_still_stops(store, clock, runner):
    enqueue(store, clock, "poison")
    store.jobs.poisoned.add("poison")
    runner.scripts["poison"] = [Script(duration=100)]
    worker = make_worker(store, clock, runner)
    runner.on_wait.append(lambda _cmd: setattr(worker.control, "stop_now", True))
    step(worker)
    assert store.jobs.get("poison").state is JobState.DEAD and worker.stopping


def test_the_worker_keeps_history_max_attempts_in_full_and_the_summary_of_older_ones(clock, runner):
    store = refusing_store()
    store.settings.save("history_max", 2)
    store.settings.save("backoff_base", 1.0)
    enqueue(store, clock, "flaky", max_retries=4)
    runner.scripts["flaky"] = [Script(exit_code=1, error="exit code 1", output="attempt output\n")]
    worker = make_worker(store, clock, runner)
    for _ in range(5):
        step(worker)
        clock.advance(1)
    job = store.jobs.get("flaky")
    assert job.state is JobState.DEAD and [a.attempt for a in job.history] == [1, 2, 3, 4, 5]
    assert [(a.exit_code, a.outcome, a.error) for a in job.history] == [
        (1, JobState.FAILED, None)] * 3 + [(1, JobState.FAILED, "exit code 1"), (1, JobState.DEAD, "exit code 1")]
    assert [log.output for log in store.jobs.logs("flaky")] == ["attempt output\n"] * 2 + [""] * 3



def test_the_log_header_of_a_lost_attempt_kept_in_summary_names_its_outcome(clock):
    from queuectl.domain.model import Attempt
    from queuectl.domain.ports import AttemptLog
    from queuectl.entrypoints.logs_cli import attempt_header

    lost = Attempt(1, "w1", "host", clock.now(), clock.now(), None, None, JobState.FAILED)
    assert "· failed ·" in attempt_header(AttemptLog(lost, ""))
    assert "· exit 1 ·" in attempt_header(AttemptLog(Attempt(2, "w1", "host", clock.now(), clock.now(), 1), ""))
