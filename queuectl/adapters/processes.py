"""Worker processes: start them detached, and signal only verified ones.

A registry entry names a PID, the process start time and the host. Before any
signal is sent the PID must still be alive on this host, started at that same
moment, and be running queuectl; a recycled PID or a stale record is never
signalled.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import psutil

from queuectl.domain.ports import WorkerInfo

START_TIME_TOLERANCE = 0.05


def hostname() -> str:
    return socket.gethostname()


def process_start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_local(info: WorkerInfo) -> bool:
    return info.host == hostname()


def is_our_worker(info: WorkerInfo) -> bool:
    """True only if ``info`` still describes a live queuectl worker on this host."""
    if not is_local(info):
        return False
    try:
        process = psutil.Process(info.pid)
        if abs(process.create_time() - info.pid_started_at) > START_TIME_TOLERANCE:
            return False
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return any("queuectl" in part for part in process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def signal_worker(info: WorkerInfo, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` if the record is verified; False (and nothing sent) otherwise."""
    if not is_our_worker(info):
        return False
    try:
        os.kill(info.pid, sig)
        return True
    except ProcessLookupError:
        return False


def spawn_detached(argv: list[str], log_path: Path, env: dict[str, str]) -> int:
    """Start ``argv`` in a new session, reparented to init, output to ``log_path``.

    A double fork: the intermediate child exits at once so the worker never
    becomes a zombie of a long-lived parent such as the interactive shell.
    """
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            os.close(read_end)
            os.setsid()
            grandchild = os.fork()
            if grandchild == 0:
                _exec_worker(argv, log_path, env)
            os.write(write_end, str(grandchild).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end) as pipe:
        return int(pipe.read() or 0)


def _exec_worker(argv: list[str], log_path: Path, env: dict[str, str]) -> None:  # pragma: no cover - forked child
    try:
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.closerange(3, 1024)
        os.execve(sys.executable, [sys.executable, *argv], env)
    finally:
        os._exit(127)


def worker_command(home: Path, url: str, queues: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Arguments and environment of a detached worker.

    The store URL travels in the environment, not on the command line, where
    ``ps`` would show its password to every user of the host.
    """
    args = ["-m", "queuectl", "worker", "run"]
    for queue in queues:
        args += ["--queue", queue]
    env = dict(os.environ, QUEUECTL_HOME=str(home), QUEUECTL_DB=url)
    return args, env
