"""The worker loop and paused queues: a worker with nothing it may claim idles at the poll
interval (no busy loop), and claims as soon as the queue is resumed."""

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain import defaults
from queuectl.domain.execution import Worker, WorkerControl
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import WorkerInfo

from .fakes import ClockWaiter


class ResumingWaiter(ClockWaiter):
    """Idles on the fake clock; resumes every queue after ``resume_after`` waits and stops the
    worker once ``job_id`` completed."""

    def __init__(self, clock, store, control, resume_after: int, job_id: str) -> None:
        super().__init__(clock)
        self.store, self.control, self.resume_after, self.job_id = store, control, resume_after, job_id

    def wait(self, seconds: float) -> None:
        super().wait(seconds)
        if len(self.waits) == self.resume_after:
            self.store.queues.resume(None)
        if self.store.jobs.get(self.job_id).state is JobState.COMPLETED:
            self.control.stop = True


def run_paused_worker(clock, runner, queues, paused):
    store, control = InMemoryStore(), WorkerControl()
    store.jobs.add(Job.new("n1", "true", clock.now(), queue="nightly"))
    store.queues.pause(paused)
    waiter = ResumingWaiter(clock, store, control, resume_after=5, job_id="n1")
    info = WorkerInfo("w1", "host", 100, 1.0, queues, clock.now(), clock.now())
    Worker(store, clock, runner, waiter, info, control).run()
    return store, waiter


def test_a_worker_serving_only_a_paused_queue_waits_the_poll_interval_each_time_then_runs_the_job(clock, runner):
    store, waiter = run_paused_worker(clock, runner, ("nightly",), ["nightly"])
    assert waiter.waits[:5] == [defaults.POLL_INTERVAL] * 5  # idle, never a busy loop
    assert store.jobs.get("n1").state is JobState.COMPLETED
    job = store.jobs.get("n1")
    assert (job.started_at - job.created_at).total_seconds() == 5 * defaults.POLL_INTERVAL  # at the first look


def test_a_worker_serving_every_queue_under_a_global_pause_idles_the_same_way(clock, runner):
    store, waiter = run_paused_worker(clock, runner, (), None)
    assert waiter.waits[:5] == [defaults.POLL_INTERVAL] * 5
    assert store.jobs.get("n1").state is JobState.COMPLETED
