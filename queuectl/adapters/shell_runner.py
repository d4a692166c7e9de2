"""Runs a job's command with ``/bin/sh -c`` in a process group of its own.

stdout and stderr go, combined and in the order written, to one file per
attempt, ``<home>/output/<day>/<job id>.<attempt>-<token>.log`` (the day of the
claim, UTC; an attempt that printed nothing leaves no file). The last 64 KiB
are handed back for the store. A kill (timeout, cancel, forced stop) signals
the whole group, so background children die with the shell.

This is the worker's hot path: a ``true`` job should cost little more than
the fork and exec, so it sticks to a few plain system calls per attempt. The
shell is started with ``os.posix_spawn``: ``subprocess.Popen``'s Python-level
set-up (an error pipe, handle juggling, its own bookkeeping of children) added
some 40 % to the worker's CPU cost of each spawn.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import time
from datetime import date
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, unquote_plus

from queuectl.domain.execution import CommandRunner, RunningCommand, RunResult
from queuectl.domain.model import Job
from queuectl.domain.ports import OUTPUT_TAIL_BYTES
from queuectl.domain.urls import STORE_URL_VARIABLES, password_of

from .processes import process_start_time
from .wakeup import WakeChannel

log = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 2.0
# A process that started after its pid file was written is not the one it names.
PID_FILE_SLACK_SECONDS = 0.05
_RUNNING_WIDTH = 64
_SHELL = "/bin/sh"
# Python ignores these and an ignored signal stays ignored across exec (the
# writer of a closed pipe would get errors, not a quiet SIGPIPE): put back to
# the default, as Popen's restore_signals does.
_DEFAULT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ")
                         if hasattr(signal, name))


def attempt_path(home: Path | str, job: Job, token: str) -> Path:
    """Where an attempt's output goes; a ``.pid`` file beside it while it runs."""
    day = job.started_at.strftime("%Y-%m-%d") if job.started_at else "unstarted"
    return Path(home, "output", day, f"{job.id}.{job.attempts}-{token[:8]}.log")


def describe_exit(returncode: int) -> tuple[int, str | None]:
    """(exit code as a shell reports it, error text or None for success)."""
    if returncode < 0:
        sig = -returncode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return 128 + sig, f"killed by {name}"
    if returncode == 0:
        return 0, None
    if returncode == 127:
        return 127, "command not found (exit code 127)"
    if returncode == 126:
        return 126, "command not executable (exit code 126)"
    return returncode, f"exit code {returncode}"


def read_tail(path: Path | str, limit: int = OUTPUT_TAIL_BYTES) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return ""
    try:
        return _tail(fd, limit)
    finally:
        os.close(fd)


def _tail(fd: int, limit: int = OUTPUT_TAIL_BYTES) -> str:
    size = os.fstat(fd).st_size
    if size == 0:
        return ""
    text = os.pread(fd, limit, max(0, size - limit)).decode("utf-8", errors="replace")
    # An undecodable byte becomes U+FFFD, three bytes once stored: the stored tail stays within limit too.
    encoded = text.encode()
    return text if len(encoded) <= limit else encoded[-limit:].decode("utf-8", errors="ignore")


