"""Runs a job's command with ``/bin/sh -c`` in a process group of its own.

stdout and stderr go, combined and in the order written, into one pipe whose
output ``output_capture.py`` keeps in one file per attempt, capped at
``output_max`` (the file's name: ``output_files.py``). The last 64 KiB are
handed back for the store. A kill (timeout, cancel, forced stop) signals the
whole group, so background children die with the shell. While the worker
waits for the command, the same select watches the pipe; if the command
outlives that first wait, a thread drains the pipe to its end, so output
flows while the worker renews its lease or waits for its store.

This is the worker's hot path: a ``true`` job should cost little more than
the fork and exec, so it sticks to a few plain system calls per attempt. The
shell is started with ``os.posix_spawn``: ``subprocess.Popen``'s Python-level
set-up (an error pipe, handle juggling, its own bookkeeping of children) added
some 40 % to the worker's CPU cost of each spawn. The started command (wait,
kill, the drain) is ``shell_command.py``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from queuectl.domain import defaults
from queuectl.domain.commands import CommandRunner, RunningCommand
from queuectl.domain.context import job_variables
from queuectl.domain.model import Job
from queuectl.domain.urls import SECRET_SEARCH_MIN, STORE_URL_VARIABLES, password_forms

from .output_capture import OutputCapture
from .output_files import OUTPUT_FOLDER, day_folder, file_name
from .processes import process_start_time
from .shell_command import NotStarted, ShellCommand
from .wakeup import LocalWaker, WakeChannel
from .working_directory import DirectoryUnusable, WorkingDirectories

log = logging.getLogger(__name__)

# A process that started after its pid file was written is not the one it names.
PID_FILE_SLACK_SECONDS = 0.05
_RUNNING_WIDTH = 160  # token, PID and host name (at most 64 bytes) of the running command
_SHELL = "/bin/sh"
# Python ignores these and an ignored signal stays ignored across exec (the
# writer of a closed pipe would get errors, not a quiet SIGPIPE): put back to
# the default, as Popen's restore_signals does.
# Both are POSIX, as is /bin/sh: named directly, so a misspelt name fails at import.
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
# The working directory is the process's: a job's ``cwd`` is entered around its spawn. With slots
# (``--concurrency``) several threads spawn, so every spawn holds this lock, those without a cwd too
# (they must not start in another job's). Uncontended, as with one slot, it costs about 0.1 us.
_SPAWN_LOCK = threading.Lock()
_inherited_closed = False  # ``_close_inherited_on_exec`` ran


class ShellRunner(CommandRunner):
    """Runs one command at a time for the worker (or the worker's slot) ``name``.

    While a command runs, ``<home>/running/<name>`` names its claim token and
    process group (rewritten in place for each command), so that if this
    worker is killed, the worker that recovers the job can kill the orphan.
    """

    def __init__(self, home: Path, channel: WakeChannel | LocalWaker | None = None, name: str = "",
                 store_url: str | None = None) -> None:
        self.home = Path(home).absolute()  # never relative: see working_directory.py
        self.channel = channel
        with contextlib.suppress(OSError):  # each attempt copes with a folder it cannot write
            (self.home / OUTPUT_FOLDER).mkdir(mode=0o700, parents=True, exist_ok=True)
        self._folders: dict[date | None, str] = {}
        self._devnull = os.open(os.devnull, os.O_RDONLY)
        # posix_spawn converts its environment on every call, and converting
        # os.environ (a Python-level mapping) costs about as much as the spawn
        # itself; nothing in a worker changes its environment, so one copy
        # is the base of every command's (``command_environment``).
        self._environ = job_environment(os.environ, store_url)
        self._store_url = store_url
        self._directories = WorkingDirectories()
        self._host = socket.gethostname()
        self._session: dict[str, Any] = {"setsid": True}
        _close_inherited_on_exec()
        self._running_path = self.home / "running" / name if name else None
        self._running_fd: int | None = None
        if self._running_path is not None:
            self._running_path.parent.mkdir(mode=0o700, exist_ok=True)
            self._running_fd = os.open(self._running_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

    def close(self) -> None:
        os.close(self._devnull)
        self._directories.close()
        if self._running_fd is not None:
            os.close(self._running_fd)
            self._running_fd = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._running_path)

    def start(self, job: Job, output_max: int = defaults.OUTPUT_MAX) -> RunningCommand:
        day = job.started_at.date() if job.started_at else None
        try:
            folder = self._folders.get(day) or self._folder(day)
        except OSError:  # the output folder is read-only or gone: the capture says so, the command runs
            folder = day_folder(self.home, day)
        # = output_files.attempt_path, from the folder cached per day (this runs for every job)
        path = f"{folder}/{file_name(job.id, job.attempts, job.lease_token or 'run')}"
        try:
            pipe, write_end = os.pipe()  # both close-on-exec: no other command inherits them
        except OSError as exc:  # out of file descriptors, say
            return NotStarted(f"could not open the output pipe: {exc.strerror or exc}")
        try:
            pid = self._spawn_job(job, write_end)
        except DirectoryUnusable as exc:
            os.close(pipe)
            return NotStarted(str(exc))
        # ValueError, TypeError: a stored env or cwd the domain would refuse (a NUL, not text)
        except (OSError, ValueError, TypeError) as exc:
            os.close(pipe)
            return NotStarted(f"could not start /bin/sh: {getattr(exc, 'strerror', None) or exc}")
        finally:
            os.close(write_end)  # the command holds it now; the pipe ends when the command's copies close
        if self._running_fd is not None:  # one write in place, no file created per command
            with contextlib.suppress(OSError):  # it only helps to kill an orphan: no reason to fail the job
                record = f"{job.lease_token} {pid} {_one_word(self._host)}".ljust(_RUNNING_WIDTH)
                os.pwrite(self._running_fd, record.encode(errors="replace"), 0)
        return ShellCommand(pid, OutputCapture(pipe, path, output_max), self.channel)

    def _spawn_job(self, job: Job, output: int) -> int:
        """The job's command in its directory (``DirectoryUnusable`` if this host has none such)."""
        environ = command_environment(self._environ, job, self._store_url)
        with _SPAWN_LOCK:
            if job.cwd is None:  # stored before jobs had a directory: where the worker runs
                return self._spawn(job.command, output, environ)
            host = job.history[-1].host if job.history else self._host
            with self._directories.entered(job.cwd, host):
                return self._spawn(job.command, output, environ)

    def _spawn(self, command: str, output: int, environ: Mapping[str, str]) -> int:
        """``/bin/sh -c command`` in a session of its own, stdin from /dev/null."""
        actions = [(os.POSIX_SPAWN_DUP2, self._devnull, 0), (os.POSIX_SPAWN_DUP2, output, 1),
                   (os.POSIX_SPAWN_DUP2, output, 2)]
        try:
            return os.posix_spawn(_SHELL, [_SHELL, "-c", command], environ, file_actions=actions,
                                  setsigdef=_DEFAULT_SIGNALS, **self._session)
        except NotImplementedError:  # no POSIX_SPAWN_SETSID here
            if "setpgroup" in self._session:
                raise
            self._session = {"setpgroup": 0}  # a process group of its own is what killpg needs
            return self._spawn(command, output, environ)

    def _folder(self, day: date | None) -> str:
        """The day's output folder, created once per worker and day.

        Looked up by date: formatting the day for every command cost more than
        the rest of the path.
        """
        folder = day_folder(self.home, day)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        self._folders[day] = folder
        return folder

    def reap(self, job: Job, token: str) -> None:
        """A SIGKILLed worker cannot stop its command: kill the orphaned group for it.

        Only a process that started before its record was written (the file's
        mtime) is the one the record names; a PID since reused is left alone.
        """
        for entry in _running_records(self.home / "running"):
            recorded_token, pid, written, host = entry
            if recorded_token != token or host not in (None, _one_word(self._host)):
                continue  # another job, or a command of another host sharing this home (NFS): its PID is not ours
            started = process_start_time(pid)
            if started is not None and started <= written + PID_FILE_SLACK_SECONDS:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


def job_environment(environ: Mapping[str, str], store_url: str | None) -> dict[str, str]:
    """The worker's environment as its jobs get it: never the store URL nor its password.

    ``QUEUECTL_DB`` and ``MONGO_URI`` are dropped whatever they hold, and so is
    any variable whose value holds the store URL's password (SPEC 9.1).
    """
    secrets = password_forms(store_url) if store_url else []
    kept = {}
    for name, value in environ.items():
        if name in STORE_URL_VARIABLES:
            continue
        if any(_holds(value, secret) for secret in secrets):
            log.warning("not passing %s to jobs: its value holds the store password", name)
            continue
        kept[name] = value
    return kept


def command_environment(base: Mapping[str, str], job: Job, store_url: str | None) -> dict[str, str]:
    """What one attempt's command gets: the worker's scrubbed environment, the job's ``env`` on top
    (scrubbed the same way: it cannot bring back a store variable), then ``QUEUECTL_JOB_ID``,
    ``QUEUECTL_ATTEMPT`` and ``QUEUECTL_QUEUE``."""
    environ = dict(base)
    if job.env:
        environ.update(job_environment(job.env, store_url))
    environ.update(job_variables(job.id, job.attempts, job.queue))
    return environ


def _holds(value: str, secret: str) -> bool:
    """A short password (see ``SECRET_SEARCH_MIN``) counts only alone or as ``:password@``."""
    if len(secret) >= SECRET_SEARCH_MIN:
        return secret in value
    return value == secret or f":{secret}@" in value


def _close_inherited_on_exec() -> None:
    """Mark every descriptor above 2 that this process inherited close-on-exec.

    Popen closes them all in the child; posix_spawn leaves that to the
    close-on-exec flag, which Python's files and sockets, SQLite's files and
    pidfds all carry already. Only what was inherited from whoever started the
    worker (a pipe of the launching shell, say) may lack it. Once per process:
    a worker with slots builds a runner per slot, and what it opened since is
    close-on-exec already.
    """
    global _inherited_closed
    if _inherited_closed:
        return
    _inherited_closed = True
    with contextlib.suppress(OSError):
        for name in os.listdir("/dev/fd"):
            if int(name) > 2:
                with contextlib.suppress(OSError):  # the listing's own descriptor, gone by now
                    os.set_inheritable(int(name), False)


def _running_records(folder: Path) -> list[tuple[str, int, float, str | None]]:
    """(token, PID, written, host) of each record; host None in a record written before hosts were."""
    records = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError, ValueError):
                with open(entry.path, encoding="utf-8", errors="replace") as handle:
                    token, pid, *host = handle.read().split()
                if len(host) <= 1:
                    records.append((token, int(pid), entry.stat().st_mtime, host[0] if host else None))
    return records


def _one_word(host: str) -> str:
    """The host name as one word of a running record (a name set with spaces stays one word)."""
    return "".join(host.split()) or "-"
