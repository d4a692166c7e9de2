"""Starting and stopping detached workers (``worker start`` / ``worker stop``, CLI and shell).

Works through the store's worker registry and the ``ProcessControl`` port:
every local PID is checked before any signal is sent, another user's workers
are left alone, and records whose process is gone are removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from . import defaults
from .errors import QueuectlError
from .ports import Clock, ProcessCheck, ProcessControl, Store, WorkerInfo
from .settings import Settings

POLL_SECONDS = 0.1
REPORT_EVERY_SECONDS = 5.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class Launched:
    """One worker of ``worker start``: its PID and log, and why it failed (None: it registered)."""

    pid: int
    log_path: str
    error: str | None = None


class WorkerAdmin:
    """``sleep`` and ``monotonic`` pace the waits (a test passes a fake clock's)."""

    def __init__(self, store: Store, processes: ProcessControl, clock: Clock,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.registry = store.workers
        self.store = store
        self.processes = processes
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic

    # -- start ---------------------------------------------------------------
    def start(self, url: str, count: int, queues: Sequence[str], concurrency: int = 1) -> list[Launched]:
        """Spawn ``count`` workers of ``concurrency`` slots each; return once each has registered or failed,
        every one reported."""
        stamp = self.clock.now().astimezone().strftime("%Y%m%dT%H%M%S")
        logs = dict(self.processes.spawn_worker(queues, url, f"worker-{stamp}-{index}.log", concurrency)
                    for index in range(1, count + 1))
        failed = self._await_registration(logs)
        return [Launched(pid, log_path, failed.get(pid)) for pid, log_path in logs.items()]

    def _await_registration(self, logs: dict[int, str]) -> dict[int, str]:
        failed: dict[int, str] = {}
        waiting = set(logs)
        deadline = self.monotonic() + defaults.WORKER_START_DEADLINE_SECONDS
        while waiting:
            waiting -= {w.pid for w in self.registry.workers() if self._is_local(w)}
            for pid in [pid for pid in waiting if not self.processes.running(pid)]:
                last = self.processes.last_log_line(logs[pid])
                failed[pid] = "exited while starting" + (f": {last}" if last else "")
                waiting.discard(pid)
            if waiting and self.monotonic() > deadline:
                late = f"did not register within {defaults.WORKER_START_DEADLINE_SECONDS:g}s"
                failed.update(dict.fromkeys(waiting, late))
                waiting.clear()
            if waiting:
                self.sleep(POLL_SECONDS)
        return failed

    # -- stop ----------------------------------------------------------------
    def stop(self, timeout: float | None, say: Say) -> None:
        """Ask every worker to stop, wait for them, and force after ``timeout`` seconds.

        Another user's workers are named in one error once ours have stopped.
        """
        now, lease = self.clock.now(), self._lease_seconds()
        workers = [w for w in self.registry.workers() if self._is_local(w) or w.is_live(now, lease)]
        checks = {w.id: self.processes.check(w) for w in workers}
        foreign = [w for w in workers if checks[w.id] is ProcessCheck.FOREIGN]
        mine = [w for w in workers if checks[w.id] is not ProcessCheck.FOREIGN]
        if not workers:
            say("No workers are running.")
        if mine:
            self._stop(mine, checks, timeout, say)
        if foreign:
            names = ", ".join(f"{w.id} (PID {w.pid})" for w in foreign)
            raise QueuectlError(f"not stopped: {len(foreign)} worker(s) of another user on this host: {names}; "
                                "stop them as that user")

    def _stop(self, workers: list[WorkerInfo], checks: dict[str, ProcessCheck], timeout: float | None,
              say: Say) -> None:
        self.registry.request_stop(w.id for w in workers)
        live = []
        for info in workers:
            if checks[info.id] is ProcessCheck.REMOTE or (
                    checks[info.id] is ProcessCheck.OURS and self.processes.signal_stop(info)):
                live.append(info)
            else:  # a stale record: the process is gone or its PID now belongs to another
                say(f"Worker {info.id} (PID {info.pid}) is not running; removed its stale record.")
                self.registry.deregister(info.id)
        self._wait_for_exit(live, timeout, say)
        for info in live:  # killed meanwhile (SIGKILL): drop the record it could not remove
            if self.processes.check(info) is ProcessCheck.GONE:
                self.registry.deregister(info.id)

    def _wait_for_exit(self, live: list[WorkerInfo], timeout: float | None, say: Say) -> None:
        lease = self._lease_seconds()
        start = next_report = self.monotonic()
        forced = False
        while True:
            registered = {w.id: w for w in self.registry.workers()}
            live = [w for w in live if w.id in registered and self._still_running(registered[w.id], lease)]
            if not live:
                say("All workers stopped.")
                return
            now = self.monotonic()
            if now >= next_report:
                pids = ", ".join(f"{w.pid}@{w.host}" for w in live)
                say(f"Waiting for {len(live)} worker(s) to finish their running jobs: {pids}")
                next_report = now + REPORT_EVERY_SECONDS
            if timeout is not None and not forced and now - start >= timeout:
                forced = True
                say(f"Timeout of {timeout:g}s reached: killing running jobs and releasing them.")
                for info in live:
                    self.processes.signal_stop(info)  # the second signal: stop now
            self.sleep(POLL_SECONDS)

    def _still_running(self, info: WorkerInfo, lease_seconds: float) -> bool:
        """A local worker runs while its process lives; a remote one while it keeps beating."""
        if self._is_local(info):
            return self.processes.check(info) is ProcessCheck.OURS
        return info.is_live(self.clock.now(), lease_seconds)

    def _is_local(self, info: WorkerInfo) -> bool:
        return info.host == self.processes.hostname()

    def _lease_seconds(self) -> float:
        return Settings.from_stored(self.store.settings.load()).lease_seconds