class ShellCommand(RunningCommand):
    def __init__(self, pid: int, log_fd: int, log_path: str, channel: WakeChannel | None,
                 uncaptured: str = "") -> None:
        self.pid, self.log_fd, self.log_path, self.channel = pid, log_fd, log_path, channel
        self.uncaptured = uncaptured  # why the output went to /dev/null, if it did
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = None

    def wait(self, seconds: float) -> RunResult | None:
        if self._pidfd is None:
            status = self._reap(min(seconds, 0.2))
        else:
            wake_fds = self.channel.fds() if self.channel else []
            ready, _, _ = select.select([self._pidfd, *wake_fds], [], [], seconds)
            if self.channel:
                self.channel.drain(ready)
            status = os.waitpid(self.pid, 0)[1] if self._pidfd in ready else None
        if status is None:
            return None
        exit_code, error = describe_exit(os.waitstatus_to_exitcode(status))
        return self._finish(exit_code, error)

    def kill(self, reason: str) -> RunResult:
        self._signal_group(signal.SIGTERM)
        status = self._reap(KILL_GRACE_SECONDS)
        self._signal_group(signal.SIGKILL)  # whatever ignored TERM, background children too
        if status is None:
            status = os.waitpid(self.pid, 0)[1]
        exit_code, _ = describe_exit(os.waitstatus_to_exitcode(status))
        return self._finish(exit_code, reason)

    def _reap(self, seconds: float) -> int | None:
        """The shell's wait status once it has exited, within ``seconds``; None if it still runs."""
        if self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd], [], [], seconds)
            return os.waitpid(self.pid, 0)[1] if ready else None
        deadline, pause = time.monotonic() + seconds, 0.0005
        while True:  # no pidfd on this system: poll, backing off as Popen.wait does
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _finish(self, exit_code: int | None, error: str | None) -> RunResult:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        try:
            output = _tail(self.log_fd)
        except OSError as exc:  # the disk failed under the file: the command's result still counts
            output = _not_captured(f"cannot read the output file: {exc.strerror or exc}")
        finally:
            os.close(self.log_fd)
        if not output and self.log_path:
            with contextlib.suppress(OSError):  # a read-only folder keeps its empty file
                os.unlink(self.log_path)  # nothing printed: no file to keep
        return RunResult(exit_code, error, self.uncaptured + output)


class ShellRunner(CommandRunner):
    """Runs one command at a time for the worker ``name``.

    While a command runs, ``<home>/running/<name>`` names its claim token and
    process group (rewritten in place for each command), so that if this
    worker is killed, the worker that recovers the job can kill the orphan.
    """

    def __init__(self, home: Path, channel: WakeChannel | None = None, name: str = "",
                 store_url: str | None = None) -> None:
        self.home = Path(home)
        self.channel = channel
        with contextlib.suppress(OSError):  # each attempt copes with a folder it cannot write
            (self.home / "output").mkdir(mode=0o700, parents=True, exist_ok=True)
        self._folders: dict[date | None, str] = {}
        self._devnull = os.open(os.devnull, os.O_RDONLY)
        # posix_spawn converts its environment on every call, and converting
        # os.environ (a Python-level mapping) costs about as much as the spawn
        # itself; nothing in a worker changes its environment, so one copy
        # serves every command.
        self._environ = job_environment(os.environ, store_url)
        self._session: dict[str, Any] = {"setsid": True}
        _close_inherited_on_exec()
        self._running_path = self.home / "running" / name if name else None
        self._running_fd: int | None = None
        if self._running_path is not None:
            self._running_path.parent.mkdir(mode=0o700, exist_ok=True)
            self._running_fd = os.open(self._running_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

    def close(self) -> None:
        os.close(self._devnull)
        if self._running_fd is not None:
            os.close(self._running_fd)
            self._running_fd = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._running_path)

    def start(self, job: Job) -> RunningCommand:
        try:
            fd, log_path, uncaptured = self._open_output(job)
        except OSError as exc:  # not even /dev/null: out of file descriptors, say
            return NotStarted(f"could not open the output: {exc.strerror or exc}")
        try:
            pid = self._spawn(job.command, fd)
        except OSError as exc:
            os.close(fd)
            if log_path:
                with contextlib.suppress(OSError):
                    os.unlink(log_path)
            return NotStarted(f"could not start /bin/sh: {exc.strerror or exc}")
        if self._running_fd is not None:  # one write in place, no file created per command
            with contextlib.suppress(OSError):  # it only helps to kill an orphan: no reason to fail the job
                os.pwrite(self._running_fd, f"{job.lease_token} {pid}".ljust(_RUNNING_WIDTH).encode(), 0)
        return ShellCommand(pid, fd, log_path, self.channel, uncaptured)

    def _open_output(self, job: Job) -> tuple[int, str, str]:
        """(descriptor, path, "") of the attempt's output file; when it cannot be created (a
        read-only or full folder), /dev/null, no path and why: the command runs all the same."""
        day = job.started_at.date() if job.started_at else None
        log_path = f"{self.home}/output"
        try:
            folder = self._folders.get(day) or self._folder(day)
            log_path = f"{folder}/{job.id}.{job.attempts}-{(job.lease_token or 'run')[:8]}.log"  # = attempt_path
            return os.open(log_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600), log_path, ""
        except OSError as exc:
            return os.open(os.devnull, os.O_RDWR), "", _not_captured(f"{log_path}: {exc.strerror or exc}")

    def _spawn(self, command: str, log_fd: int) -> int:
        """``/bin/sh -c command`` in a session of its own, stdin from /dev/null."""
        actions = [(os.POSIX_SPAWN_DUP2, self._devnull, 0), (os.POSIX_SPAWN_DUP2, log_fd, 1),
                   (os.POSIX_SPAWN_DUP2, log_fd, 2)]
        try:
            return os.posix_spawn(_SHELL, [_SHELL, "-c", command], self._environ, file_actions=actions,
                                  setsigdef=_DEFAULT_SIGNALS, **self._session)
        except NotImplementedError:  # no POSIX_SPAWN_SETSID here
            if "setpgroup" in self._session:
                raise
            self._session = {"setpgroup": 0}  # a process group of its own is what killpg needs
            return self._spawn(command, log_fd)

    def _folder(self, day: date | None) -> str:
        """The day's output folder, created once per worker and day.

        Looked up by date: formatting the day for every command cost more than
        the rest of the path.
        """
        folder = str(self.home / "output" / (day.strftime("%Y-%m-%d") if day else "unstarted"))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        self._folders[day] = folder
        return folder

    def reap(self, job: Job, token: str) -> None:
        """A SIGKILLed worker cannot stop its command: kill the orphaned group for it.

        Only a process that started before its record was written (the file's
        mtime) is the one the record names; a PID since reused is left alone.
        """
        for entry in _running_records(self.home / "running"):
            recorded_token, pid, written = entry
            if recorded_token != token:
                continue
            started = process_start_time(pid)
            if started is not None and started <= written + PID_FILE_SLACK_SECONDS:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


