"""The ``ProcessControl`` port over this host's processes (``processes`` does the work)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Sequence

from queuectl.domain.ports import ProcessCheck, ProcessControl, WorkerInfo

from . import processes

LAST_LINE_BYTES = 300


class OsProcessControl(ProcessControl):
    """Workers of the queue home ``home``: their logs go to ``home/logs``."""

    def __init__(self, home: str) -> None:
        self.home = Path(home)

    def hostname(self) -> str:
        return processes.hostname()

    def started_at(self, pid: int) -> float | None:
        return processes.process_start_time(pid)

    def check(self, info: WorkerInfo) -> ProcessCheck:
        return processes.check_worker(info)

    def signal_stop(self, info: WorkerInfo) -> bool:
        return processes.signal_worker(info, signal.SIGTERM)

    def spawn_worker(self, queues: Sequence[str], url: str, log_name: str, concurrency: int = 1) -> tuple[int, str]:
        argv, env = processes.worker_command(self.home, tuple(queues), concurrency)
        log_path = self.home / "logs" / log_name
        return processes.spawn_detached(argv, log_path, env, url), str(log_path)

    def running(self, pid: int) -> bool:
        return processes.process_running(pid)

    def last_log_line(self, log_path: str) -> str:
        try:
            with open(log_path, "rb") as log:
                log.seek(max(0, log.seek(0, 2) - LAST_LINE_BYTES))
                lines = log.read().decode("utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1].strip()[:LAST_LINE_BYTES] if lines else ""
