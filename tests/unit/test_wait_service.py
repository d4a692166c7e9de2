"""``JobService.wait``: reads the store at most every poll_interval, wakes early on a relevant report, times out."""

from __future__ import annotations

from collections import deque
from datetime import timedelta

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import JobNotFound
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Finished, OutcomeWaiter, WorkerRef
from queuectl.domain.services import JobService

from .fakes import FakeClock

POLL = 30.0
WORKER = WorkerRef("w1", "host-a")


class ScriptedWaiter(OutcomeWaiter):
    """Idles on the fake clock; ``events`` end a wait early: (when, what happens, reports)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []
        self.events: deque = deque()
        self.closed = False

    def at(self, after: float, action=lambda: None, *reports: Finished) -> None:
        """``after`` seconds from now: ``action`` happens and the wait then under way returns ``reports``."""
        self.events.append((self.clock.now() + timedelta(seconds=after), action, list(reports)))

    def wait(self, seconds: float) -> list[Finished]:
        self.waits.append(seconds)
        if self.events and self.events[0][0] <= self.clock.now() + timedelta(seconds=seconds):
            when, action, reports = self.events.popleft()
            self.clock.current = when
            action()
            return reports
        self.clock.advance(seconds)
        return []

    def close(self) -> None:
        self.closed = True


class CountingStore(InMemoryStore):
    """The in-memory store, counting the reads ``wait`` makes (get and count)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        get, count = self.jobs.get, self.jobs.count

        def counted(call):
            def read(*args, **kwargs):
                self.reads += 1
                return call(*args, **kwargs)
            return read

        self.jobs.get, self.jobs.count = counted(get), counted(count)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def waiter(clock) -> ScriptedWaiter:
    return ScriptedWaiter(clock)


@pytest.fixture
def store() -> CountingStore:
    store = CountingStore()
    store.settings.save("poll_interval", POLL)
    return store


@pytest.fixture
def service(store, clock, waiter) -> JobService:
    return JobService(store, clock, waiters=lambda: waiter)


def add(store, clock, job_id: str, queue: str = "default", max_retries: int = 3) -> None:
    store.jobs.add(Job.new(job_id, "true", clock.now(), queue=queue, max_retries=max_retries))


def finish(store, clock, job_id: str, outcome: str = "succeed") -> None:
    """Claim ``job_id`` (the only due job) and record it completed, or failed into the DLQ."""
    now = clock.now()
    job = store.jobs.claim_next(WORKER, now, now + timedelta(seconds=60))
    assert job is not None and job.id == job_id
    token = job.lease_token
    if outcome == "succeed":
        job.succeed(now)
    else:
        job.fail(now, "exit code 3", BackoffPolicy(2, 60), exit_code=3)
    assert store.jobs.record_outcome(job, token)


def test_a_job_already_completed_returns_at_once_without_idling(service, store, clock, waiter):
    add(store, clock, "a")
    finish(store, clock, "a")
    result = service.wait(["a"])
    assert result.ok and [j.id for j in result.jobs] == ["a"] and waiter.waits == []
    assert waiter.closed


def test_it_waits_poll_interval_between_store_reads(service, store, clock, waiter):
    add(store, clock, "a")
    waiter.at(95.0, lambda: finish(store, clock, "a"))  # unreported: only a read finds it
    result = service.wait(["a"])
    assert result.ok
    assert waiter.waits == [POLL, POLL, POLL, POLL, 25.0]  # woken at 95 s with no report: idles on
    assert store.reads == 5  # at 0, 30, 60, 90 and 120 s


def test_a_report_of_the_job_ends_the_wait_at_once(service, store, clock, waiter):
    add(store, clock, "a")
    start = clock.now()
    waiter.at(2.0, lambda: finish(store, clock, "a"), Finished("a", "default"))
    result = service.wait(["a"])
    assert result.ok and clock.now() - start == timedelta(seconds=2)
    assert store.reads == 2


def test_a_report_of_another_job_resumes_the_idle_wait_without_a_read(service, store, clock, waiter):
    add(store, clock, "a")
    waiter.at(10.0, lambda: None, Finished("other", "default"))
    result = service.wait(["a"], timeout=30)
    assert result.timed_out and result.unfinished == 1
    assert waiter.waits == [POLL, POLL - 10.0]
    assert store.reads == 2  # the first, and the last before giving up


def test_the_timeout_cuts_the_last_idle_wait_short(service, store, clock, waiter):
    add(store, clock, "a")
    add(store, clock, "b")
    result = service.wait(["a", "b"], timeout=45)
    assert (result.timed_out, result.unfinished, result.jobs) == (True, 2, [])
    assert waiter.waits == [POLL, 15.0]


def test_a_timeout_of_zero_looks_once(service, store, clock, waiter):
    add(store, clock, "a")
    assert service.wait(["a"], timeout=0).unfinished == 1 and waiter.waits == []


def test_a_dead_job_is_reported_failed(service, store, clock, waiter):
    add(store, clock, "a", max_retries=0)
    waiter.at(1.0, lambda: finish(store, clock, "a", "fail"), Finished("a", "default"))
    result = service.wait(["a"])
    assert not result.ok and [(j.id, j.state, j.last_error) for j in result.failed] == [
        ("a", JobState.DEAD, "exit code 3")]


def test_named_jobs_come_back_in_the_order_given_once_each(service, store, clock, waiter):
    for job_id in ("a", "b"):
        add(store, clock, job_id)
    store.jobs.cancel("b", clock.now())
    waiter.at(1.0, lambda: finish(store, clock, "a"), Finished("a", "default"))
    result = service.wait(["a", "b", "a"])
    assert [(j.id, j.state) for j in result.jobs] == [("a", JobState.COMPLETED), ("b", JobState.CANCELLED)]
    assert [j.id for j in result.failed] == ["b"]


def test_an_unknown_id_is_an_error_and_the_waiter_is_closed(service, waiter):
    with pytest.raises(JobNotFound):
        service.wait(["nope"])
    assert waiter.closed


def test_a_queue_wait_ends_when_the_queue_has_no_unfinished_job(service, store, clock, waiter):
    add(store, clock, "old", queue="nightly")
    finish(store, clock, "old")  # final before the wait began: not part of the result
    clock.advance(1)
    add(store, clock, "a", queue="nightly")
    add(store, clock, "elsewhere", queue="other")
    waiter.at(1.0, lambda: None, Finished("x", "other"))  # another queue: no read
    waiter.at(3.0, lambda: store.jobs.cancel("a", clock.now()), Finished("a", "nightly"))
    result = service.wait(queue="nightly")
    assert [(j.id, j.state) for j in result.jobs] == [("a", JobState.CANCELLED)] and not result.ok
    assert store.reads == 2


def test_a_wait_on_every_job_counts_every_queue(service, store, clock, waiter):
    add(store, clock, "a", queue="q1")
    result = service.wait(timeout=60)
    assert result.unfinished == 1 and store.reads == 3  # at 0, 30 and 60 s


def test_a_wait_with_nothing_unfinished_is_done(service, waiter):
    result = service.wait()
    assert result.ok and result.jobs == [] and waiter.waits == []


def test_a_queue_wait_counts_a_job_that_ended_while_its_socket_was_being_made(store, clock, waiter):
    add(store, clock, "a", queue="nightly")

    def slow_socket() -> ScriptedWaiter:
        clock.advance(0.5)  # the wait has begun: a job ending now ends after it began
        finish(store, clock, "a")
        clock.advance(0.5)
        return waiter

    result = JobService(store, clock, waiters=slow_socket).wait(queue="nightly")
    assert result.ok and [job.id for job in result.jobs] == ["a"]
