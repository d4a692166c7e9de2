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

import fcntl
import os
import re
import signal
import socket
import stat
import sys
from pathlib import Path
from typing import MutableMapping, Sequence

import psutil

from queuectl.domain.errors import QueuectlError
from queuectl.domain.ports import ProcessCheck, WorkerInfo
from queuectl.domain.urls import STORE_URL_VARIABLES

START_TIME_TOLERANCE = 0.05
# How a detached worker gets its store URL: a pipe on this descriptor, named by this variable.
URL_FD = 3
URL_FD_ENV = "QUEUECTL_URL_FD"
MAX_URL_BYTES = 16 * 1024
_PYTHON = re.compile(r"python3?(\.[0-9]+)?")
_INTERPRETER_FLAGS = re.compile(r"-[BEIOPSsu]+")  # -P, -I, -u... before ``-m queuectl``
_GLOBAL_OPTIONS = ("--home", "--db")


def hostname() -> str:
    return socket.gethostname()


def process_start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_local(info: WorkerInfo) -> bool:
    return info.host == hostname()


def worker_argv(queues: Sequence[str], concurrency: int = 1) -> list[str]:
    """The whole command line (``argv[0]`` included) of a detached worker.

    ``is_worker_argv`` must accept whatever this returns; a unit test holds
    the two together. ``-P`` keeps the working directory off ``sys.path``, so
    a folder named ``queuectl`` there (the folder above a clone, say) cannot
    shadow the installed package; ``PYTHONPATH`` keeps its meaning.
    """
    argv = [sys.executable, "-P", "-m", "queuectl", "worker", "run"]
    for queue in queues:
        argv += ["--queue", queue]
    if concurrency != 1:
        argv += ["--concurrency", str(int(concurrency))]
    return argv


def is_worker_argv(argv: Sequence[str]) -> bool:
    """True only for exactly a queuectl worker's command line::

        LAUNCHER [--home DIR | --db URL]... worker run [--queue NAME | --concurrency M]...
        LAUNCHER [--home DIR | --db URL]...       (the shell, which can run a worker)

    where LAUNCHER is ``PYTHON [-FLAGS] -m queuectl``, ``PYTHON .../queuectl``
    (the console script) or ``.../queuectl``. Anything else, such as
    ``less queuectl-notes.txt``, is not a worker.
    """
    rest = _skip_options(_after_launcher(list(argv)), _GLOBAL_OPTIONS)
    if rest is None or rest == []:
        return rest == []
    return rest[:2] == ["worker", "run"] and _skip_options(rest[2:], ("--queue", "--concurrency")) == []


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
        # Then SIGCONT: a stopped worker (SIGSTOP, Ctrl-Z) handles nothing until continued, and
        # two SIGTERMs pending meanwhile merge into one (``worker stop --timeout``'s stop now).
        for each in (sig, signal.SIGCONT):
            if pidfd is None:
                os.kill(info.pid, each)
            else:
                signal.pidfd_send_signal(pidfd, each)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        raise QueuectlError(f"not allowed to signal worker {info.id} (PID {info.pid})") from None
    finally:
        if pidfd is not None:
            os.close(pidfd)


def spawn_detached(argv: list[str], log_path: Path, env: dict[str, str], url: str) -> int:
    """Start ``argv`` (``argv[0]`` the program) in a new session, reparented to init, output to ``log_path``.

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
        os.execve(argv[0], argv, env)
    finally:
        os._exit(127)


def worker_command(home: Path, queues: tuple[str, ...], concurrency: int = 1) -> tuple[list[str], dict[str, str]]:
    """Command line (``worker_argv``) and environment of a detached worker.

    Its store URL comes by ``spawn_detached``'s pipe: never the command line,
    where ``ps`` shows it to every user, nor the environment its jobs inherit.
    """
    env = {name: value for name, value in os.environ.items() if name not in STORE_URL_VARIABLES}
    env.update(QUEUECTL_HOME=str(home), **{URL_FD_ENV: str(URL_FD)})
    return worker_argv(queues, concurrency), env


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
