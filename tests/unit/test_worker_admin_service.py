"""``worker start`` / ``worker stop`` as a service: a memory store, fake processes and a fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Callable, Sequence

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain import defaults
from queuectl.domain.errors import QueuectlError
from queuectl.domain.ports import ProcessCheck, ProcessControl, WorkerInfo
from queuectl.domain.worker_admin import Launched, WorkerAdmin

from .fakes import T0, FakeClock

HERE, THERE = "here", "there"


class FakeTime:
    """A monotonic clock and a sleep that move the fake wall clock too, running what is due.

    A wait that never ends fails the test (after an hour of fake time) instead of hanging it.
    """

    FOREVER = 3600.0

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.elapsed = clock, 0.0
        self.due: list[tuple[float, Callable[[], None]]] = []

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        assert self.elapsed < self.FOREVER, "still waiting after an hour"
        self.elapsed += seconds
        self.clock.advance(seconds)
        for entry in [entry for entry in self.due if entry[0] <= self.elapsed]:
            self.due.remove(entry)
            entry[1]()

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        self.due.append((self.elapsed + seconds, action))


class FakeProcesses(ProcessControl):
    """Processes by PID: what a check says about each, and how each reacts to a signal."""

    def __init__(self, store: InMemoryStore, time: FakeTime) -> None:
        self.store, self.time = store, time
        self.checks: dict[int, ProcessCheck] = {}
        self.on_signal: dict[int, Callable[[int], None]] = {}  # called with how many signals it had
        self.signals: list[int] = []
        self.spawn_plan: list[Callable[[int], None]] = []  # what each spawned worker does
        self.logs: dict[str, str] = {}

    def hostname(self) -> str:
        return HERE

    def started_at(self, pid: int) -> float | None:
        return 1.0 if self.running(pid) else None

    def check(self, info: WorkerInfo) -> ProcessCheck:
        return ProcessCheck.REMOTE if info.host != HERE else self.checks.get(info.pid, ProcessCheck.GONE)

    def signal_stop(self, info: WorkerInfo) -> bool:
        if self.check(info) is not ProcessCheck.OURS:
            return False
        self.signals.append(info.pid)
        self.on_signal.get(info.pid, lambda count: None)(self.signals.count(info.pid))
        return True

    def spawn_worker(self, queues: Sequence[str], url: str, log_name: str, concurrency: int = 1) -> tuple[int, str]:
        pid = 100 + len(self.checks)
        self.checks[pid] = ProcessCheck.OURS
        self.spawn_plan.pop(0)(pid)
        return pid, f"/home/logs/{log_name}"

    def running(self, pid: int) -> bool:
        return self.checks.get(pid) is ProcessCheck.OURS

    def last_log_line(self, log_path: str) -> str:
        return self.logs.get(log_path, "")

    # -- what a fake worker does ---------------------------------------------
    def exit(self, info: WorkerInfo, deregister: bool = True) -> None:
        self.checks[info.pid] = ProcessCheck.GONE
        if deregister:
            self.store.workers.deregister(info.id)


@pytest.fixture
def world():
    clock = FakeClock()
    time = FakeTime(clock)
    store = InMemoryStore()
    processes = FakeProcesses(store, time)
    admin = WorkerAdmin(store, processes, clock, sleep=time.sleep, monotonic=time.monotonic)
    said: list[str] = []
    return admin, store, processes, time, said


def worker(pid: int, host: str = HERE, beat_seconds_ago: float = 0.0) -> WorkerInfo:
    return WorkerInfo(id=f"{host}-{pid}", host=host, pid=pid, pid_started_at=1.0, queues=(),
                      started_at=T0, last_heartbeat=T0 - timedelta(seconds=beat_seconds_ago))


def register(store: InMemoryStore, processes: FakeProcesses, info: WorkerInfo,
             check: ProcessCheck = ProcessCheck.OURS) -> WorkerInfo:
    store.workers.register(info)
    if info.host == HERE:
        processes.checks[info.pid] = check
    return info


# -- start ---------------------------------------------------------------------

def test_start_reports_each_worker_as_started_or_failed_with_the_reason(world):
    admin, store, processes, time, _ = world
    processes.spawn_plan = [
        lambda pid: time.later(0.5, lambda: store.workers.register(worker(pid))),  # registers
        lambda pid: time.later(0.3, lambda: dies(pid, "Error: cannot open the store")),
        lambda pid: None,  # runs, never registers
    ]

    def dies(pid: int, last_line: str) -> None:
        processes.checks[pid] = ProcessCheck.GONE
        processes.logs[f"/home/logs/worker-{stamp}-2.log"] = last_line

    stamp = T0.astimezone().strftime("%Y%m%dT%H%M%S")
    launched = admin.start("sqlite:///q.db", 3, ("emails",))

    assert launched == [
        Launched(100, f"/home/logs/worker-{stamp}-1.log"),
        Launched(101, f"/home/logs/worker-{stamp}-2.log", "exited while starting: Error: cannot open the store"),
        Launched(102, f"/home/logs/worker-{stamp}-3.log",
                 f"did not register within {defaults.WORKER_START_DEADLINE_SECONDS:g}s"),
    ]
    assert time.elapsed >= defaults.WORKER_START_DEADLINE_SECONDS


def test_start_returns_as_soon_as_every_worker_registered(world):
    admin, store, processes, time, _ = world
    processes.spawn_plan = [lambda pid: time.later(1.0, lambda: store.workers.register(worker(pid)))] * 2

    launched = admin.start("sqlite:///q.db", 2, ())

    assert [w.error for w in launched] == [None, None]
    assert time.elapsed < 2.0


def test_a_worker_that_dies_with_an_empty_log_fails_without_a_reason_line(world):
    admin, _, processes, time, _ = world
    processes.spawn_plan = [lambda pid: time.later(0.1, lambda: processes.checks.update({pid: ProcessCheck.GONE}))]

    assert admin.start("sqlite:///q.db", 1, ())[0].error == "exited while starting"


# -- stop ----------------------------------------------------------------------

def test_stop_with_no_workers_says_so(world):
    admin, store, processes, _, said = world
    register(store, processes, worker(7, host=THERE, beat_seconds_ago=3600))  # long dead, elsewhere

    admin.stop(None, said.append)

    assert said == ["No workers are running."]
    assert processes.signals == []


def test_stop_signals_each_local_worker_once_and_waits_until_it_has_gone(world):
    admin, store, processes, time, said = world
    for pid in (1, 2):
        info = register(store, processes, worker(pid))
        processes.on_signal[pid] = lambda count, info=info: time.later(2.0, lambda: processes.exit(info))

    admin.stop(None, said.append)

    assert sorted(processes.signals) == [1, 2]
    assert store.workers.workers() == []
    assert said[0].startswith("Waiting for 2 worker(s) to finish their running jobs:")
    assert said[-1] == "All workers stopped."
    assert time.elapsed >= 2.0


def test_a_remote_worker_is_asked_through_the_store_and_never_signalled(world):
    admin, store, processes, time, said = world
    remote = register(store, processes, worker(9, host=THERE))

    def remote_worker_sees_the_request() -> None:
        assert store.workers.workers()[0].stop_requested
        store.workers.deregister(remote.id)

    time.later(3.0, remote_worker_sees_the_request)
    admin.stop(None, said.append)

    assert processes.signals == []
    assert store.workers.workers() == []
    assert said == ["Waiting for 1 worker(s) to finish their running jobs: 9@there", "All workers stopped."]


def test_a_remote_worker_that_stops_beating_counts_as_stopped(world):
    admin, store, processes, time, said = world
    register(store, processes, worker(9, host=THERE))

    admin.stop(None, said.append)

    assert said[-1] == "All workers stopped."
    assert time.elapsed > 30  # the default lease: it was waited for until its heartbeat went stale


def test_a_stale_record_is_removed_and_reported_without_a_signal(world):
    admin, store, processes, _, said = world
    stale = register(store, processes, worker(3), check=ProcessCheck.GONE)

    admin.stop(None, said.append)

    assert processes.signals == []
    assert store.workers.workers() == []
    assert said == [f"Worker {stale.id} (PID 3) is not running; removed its stale record.", "All workers stopped."]


def test_another_users_workers_are_left_alone_and_named_in_one_error_after_ours_stopped(world):
    admin, store, processes, time, said = world
    theirs = [register(store, processes, worker(pid), check=ProcessCheck.FOREIGN) for pid in (5, 6)]
    ours = register(store, processes, worker(1))
    processes.on_signal[1] = lambda count: time.later(1.0, lambda: processes.exit(ours))

    with pytest.raises(QueuectlError) as error:
        admin.stop(None, said.append)

    assert str(error.value) == ("not stopped: 2 worker(s) of another user on this host: "
                                f"{theirs[0].id} (PID 5), {theirs[1].id} (PID 6); stop them as that user")
    assert processes.signals == [1]
    assert said[-1] == "All workers stopped."
    assert store.workers.workers() == [replace(w, stop_requested=False) for w in theirs]


def test_timeout_sends_the_second_signal_once_and_only_after_the_timeout(world):
    admin, store, processes, time, said = world
    info = register(store, processes, worker(1))
    signalled_at: list[float] = []

    def on_signal(count: int) -> None:  # finishes its long job only when told twice
        signalled_at.append(time.elapsed)
        if count == 2:
            processes.exit(info)

    processes.on_signal[1] = on_signal
    admin.stop(3.0, said.append)

    assert processes.signals == [1, 1]
    assert signalled_at[0] == 0.0 and signalled_at[1] >= 3.0
    assert "Timeout of 3s reached: killing running jobs and releasing them." in said
    assert said[-1] == "All workers stopped."


def test_without_a_timeout_a_long_job_is_waited_for_and_never_forced(world):
    admin, store, processes, time, said = world
    info = register(store, processes, worker(1))
    processes.on_signal[1] = lambda count: time.later(12.0, lambda: processes.exit(info))

    admin.stop(None, said.append)

    assert processes.signals == [1]
    waiting = [line for line in said if line.startswith("Waiting for 1 worker(s)")]
    assert len(waiting) == 3  # at 0, 5 and 10 seconds
    assert not any(line.startswith("Timeout") for line in said)


def test_a_worker_killed_before_it_could_deregister_has_its_record_removed(world):
    admin, store, processes, time, said = world
    info = register(store, processes, worker(1))
    processes.on_signal[1] = lambda count: time.later(1.0, lambda: processes.exit(info, deregister=False))

    admin.stop(None, said.append)

    assert said[-1] == "All workers stopped."
    assert store.workers.workers() == []


def test_the_container_provides_the_service_over_this_hosts_processes(tmp_path):
    import socket

    from queuectl.container import build_container

    container = build_container("memory://", str(tmp_path))
    admin = container.worker_admin()
    assert isinstance(admin, WorkerAdmin) and admin.store is container.store()
    assert isinstance(admin.processes, ProcessControl) and admin.processes.hostname() == socket.gethostname()
    assert admin.processes.check(worker(1, host="elsewhere")) is ProcessCheck.REMOTE