def job_environment(environ: Mapping[str, str], store_url: str | None) -> dict[str, str]:
    """The worker's environment as its jobs get it: never the store URL nor its password.

    ``QUEUECTL_DB`` and ``MONGO_URI`` are dropped whatever they hold, and so is
    any variable whose value holds the store URL's password (SPEC 9.1).
    """
    password = password_of(store_url) if store_url else ""
    secrets = sorted({password, unquote(password), unquote_plus(password)} - {""})
    kept = {}
    for name, value in environ.items():
        if name in STORE_URL_VARIABLES:
            continue
        if any(secret in value for secret in secrets):
            log.warning("not passing %s to jobs: its value holds the store password", name)
            continue
        kept[name] = value
    return kept


def _close_inherited_on_exec() -> None:
    """Mark every descriptor above 2 that this process inherited close-on-exec.

    Popen closes them all in the child; posix_spawn leaves that to the
    close-on-exec flag, which Python's files and sockets, SQLite's files and
    pidfds all carry already. Only what was inherited from whoever started the
    worker (a pipe of the launching shell, say) may lack it.
    """
    with contextlib.suppress(OSError):
        for name in os.listdir("/dev/fd"):
            if int(name) > 2:
                with contextlib.suppress(OSError):  # the listing's own descriptor, gone by now
                    os.set_inheritable(int(name), False)


def _running_records(folder: Path) -> list[tuple[str, int, float]]:
    records = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError, ValueError):
                with open(entry.path, encoding="ascii") as handle:
                    token, pid = handle.read().split()
                records.append((token, int(pid), entry.stat().st_mtime))
    return records


def _not_captured(reason: str) -> str:
    return f"[queuectl] output not captured: {reason}\n"


class NotStarted(RunningCommand):
    """The shell itself could not be started (no /bin/sh, out of processes...)."""

    def __init__(self, error: str) -> None:
        self.error = error

    def wait(self, seconds: float) -> RunResult | None:
        return RunResult(None, self.error)

    def kill(self, reason: str) -> RunResult:
        return RunResult(None, reason)

