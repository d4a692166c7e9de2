"""Workers (and cancel) report final states to this host's waiters; the report's wire format round-trips."""

from __future__ import annotations

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.adapters.outcome_wakeup import OutcomeWaitChannel, decode
from queuectl.adapters.wakeup import DATAGRAM_MAX, WakeNotifier, encode
from queuectl.domain.execution import Worker, WorkerControl
from queuectl.domain.model import Job
from queuectl.domain.ports import Finished, Notifier, WorkerInfo
from queuectl.domain.services import JobService

from .fakes import ClockWaiter, Script


class RecordingNotifier(Notifier):
    def __init__(self, fail: bool = False) -> None:
        self.finished: list[Finished] = []
        self.fail = fail

    def jobs_changed(self) -> None:
        pass

    def jobs_finished(self, jobs) -> None:
        if self.fail:
            raise OSError("no room")
        self.finished.extend(jobs)


@pytest.fixture
def store():
    return InMemoryStore()


def worker(store, clock, runner, notifier) -> Worker:
    info = WorkerInfo("w1", "host", 100, 1.0, (), clock.now(), clock.now())
    store.workers.register(info)
    return Worker(store, clock, runner, ClockWaiter(clock), info, WorkerControl(), prefetch_window=0.0,
                  notifier=notifier)


@pytest.mark.parametrize("ride", [True, False], ids=["outcome-with-claim", "outcome-at-once"])
def test_a_worker_reports_completed_and_dead_jobs_but_not_a_scheduled_retry(store, clock, runner, ride):
    store.jobs.add(Job.new("ok", "true", clock.now(), queue="q"))
    store.jobs.add(Job.new("bad", "false", clock.now(), max_retries=1))
    runner.scripts["bad"] = [Script(exit_code=1, error="exit code 1")]
    notifier = RecordingNotifier()
    w = worker(store, clock, runner, notifier)
    w.outcomes_ride_with_claim = ride
    for _ in range(2):
        w.run_once()
    w.flush()
    assert notifier.finished == [Finished("ok", "q")]  # "bad" failed with a retry left: not final
    clock.advance(3600)
    w.run_once()
    w.flush()
    assert notifier.finished == [Finished("ok", "q"), Finished("bad", "default")]


def test_a_report_that_fails_never_stops_the_worker(store, clock, runner):
    store.jobs.add(Job.new("ok", "true", clock.now()))
    w = worker(store, clock, runner, RecordingNotifier(fail=True))
    w.run_once()
    w.flush()
    assert store.jobs.get("ok").state.value == "completed"


def test_cancel_reports_the_cancelled_job(store, clock):
    store.jobs.add(Job.new("a", "true", clock.now(), queue="nightly"))
    notifier = RecordingNotifier()
    JobService(store, clock, notifier).cancel("a")
    assert notifier.finished == [Finished("a", "nightly")]


def test_reports_round_trip_in_datagrams_of_whole_lines():
    jobs = [Finished(f"job-{n:04d}-" + "x" * 100, f"queue-{n % 3}") for n in range(200)]
    datagrams = encode(jobs)
    assert len(datagrams) > 1 and all(len(d) <= DATAGRAM_MAX for d in datagrams)
    assert [job for d in datagrams for job in decode(d)] == jobs
    assert decode(b"!") == [] and decode(b"no-tab\n\tx\nq\t\n") == []


def test_a_listening_waiter_receives_the_jobs_a_notifier_reports(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    channel = OutcomeWaitChannel(home)
    try:
        WakeNotifier(home).jobs_finished([Finished("a", "q"), Finished("b", "r")])
        assert channel.wait(5.0) == [Finished("a", "q"), Finished("b", "r")]
        assert channel.wait(0.0) == []
        socket_file = next((home / "wake" / "waiters").iterdir())
        assert oct(socket_file.stat().st_mode & 0o777) == "0o600"
        assert oct((home / "wake" / "waiters").stat().st_mode & 0o777) == "0o700"
    finally:
        channel.close()
    assert list((home / "wake" / "waiters").iterdir()) == []
    assert WakeNotifier(home).jobs_finished([Finished("a", "q")]) is None  # nobody listens: nothing fails


def test_an_idle_workers_socket_gets_no_report(tmp_path):
    from queuectl.adapters.wakeup import WakeChannel

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    idle = WakeChannel(home, "w1")
    try:
        WakeNotifier(home).jobs_finished([Finished("a", "q")])
        assert idle._sock is not None and _pending(idle._sock) is False
    finally:
        idle.close()


def _pending(sock) -> bool:
    try:
        return bool(sock.recv(16))
    except BlockingIOError:
        return False


