"""One worker process with slots (SPEC 9.7): the dispatcher and its slot threads, with the in-memory store,
the real clock and commands the test ends by hand."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import pytest

from queuectl.adapters.clock import SystemClock
from queuectl.adapters.memory import InMemoryStore
from queuectl.domain.commands import CommandRunner, RunningCommand, RunResult
from queuectl.domain.errors import StoreLost, StoreUnavailable
from queuectl.domain.execution import WorkerControl
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Waiter, WorkerInfo
from queuectl.domain.slots import SlotPool, SlotWorker

DEADLINE = 10.0


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


class GateWaiter(Waiter):
    """A wait that ``wake`` (this process's threads) or ``knock`` (from outside: a datagram, a signal) ends."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._outside = False
        self.waits = 0

    def wait(self, seconds: float) -> bool:
        self.waits += 1
        self._event.wait(max(0.0, seconds))
        self._event.clear()
        outside, self._outside = self._outside, False
        return outside

    def wake(self) -> None:
        self._event.set()

    def knock(self) -> None:
        self._outside = True
        self._event.set()


class Board:
    """What every slot's runner started, and how many commands ran at once at most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.commands: dict[str, GatedCommand] = {}
        self.running = 0
        self.most = 0
        self.broken: set[str] = set()  # jobs whose start raises (a bug, say)

    def release(self, job_id: str, exit_code: int = 0) -> None:
        self.commands[job_id].end(exit_code)


class GatedCommand(RunningCommand):
    def __init__(self, board: Board, job: Job, waiter: GateWaiter) -> None:
        self.board, self.job, self.waiter = board, job, waiter
        self.result: RunResult | None = None
        self.killed: str | None = None

    def end(self, exit_code: int) -> None:
        with self.board.lock:
            self.board.running -= 1
        self.result = RunResult(exit_code, None if exit_code == 0 else f"exit code {exit_code}",
                                f"output of {self.job.id}\n")
        self.waiter.wake()

    def wait(self, seconds: float) -> RunResult | None:
        if self.result is None:
            self.waiter.wait(seconds)  # ends early when the command ends or the dispatcher pokes
        return self.result

    def kill(self, reason: str) -> RunResult:
        self.killed = reason
        if self.result is None:
            self.end(143)
        return RunResult(143, reason, self.result.output if self.result else "")


class GatedRunner(CommandRunner):
    def __init__(self, board: Board, waiter: GateWaiter) -> None:
        self.board, self.waiter = board, waiter

    def start(self, job: Job, output_max: int = 0) -> RunningCommand:
        if job.id in self.board.broken:
            raise RuntimeError("a bug in the runner")
        command = GatedCommand(self.board, job, self.waiter)
        with self.board.lock:
            self.board.commands[job.id] = command
            self.board.running += 1
            self.board.most = max(self.board.most, self.board.running)
        return command


class CountingStore(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.claims = 0
        settle_and_claim = self.jobs.settle_and_claim

        def counted(*args, **kwargs):
            self.claims += 1
            return settle_and_claim(*args, **kwargs)

        self.jobs.settle_and_claim = counted


class Process:
    """A worker process with ``slots`` slots, its dispatcher running in a thread of the test."""

    def __init__(self, store: InMemoryStore, slots: int, broken: tuple[str, ...] = ()) -> None:
        clock = SystemClock()
        self.store, self.board, self.control = store, Board(), WorkerControl()
        self.board.broken.update(broken)
        self.info = WorkerInfo("w1", "host", 100, 1.0, (), clock.now(), clock.now())
        self.waiter = GateWaiter()
        self.slot_waiters = [GateWaiter() for _ in range(slots)]
        workers = [SlotWorker(store, clock, GatedRunner(self.board, waiter), waiter, self.info, self.control)
                   for waiter in self.slot_waiters]
        self.pool = SlotPool(store, clock, workers[0].runner, self.waiter, self.info, self.control,
                             slot_workers=workers)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.pool.run()
        except BaseException as error:  # noqa: BLE001 - the test looks at it
            self.error = error

    def started(self, count: int) -> None:
        until(lambda: len(self.board.commands) >= count, f"{count} commands started")

    def stop(self, now: bool = False) -> None:
        self.control.stop = True
        self.control.stop_now = now
        self.waiter.knock()  # the signal's wake-up

    def exited(self) -> None:
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive()


@pytest.fixture
def store():
    store = CountingStore()
    store.settings.save("lease_seconds", 30.0)
    store.settings.save("poll_interval", 0.05)
    return store


def enqueue(store, *ids: str) -> None:
    for job_id in ids:
        store.jobs.add(Job.new(job_id, f"run {job_id}", SystemClock().now()))


def state(store, job_id: str) -> JobState:
    return store.jobs.get(job_id).state


def test_a_worker_with_four_slots_runs_four_jobs_at_once_each_with_its_own_attempt(store):
    enqueue(store, "a", "b", "c", "d", "e")
    process = Process(store, 4)
    process.started(4)
    assert process.board.most == 4 and state(store, "e") is JobState.PENDING  # a fifth waits for a slot
    assert store.claims == 1  # one claim filled the four slots
    assert [w.slots for w in store.workers.workers()] == [4]
    tokens = {store.jobs.get(job_id).lease_token for job_id in "abcd"}
    assert len(tokens) == 4  # a lease (and fencing token) per job
    process.board.release("a")
    process.started(5)  # the freed slot takes the fifth
    for job_id in "bcde":
        process.board.release(job_id)
    until(lambda: all(state(store, j) is JobState.COMPLETED for j in "abcde"), "every job completed")
    assert [store.jobs.logs(j)[0].output for j in "abcde"] == [f"output of {j}\n" for j in "abcde"]
    process.stop()
    process.exited()
    assert process.error is None and store.workers.workers() == []


def test_a_slot_whose_job_fails_or_breaks_leaves_the_others_running_and_takes_the_next_job(store):
    enqueue(store, "broken", "fails", "fine")
    process = Process(store, 3, broken=("broken",))
    process.started(2)
    process.board.release("fails", exit_code=1)
    until(lambda: state(store, "fails") is JobState.FAILED, "the failed attempt recorded")
    assert state(store, "fine") is JobState.PROCESSING and process.board.commands["fine"].result is None
    enqueue(store, "next-1", "next-2")
    process.waiter.knock()
    process.started(4)  # both freed slots (the broken one too) took a job
    assert state(store, "broken") is JobState.PROCESSING  # its lease lapses and is recovered, as when a worker dies
    for job_id in ("fine", "next-1", "next-2"):
        process.board.release(job_id)
    until(lambda: all(state(store, j) is JobState.COMPLETED for j in ("fine", "next-1", "next-2")), "the rest done")
    process.stop()
    process.exited()
    assert process.error is None


def test_a_graceful_stop_waits_for_every_running_job(store):
    enqueue(store, "a", "b", "c", "later")
    process = Process(store, 3)
    process.started(3)
    process.stop()
    time.sleep(0.2)
    assert process.thread.is_alive() and [w.id for w in store.workers.workers()] == ["w1"]
    process.board.release("a")
    process.board.release("b")
    time.sleep(0.1)
    assert process.thread.is_alive() and state(store, "later") is JobState.PENDING  # no new claim
    process.board.release("c")
    process.exited()
    assert [state(store, j) for j in ("a", "b", "c", "later")] == [JobState.COMPLETED] * 3 + [JobState.PENDING]
    assert store.workers.workers() == []


def test_a_stop_now_kills_and_releases_every_running_job(store):
    enqueue(store, "a", "b", "c")
    process = Process(store, 3)
    process.started(3)
    process.stop(now=True)
    process.exited()
    for job_id in "abc":
        job = store.jobs.get(job_id)
        assert process.board.commands[job_id].killed == "released: worker stopped"
        assert (job.state, job.attempts) == (JobState.PENDING, 0)  # released: the attempt does not count
    assert store.workers.workers() == []


def test_cancelling_one_running_job_kills_its_command_only(store):
    store.settings.save("lease_seconds", 600.0)  # no renewal due during the test: the cancel's wake-up tells
    enqueue(store, "a", "b", "c")
    process = Process(store, 3)
    process.started(3)
    store.jobs.cancel("b", SystemClock().now())
    process.waiter.knock()  # the cancel's datagram
    until(lambda: process.board.commands["b"].killed is not None, "the cancelled command killed")
    assert [process.board.commands[j].killed for j in "ac"] == [None, None]
    process.board.release("a")
    process.board.release("c")
    until(lambda: state(store, "c") is JobState.COMPLETED, "the others completed")
    assert (state(store, "a"), state(store, "b")) == (JobState.COMPLETED, JobState.CANCELLED)
    process.stop()
    process.exited()


def test_idle_slots_cost_one_claim_per_wait_of_the_dispatcher_not_one_per_slot(store):
    process = Process(store, 16)
    until(lambda: process.waiter.waits >= 10, "ten idle waits")
    process.stop()
    process.exited()
    assert store.claims <= process.waiter.waits + 1
    assert all(waiter.waits == 0 for waiter in process.slot_waiters)  # idle slots wait on no clock


def test_a_store_lost_in_a_slot_ends_the_process_and_kills_every_command(store):
    enqueue(store, "a", "b")
    process = Process(store, 2)
    process.started(2)
    renew = store.jobs.renew_lease

    def lost(job_id, *args):
        if job_id == "a":
            raise StoreLost("the SQLite store was deleted")
        return renew(job_id, *args)

    store.jobs.renew_lease = lost
    process.waiter.knock()  # the slots check their leases
    process.exited()
    assert isinstance(process.error, StoreLost)
    assert all(process.board.commands[j].killed for j in "ab")


class OneAtATimeStore(CountingStore):
    """A store whose ``settle_and_claim`` claims at most one job a call (the port's default: MongoDB's)."""

    def __init__(self) -> None:
        super().__init__()
        batch = self.jobs.settle_and_claim

        def one(outcomes, worker, now, until, queues=None, limit=1):
            return batch(outcomes, worker, now, until, queues, limit=min(limit, 1))

        self.jobs.settle_and_claim = one


def test_free_slots_fill_at_once_where_the_store_claims_one_job_a_call():
    store = OneAtATimeStore()
    store.settings.save("lease_seconds", 600.0)
    store.settings.save("poll_interval", 60.0)  # the dispatcher's idle wait: far longer than the test waits
    enqueue(store, "a", "b", "c", "d")
    process = Process(store, 4)
    process.started(4)  # each claim that took a job is followed at once by the next, not by an idle wait
    for job_id in "abcd":
        process.board.release(job_id)
    process.stop()
    process.exited()
    assert process.error is None


def test_an_outcome_the_store_cannot_take_at_a_stop_is_left_to_its_lease_without_an_error_trace(store, caplog):
    from queuectl.domain.errors import StoreUnavailable

    enqueue(store, "a")
    process = Process(store, 2)
    process.started(1)
    settle = store.jobs.settle_and_claim

    def out(*args, **kwargs):
        raise StoreUnavailable("database is locked")

    store.jobs.settle_and_claim = out
    process.stop()
    process.board.release("a")
    process.exited()
    store.jobs.settle_and_claim = settle
    assert process.error is None and state(store, "a") is JobState.PROCESSING  # its lease lapses, then recovered
    assert "unexpected error" not in caplog.text and "Traceback" not in caplog.text
    assert "outcome not written" in caplog.text


def test_a_flood_of_wake_ups_costs_the_busy_slots_a_renewal_a_second_and_a_cancel_in_it_is_still_seen(store):
    """Every enqueue wakes the dispatcher and a poke costs each busy slot a lease renewal (a store
    write): pokes are spaced, so a flood costs renewals per second, not per wake-up; one owed is paid."""
    from queuectl.domain.slots import POKE_SPACING

    store.settings.save("lease_seconds", 600.0)  # no renewal falls due of itself during the test
    enqueue(store, "a", "b", "c", "d")
    process = Process(store, 4)
    process.started(4)
    renewals = []
    renew = store.jobs.renew_lease
    store.jobs.renew_lease = lambda job_id, *args: renewals.append(job_id) or renew(job_id, *args)
    started = time.monotonic()
    for _ in range(200):  # 200 enqueues' datagrams
        process.waiter.knock()
        time.sleep(0.002)
    store.jobs.cancel("b", SystemClock().now())
    process.waiter.knock()  # the cancel's datagram, within the flood
    until(lambda: process.board.commands["b"].killed is not None, "the cancelled command killed")
    pokes_allowed = (time.monotonic() - started) / POKE_SPACING + 2
    assert len(renewals) <= 4 * pokes_allowed, (len(renewals), pokes_allowed)
    assert [process.board.commands[j].killed for j in "acd"] == [None, None, None]
    process.stop(now=True)
    process.exited()
