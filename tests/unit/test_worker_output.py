"""What the worker does with output files: a lost attempt's output, the cap, retention."""

from datetime import timedelta

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain import defaults
from queuectl.domain.execution import Worker, WorkerControl
from queuectl.domain.model import WORKER_LOST, Job, JobState
from queuectl.domain.ports import OutputFiles, Page, WorkerInfo, WorkerRef

from .fakes import ClockWaiter, ScriptedRunner

DAY = 86_400


class RecordedOutputs(OutputFiles):
    """Output files as a dict: (job id, attempt) -> text."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, int], str] = {}
        self.sweeps: list = []

    def path(self, job, token):
        return f"/output/{job.id}.{job.attempts}"

    def tail(self, job, token):
        return self.files.get((job.id, job.attempts), "")

    def delete(self, jobs):
        doomed = [key for key in self.files if key[0] in {job.id for job in jobs}]
        for key in doomed:
            del self.files[key]
        return len(doomed)

    def sweep(self, before):
        self.sweeps.append(before)
        return 0


@pytest.fixture
def store():
    return InMemoryStore()


@pytest.fixture
def outputs():
    return RecordedOutputs()


@pytest.fixture
def worker(store, clock, outputs):
    info = WorkerInfo("w1", "host", 100, 1.0, (), clock.now(), clock.now())
    store.workers.register(info)
    return Worker(store, clock, ScriptedRunner(clock), ClockWaiter(clock), info, WorkerControl(), outputs=outputs,
                  prefetch_window=0.0)


def finished_job(store, clock, job_id: str, days_ago: float) -> None:
    at = clock.now() - timedelta(days=days_ago)
    store.jobs.add(Job.new(job_id, "true", at))
    job = store.jobs.claim_next(WorkerRef("w0", "host"), at, at + timedelta(seconds=30))
    token = job.lease_token
    job.succeed(at)
    assert store.jobs.record_outcome(job, token, "hi\n")


def ids(store) -> list[str]:
    return sorted(job.id for job in store.jobs.list(Page(limit=0)))


def test_a_recovered_attempt_keeps_what_it_printed_before_its_worker_was_lost(store, clock, outputs, worker):
    store.jobs.add(Job.new("job1", "true", clock.now(), max_retries=0))
    store.jobs.claim_next(WorkerRef("killed", "host"), clock.now(), clock.now() + timedelta(seconds=30))
    outputs.files[("job1", 1)] = "printed before the kill\n"
    clock.advance(31)
    worker.recover_lost(clock.now(), worker.settings(clock.now()))
    [log] = store.jobs.logs("job1")
    assert (log.attempt.error, log.output) == (WORKER_LOST, "printed before the kill\n")
    assert store.jobs.get("job1").state is JobState.DEAD


def test_the_runner_is_given_the_output_max_setting(store, clock, worker):
    store.settings.save("output_max", 2048)
    store.jobs.add(Job.new("job1", "true", clock.now()))
    worker.run_once()
    assert worker.runner.output_max == 2048


def test_without_retention_a_worker_deletes_nothing(store, clock, worker):
    finished_job(store, clock, "ancient", days_ago=3000)
    worker.run_once()
    assert ids(store) == ["ancient"]


def test_with_retention_a_worker_deletes_old_final_jobs_and_their_output(store, clock, outputs, worker):
    store.settings.save("retention", 30.0 * DAY)
    finished_job(store, clock, "old", days_ago=31)
    finished_job(store, clock, "young", days_ago=29)
    store.jobs.add(Job.new("waiting", "true", clock.now() - timedelta(days=60), run_at=clock.now() + timedelta(days=1)))
    outputs.files.update({("old", 1): "hi\n", ("young", 1): "hi\n"})
    worker.run_once()
    assert ids(store) == ["waiting", "young"]
    assert list(outputs.files) == [("young", 1)]
    assert outputs.sweeps == [clock.now() - timedelta(days=30)]  # and older files of jobs deleted elsewhere


def test_retention_prunes_one_batch_at_most_every_few_minutes_sooner_while_batches_are_full(
        store, clock, worker):
    worker.prune_batch = 2
    store.settings.save("retention", 1.0 * DAY)
    for n in range(5):
        finished_job(store, clock, f"old{n}", days_ago=2)
    settings = worker.settings(clock.now())
    assert worker.prune_expired(clock.now(), settings) == 2  # a full batch: more soon
    assert worker.prune_expired(clock.now(), settings) == 0  # not before the poll interval
    clock.advance(settings.poll_interval)
    assert worker.prune_expired(clock.now(), settings) == 2
    clock.advance(settings.poll_interval)
    assert worker.prune_expired(clock.now(), settings) == 1  # the last: wait the long interval now
    finished_job(store, clock, "later", days_ago=2)
    clock.advance(defaults.RETENTION_INTERVAL_SECONDS - 1)
    assert worker.prune_expired(clock.now(), settings) == 0
    clock.advance(1)
    assert worker.prune_expired(clock.now(), settings) == 1
    assert ids(store) == []
