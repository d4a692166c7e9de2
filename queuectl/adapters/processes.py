"""Worker processes: start them detached, and signal only verified ones.

A registry entry names a PID, the process start time and the host. Before any
signal is sent the PID must still be alive on this host, started at that same
moment, run as this user, and its command line must be exactly a queuectl
worker's (``worker_argv`` builds the one ``worker start`` launches;
``is_worker_argv`` recognises it and the other ways a user runs a worker). A
recycled PID, a stale or planted record, or another user's process is never
signalled. The signal goes through a pidfd opened before the checks, so the
PID cannot be recycled between the check and the signal.
"""

from __future__ import annotations

import enum
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Sequence

import psutil

from queuectl.domain.errors import QueuectlError
from queuectl.domain.ports import WorkerInfo

START_TIME_TOLERANCE = 0.05
_PYTHON = re.compile(r"python3?(\.[0-9]+)?")
_INTERPRETER_FLAGS = re.compile(r"-[BEIOPSsu]+")  # -P, -I, -u... before ``-m queuectl``
_GLOBAL_OPTIONS = ("--home", "--db")


class ProcessCheck(enum.Enum):
    """What a worker record's PID turned out to be."""

    OURS = "ours"  # a live queuectl worker of this user on this host: may be signalled
    GONE = "gone"  # no such process any more, or its PID now runs something else
    FOREIGN = "foreign"  # a queuectl worker of another user (or one we may not inspect)
    REMOTE = "remote"  # on another host: reached through the store only


def hostname() -> str:
    return socket.gethostname()


def process_start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_local(info: WorkerInfo) -> bool:
    return info.host == hostname()


def worker_argv(queues: Sequence[str]) -> list[str]:
    """The whole command line (``argv[0]`` included) of a detached worker.

    ``is_worker_argv`` must accept whatever this returns; a unit test holds
    the two together.
    """
    argv = [sys.executable, "-m", "queuectl", "worker", "run"]
    for queue in queues:
        argv += ["--queue", queue]
    return argv


def is_worker_argv(argv: Sequence[str]) -> bool:
    """True only for exactly a queuectl worker's command line::

        LAUNCHER [--home DIR | --db URL]... worker run [--queue NAME]...
        LAUNCHER [--home DIR | --db URL]...       (the shell, which can run a worker)

    where LAUNCHER is ``PYTHON [-FLAGS] -m queuectl``, ``PYTHON .../queuectl``
    (the console script) or ``.../queuectl``. Anything else, such as
    ``less queuectl-notes.txt``, is not a worker.
    """
    rest = _skip_options(_after_launcher(list(argv)), _GLOBAL_OPTIONS)
    if rest is None or rest == []:
        return rest == []
    return rest[:2] == ["worker", "run"] and _skip_options(rest[2:], ("--queue",)) == []


def _after_launcher(argv: list[str]) -> list[str] | None:
    if argv and _is_script(argv[0]):
        return argv[1:]
    if not argv or not (argv[0] == sys.executable or _PYTHON.fullmatch(os.path.basename(argv[0]))):
        return None
    index = 1
    while index < len(argv) and _INTERPRETER_FLAGS.fullmatch(argv[index]):
        index += 1
    if argv[index:index + 2] == ["-m", "queuectl"]:
        return argv[index + 2:]
    if index < len(argv) and _is_script(argv[index]):
        return argv[index + 1:]
    return None


def _is_script(path: str) -> bool:
    return os.path.basename(path) == "queuectl"


def _skip_options(tokens: list[str] | None, names: tuple[str, ...]) -> list[str] | None:
    """``tokens`` after the leading ``NAME VALUE`` / ``NAME=VALUE`` options; None if one lacks its value."""
    while tokens:
        if tokens[0] in names:
            if len(tokens) < 2:
                return None
            tokens = tokens[2:]
        elif any(tokens[0].startswith(name + "=") for name in names):
            tokens = tokens[1:]
        else:
            break
    return tokens


def check_worker(info: WorkerInfo) -> ProcessCheck:
    """What ``info``'s PID is now; only ``OURS`` may be signalled."""
    if not is_local(info):
        return ProcessCheck.REMOTE
    try:
        process = psutil.Process(info.pid)
        with process.oneshot():
            if abs(process.create_time() - info.pid_started_at) > START_TIME_TOLERANCE:
                return ProcessCheck.GONE
            if process.status() == psutil.STATUS_ZOMBIE:
                return ProcessCheck.GONE
            uids = process.uids()
            argv = process.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return ProcessCheck.GONE
    except psutil.AccessDenied:
        return ProcessCheck.FOREIGN
    if not is_worker_argv(argv):
        return ProcessCheck.GONE
    ours = uids.real == uids.effective == os.getuid()
    return ProcessCheck.OURS if ours else ProcessCheck.FOREIGN


def is_our_worker(info: WorkerInfo) -> bool:
    """True only if ``info`` still describes a live queuectl worker of this user on this host."""
    return check_worker(info) is ProcessCheck.OURS


def signal_worker(info: WorkerInfo, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` if the record is verified; False (and nothing sent) otherwise."""
    try:
        pidfd = os.pidfd_open(info.pid)
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):  # no pidfds (old kernel): os.kill after the checks
        pidfd = None
    try:
        if not is_our_worker(info):
            return False
        if pidfd is None:
            os.kill(info.pid, sig)
        else:
            signal.pidfd_send_signal(pidfd, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        raise QueuectlError(f"not allowed to signal worker {info.id} (PID {info.pid})") from None
    finally:
        if pidfd is not None:
            os.close(pidfd)


def spawn_detached(argv: list[str], log_path: Path, env: dict[str, str]) -> int:
    """Start ``argv`` (``argv[0]`` the program) in a new session, reparented to init, output to ``log_path``.

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
        os.execve(argv[0], argv, env)
    finally:
        os._exit(127)


def worker_command(home: Path, url: str, queues: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Command line (``worker_argv``) and environment of a detached worker.

    The store URL travels in the environment, not on the command line, where
    ``ps`` would show its password to every user of the host.
    """
    env = dict(os.environ, QUEUECTL_HOME=str(home), QUEUECTL_DB=url)
    return worker_argv(queues), env
