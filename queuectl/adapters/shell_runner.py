"""Runs a job's command with ``/bin/sh -c`` in a process group of its own.

stdout and stderr go, combined and in the order written, to one file per
attempt under ``<home>/output/<job id>/``; the last 64 KiB are handed back for
the store. A kill (timeout, cancel, forced stop) signals the whole group, so
background children die with the shell.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
from pathlib import Path

from queuectl.domain.execution import CommandRunner, RunningCommand, RunResult
from queuectl.domain.model import Job
from queuectl.domain.ports import OUTPUT_TAIL_BYTES

from .processes import START_TIME_TOLERANCE, process_start_time
from .wakeup import WakeChannel

KILL_GRACE_SECONDS = 2.0


def output_dir(home: Path, job_id: str) -> Path:
    return Path(home) / "output" / job_id


def attempt_path(home: Path, job: Job, token: str) -> Path:
    """Where an attempt's output goes; a ``.pid`` file beside it while it runs."""
    return output_dir(home, job.id) / f"{job.attempts}-{token[:8]}.log"


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


def read_tail(path: Path, limit: int = OUTPUT_TAIL_BYTES) -> str:
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


class ShellCommand(RunningCommand):
    def __init__(self, process: subprocess.Popen, log_path: Path, channel: WakeChannel | None) -> None:
        self.process, self.log_path, self.channel = process, log_path, channel
        self.pid_path = log_path.with_suffix(".pid")
        self.pid_path.write_text(f"{process.pid} {process_start_time(process.pid) or 0}")
        try:
            self._pidfd: int | None = os.pidfd_open(process.pid)
        except (AttributeError, OSError):
            self._pidfd = None

    def wait(self, seconds: float) -> RunResult | None:
        if self._pidfd is None:
            try:
                self.process.wait(timeout=min(seconds, 0.2))
            except subprocess.TimeoutExpired:
                return None
        else:
            wake_fds = self.channel.fds() if self.channel else []
            ready, _, _ = select.select([self._pidfd, *wake_fds], [], [], seconds)
            if self.channel:
                self.channel.drain(ready)
            if self._pidfd not in ready:
                return None
            self.process.wait()
        exit_code, error = describe_exit(self.process.returncode)
        return self._finish(exit_code, error)

    def kill(self, reason: str) -> RunResult:
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        self._signal_group(signal.SIGKILL)  # whatever ignored TERM, background children too
        self.process.wait()
        exit_code, _ = describe_exit(self.process.returncode)
        return self._finish(exit_code, reason)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _finish(self, exit_code: int | None, error: str | None) -> RunResult:
        self.pid_path.unlink(missing_ok=True)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        return RunResult(exit_code, error, read_tail(self.log_path))


class ShellRunner(CommandRunner):
    def __init__(self, home: Path, channel: WakeChannel | None = None) -> None:
        self.home = Path(home)
        self.channel = channel
        (self.home / "output").mkdir(mode=0o700, parents=True, exist_ok=True)

    def start(self, job: Job) -> RunningCommand:
        output_dir(self.home, job.id).mkdir(mode=0o700, parents=True, exist_ok=True)
        log_path = attempt_path(self.home, job, job.lease_token or "run")
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            process = subprocess.Popen(["/bin/sh", "-c", job.command], stdin=subprocess.DEVNULL,
                                       stdout=fd, stderr=subprocess.STDOUT, start_new_session=True,
                                       close_fds=True)
        except OSError as exc:
            return NotStarted(f"could not start /bin/sh: {exc.strerror or exc}")
        finally:
            os.close(fd)
        return ShellCommand(process, log_path, self.channel)

    def reap(self, job: Job, token: str) -> None:
        """A SIGKILLed worker cannot stop its command: kill the orphaned group for it."""
        try:
            pid_text, started_text = attempt_path(self.home, job, token).with_suffix(".pid").read_text().split()
            pid, started = int(pid_text), float(started_text)
        except (OSError, ValueError):
            return  # not run on this host, or already finished
        start_time = process_start_time(pid)
        if start_time is not None and abs(start_time - started) <= START_TIME_TOLERANCE:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class NotStarted(RunningCommand):
    """The shell itself could not be started (no /bin/sh, out of processes...)."""

    def __init__(self, error: str) -> None:
        self.error = error

    def wait(self, seconds: float) -> RunResult | None:
        return RunResult(None, self.error)

    def kill(self, reason: str) -> RunResult:
        return RunResult(None, reason)
