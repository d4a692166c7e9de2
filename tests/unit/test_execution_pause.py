"""A worker paused past its lease (SIGSTOP, a suspended VM) and woken while its command still runs."""

from __future__ import annotations

from queuectl.domain.model import WORKER_LOST, JobState

from .fakes import Script
from .test_execution import enqueue, make_worker, step, store  # noqa: F401 (store is a fixture)


class RecordingStore:
    """The store, with every repository call noted in ``events``."""

    def __init__(self, store, events: list[str]) -> None:
        self._store, self._events = store, events

    def __getattr__(self, name: str):
        part = getattr(self._store, name)
        return _RecordingPart(part, name, self._events) if name in ("jobs", "workers", "settings") else part


class _RecordingPart:
    def __init__(self, part, name: str, events: list[str]) -> None:
        self._part, self._name, self._events = part, name, events

    def __getattr__(self, name: str):
        value = getattr(self._part, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            self._events.append(f"{self._name}.{name}")
            return value(*args, **kwargs)
        return call


def pause_past_the_lease(worker, store, clock, events):
    """What the command's first wait sees: the worker stopped for 31 s (lease 30 s)."""
    def pause(command):
        clock.advance(31)
        worker.store = RecordingStore(store, events)
        kill = command.kill
        command.kill = lambda reason: (events.append("kill"), kill(reason))[1]
    return pause


def test_a_worker_woken_past_its_lease_kills_its_command_before_it_asks_the_store_anything(
        store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=100)]
    worker = make_worker(store, clock, runner)
    events: list[str] = []
    runner.on_wait.append(pause_past_the_lease(worker, store, clock, events))
    step(worker)
    assert events[0] == "kill"
    assert runner.commands[0].killed == "lease lost"


def test_a_worker_woken_past_its_lease_that_nobody_took_over_counts_the_attempt_as_lost(
        store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=100)]
    worker = make_worker(store, clock, runner)
    runner.on_wait.append(pause_past_the_lease(worker, store, clock, []))
    step(worker)
    job = store.jobs.get("job1")
    assert job.state is JobState.FAILED and job.attempts == 1
    assert [a.error for a in job.history] == [WORKER_LOST]


def test_a_worker_that_renews_in_time_keeps_its_command_running(store, clock, runner):
    enqueue(store, clock, "job1")
    runner.scripts["job1"] = [Script(duration=100)]
    worker = make_worker(store, clock, runner)
    runner.on_wait.extend([lambda _cmd: clock.advance(19)] * 3)  # late renewals, each within the lease
    step(worker)
    assert runner.commands[0].killed is None
    assert store.jobs.get("job1").state is JobState.COMPLETED
