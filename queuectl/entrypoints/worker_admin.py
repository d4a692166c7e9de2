"""Starting and stopping detached workers, from the CLI or the shell."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from queuectl.adapters import processes
from queuectl.adapters.processes import ProcessCheck
from queuectl.domain.errors import QueuectlError
from queuectl.domain.ports import WorkerInfo

START_DEADLINE_SECONDS = 20.0
STOP_POLL_SECONDS = 0.1
REPORT_EVERY_SECONDS = 5.0
LAST_LINE_BYTES = 300


@dataclass(frozen=True)
class Launched:
    """One worker of ``worker start``: its PID and log, and why it failed (None: it registered)."""

    pid: int
    log_path: Path
    error: str | None = None


def start_workers(container: Any, home: Path, url: str, count: int,
                  queues: tuple[str, ...]) -> list[Launched]:
    """Spawn ``count`` workers; return once each has registered or failed, every one reported."""
    registry = container.store().workers
    argv, env = processes.worker_command(home, queues)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    logs = {}
    for index in range(1, count + 1):
        log_path = home / "logs" / f"worker-{stamp}-{index}.log"
        logs[processes.spawn_detached(argv, log_path, env, url)] = log_path
    failed: dict[int, str] = {}
    waiting = set(logs)
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while waiting:
        waiting -= {w.pid for w in registry.workers() if processes.is_local(w)}
        for pid in [pid for pid in waiting if not processes.process_running(pid)]:
            failed[pid] = "exited while starting" + _last_line(logs[pid])
            waiting.discard(pid)
        if waiting and time.monotonic() > deadline:
            failed.update(dict.fromkeys(waiting, f"did not register within {START_DEADLINE_SECONDS:g}s"))
            waiting.clear()
        if waiting:
            time.sleep(STOP_POLL_SECONDS)
    return [Launched(pid, log_path, failed.get(pid)) for pid, log_path in logs.items()]


def _last_line(log_path: Path) -> str:
    """``: <the log's last line>`` (the error a worker died of), or nothing."""
    try:
        with log_path.open("rb") as log:
            log.seek(max(0, log.seek(0, 2) - LAST_LINE_BYTES))
            lines = log.read().decode("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f": {lines[-1].strip()[:LAST_LINE_BYTES]}" if lines else ""


def stop_workers(container: Any, timeout: float | None, say: Callable[[str], None]) -> None:
    """Ask every worker to stop, wait for them, and force after ``timeout`` seconds.

    Every local PID is checked before any signal is sent; another user's
    workers are left alone and named in one error once ours have stopped.
    """
    registry = container.store().workers
    now, lease = container.clock().now(), container.jobs().settings().lease_seconds
    workers = [w for w in registry.workers() if processes.is_local(w) or w.is_live(now, lease)]
    checks = {w.id: processes.check_worker(w) for w in workers}
    foreign = [w for w in workers if checks[w.id] is ProcessCheck.FOREIGN]
    mine = [w for w in workers if checks[w.id] is not ProcessCheck.FOREIGN]
    if not workers:
        say("No workers are running.")
    if mine:
        _stop(container, mine, checks, timeout, say)
    if foreign:
        names = ", ".join(f"{w.id} (PID {w.pid})" for w in foreign)
        raise QueuectlError(f"not stopped: {len(foreign)} worker(s) of another user on this host: {names}; "
                            "stop them as that user")


def _stop(container: Any, workers: list[WorkerInfo], checks: dict[str, ProcessCheck], timeout: float | None,
          say: Callable[[str], None]) -> None:
    registry = container.store().workers
    registry.request_stop(w.id for w in workers)
    live = []
    for info in workers:
        if checks[info.id] is ProcessCheck.REMOTE or (
                checks[info.id] is ProcessCheck.OURS and processes.signal_worker(info, signal.SIGTERM)):
            live.append(info)
        else:  # a stale record: the process is gone or its PID now belongs to another
            say(f"Worker {info.id} (PID {info.pid}) is not running; removed its stale record.")
            registry.deregister(info.id)
    _wait_for_exit(container, live, timeout, say)
    for info in live:  # killed meanwhile (SIGKILL): drop the record it could not remove
        if processes.check_worker(info) is ProcessCheck.GONE:
            registry.deregister(info.id)


def _wait_for_exit(container: Any, live: list[WorkerInfo], timeout: float | None,
                   say: Callable[[str], None]) -> None:
    registry, clock = container.store().workers, container.clock()
    lease = container.jobs().settings().lease_seconds
    start = time.monotonic()
    forced = False
    next_report = start
    while True:
        registered = {w.id: w for w in registry.workers()}
        live = [w for w in live if w.id in registered
                and _still_running(registered[w.id], clock.now(), lease)]
        if not live:
            say("All workers stopped.")
            return
        now = time.monotonic()
        if now >= next_report:
            pids = ", ".join(f"{w.pid}@{w.host}" for w in live)
            say(f"Waiting for {len(live)} worker(s) to finish their current job: {pids}")
            next_report = now + REPORT_EVERY_SECONDS
        if timeout is not None and not forced and now - start >= timeout:
            forced = True
            say(f"Timeout of {timeout:g}s reached: killing running jobs and releasing them.")
            for info in live:
                processes.signal_worker(info, signal.SIGTERM)  # the second signal: stop now
        time.sleep(STOP_POLL_SECONDS)


def _still_running(info: WorkerInfo, now: Any, lease_seconds: float) -> bool:
    """A local worker runs while its process lives; a remote one while it keeps beating."""
    if processes.is_local(info):
        return processes.is_our_worker(info)
    return info.is_live(now, lease_seconds)
