"""Worker processes: start them detached, and signal only verified ones.

A registry entry names a PID, the process start time and the host. Before any
signal is sent the PID must still be alive on this host, started at that same
moment, and be running queuectl; a recycled PID or a stale record is never
signalled.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import stat
import sys
from pathlib import Path
from typing import MutableMapping

import psutil

from queuectl.domain.errors import QueuectlError
from queuectl.domain.ports import WorkerInfo
from queuectl.domain.urls import STORE_URL_VARIABLES

START_TIME_TOLERANCE = 0.05
# How a detached worker gets its store URL: a pipe on this descriptor, named by this variable.
URL_FD = 3
URL_FD_ENV = "QUEUECTL_URL_FD"
MAX_URL_BYTES = 16 * 1024
# ``python -P -m queuectl`` (3.11+); before -P existed, the same by hand.
_PACKAGE_LAUNCH = (("-P", "-m", "queuectl") if sys.version_info >= (3, 11) else
                   ("-c", "import sys; del sys.path[0]; from queuectl.entrypoints.cli import main; main()"))


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


def spawn_detached(argv: list[str], log_path: Path, env: dict[str, str], url: str) -> int:
    """Start ``argv`` in a new session, reparented to init, output to ``log_path``.

    A double fork: the intermediate child exits at once so the worker never
    becomes a zombie of a long-lived parent such as the interactive shell.
    ``url`` reaches the worker through a pipe it inherits as descriptor
    ``URL_FD`` (``take_handed_url``): never the command line (``ps`` shows it
    to every user) nor the environment (its jobs would inherit it).
    """
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    url_fd = _url_pipe(url)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            os.close(read_end)
            os.setsid()
            grandchild = os.fork()
            if grandchild == 0:
                _exec_worker(argv, log_path, env, url_fd)
            os.write(write_end, str(grandchild).encode())
        finally:
            os._exit(0)
    os.close(url_fd)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end) as pipe:
        return int(pipe.read() or 0)


def _url_pipe(url: str) -> int:
    """A pipe's read end (above the standard descriptors) holding ``url``, its write end closed."""
    data = url.encode("utf-8")
    if len(data) > MAX_URL_BYTES:
        raise QueuectlError(f"the store URL is longer than {MAX_URL_BYTES} bytes")
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(write_end, False)  # all of it into the pipe's buffer now, or an error
        if os.write(write_end, data) != len(data):
            raise BlockingIOError
        return fcntl.fcntl(read_end, fcntl.F_DUPFD_CLOEXEC, URL_FD + 1)
    except BlockingIOError:
        raise QueuectlError("the store URL does not fit in a pipe's buffer") from None
    finally:
        os.close(read_end)
        os.close(write_end)


def _exec_worker(argv: list[str], log_path: Path, env: dict[str, str],
                 url_fd: int) -> None:  # pragma: no cover - forked child
    try:
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.dup2(url_fd, URL_FD)  # url_fd is above URL_FD: never the same descriptor
        os.closerange(URL_FD + 1, 1024)
        os.execve(sys.executable, [sys.executable, *argv], env)
    finally:
        os._exit(127)


def worker_command(home: Path, queues: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Arguments and environment of a detached worker (its store URL comes by ``spawn_detached``'s pipe).

    ``-P`` keeps the working directory off ``sys.path``, so a folder named
    ``queuectl`` there (the folder above a clone, say) cannot shadow the
    installed package; ``PYTHONPATH`` keeps its meaning.
    """
    args = [*_PACKAGE_LAUNCH, "worker", "run"]
    for queue in queues:
        args += ["--queue", queue]
    env = {name: value for name, value in os.environ.items() if name not in STORE_URL_VARIABLES}
    env.update(QUEUECTL_HOME=str(home), **{URL_FD_ENV: str(URL_FD)})
    return args, env


def take_handed_url(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """In a worker that ``spawn_detached`` started: its store URL, read once from the pipe.

    The descriptor is closed and the variable naming it removed, so the
    worker's jobs inherit neither. None when this worker was started otherwise.
    """
    named = environ.pop(URL_FD_ENV, None)
    if named is None:
        return None
    if not named.isdigit() or len(named) > 4:
        raise QueuectlError(f"{URL_FD_ENV} must name a file descriptor, not '{named[:20]}'")
    try:
        with os.fdopen(int(named), "rb") as pipe:
            if not stat.S_ISFIFO(os.fstat(pipe.fileno()).st_mode):
                raise QueuectlError(f"{URL_FD_ENV}: descriptor {named} is not the launcher's pipe")
            data = pipe.read(MAX_URL_BYTES + 1)
    except OSError as error:
        raise QueuectlError(f"cannot read the store URL from descriptor {named}: {error.strerror}") from None
    if not data or len(data) > MAX_URL_BYTES:
        raise QueuectlError(f"no store URL on descriptor {named}")
    return data.decode("utf-8", errors="replace")


def process_running(pid: int) -> bool:
    """True while ``pid`` runs; False once it exited, also as a zombie nobody reaped yet
    (a container's PID 1 may never reap the workers it inherits)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
