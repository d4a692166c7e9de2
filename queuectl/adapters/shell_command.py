"""A started command: waiting for it while its output drains, killing its process group.

What ``ShellRunner.start`` hands the worker (``shell_runner.py`` starts it).
"""

from __future__ import annotations

import logging
import os
import signal
import time

from queuectl.domain import defaults
from queuectl.domain.commands import RunningCommand, RunResult

from .output_capture import OutputCapture
from .output_files import read_tail
from .readiness import readable
from .wakeup import LocalWaker, WakeChannel

log = logging.getLogger("queuectl.adapters.shell_runner")

# Once the shell has exited, how long the drain thread may take to move what is left
# (more only when a background child still holds the pipe: it drains on).
LAST_OUTPUT_SECONDS = 0.5
_DRAIN_READS = 64  # reads the worker's thread makes at the exit before a thread takes over


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


class ShellCommand(RunningCommand):
    def __init__(self, pid: int, capture: OutputCapture, channel: WakeChannel | LocalWaker | None) -> None:
        self.pid, self.capture, self.channel = pid, capture, channel
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._pidfd = None
            capture.drain_in_background()  # this thread polls for the exit instead

    def wait(self, seconds: float) -> RunResult | None:
        if self._pidfd is None:
            status = self._reap(min(seconds, 0.2))
        else:
            status = self._watch(seconds)
        if status is None:
            self.capture.drain_in_background()  # the worker is off to other things meanwhile
            return None
        exit_code, error = describe_exit(os.waitstatus_to_exitcode(status))
        return self._finish(exit_code, error)

    def _watch(self, seconds: float) -> int | None:
        """Move output until the shell exits (its wait status), a wake-up, or ``seconds`` pass."""
        capture, pidfd = self.capture, self._pidfd
        wake_fds = self.channel.fds() if self.channel else []
        deadline = time.monotonic() + seconds
        while True:
            moving = not capture.ended and capture.thread is None
            ready = readable([pidfd, capture.pipe, *wake_fds] if moving else [pidfd, *wake_fds], seconds)
            if moving and capture.pipe in ready:
                capture.read()
            if pidfd in ready:
                return os.waitpid(self.pid, 0)[1]
            if self.channel:
                self.channel.drain(ready)
            if not ready or any(fd in ready for fd in wake_fds):
                return None  # time is up, or woken (a cancel, say)
            seconds = deadline - time.monotonic()
            if seconds <= 0:
                return None

    def kill(self, reason: str) -> RunResult:
        self.capture.drain_in_background()
        self._signal_group(signal.SIGTERM)
        status = self._reap(defaults.KILL_GRACE_SECONDS)
        self._signal_group(signal.SIGKILL)  # whatever ignored TERM, background children too
        if status is None:
            status = os.waitpid(self.pid, 0)[1]
        exit_code, _ = describe_exit(os.waitstatus_to_exitcode(status))
        return self._finish(exit_code, reason)

    def _reap(self, seconds: float) -> int | None:
        """The shell's wait status once it has exited, within ``seconds``; None if it still runs."""
        if self._pidfd is not None:
            ready = readable([self._pidfd], seconds)
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
        output = self._last_output()
        if self.capture.failure:  # a read-only or full folder: the result still counts
            output = _not_captured(f"{self.capture.path}: {self.capture.failure}") + output
        return RunResult(exit_code, error, output)

    def _last_output(self) -> str:
        """The output's tail once the shell has exited: what is still in the pipe first."""
        capture = self.capture
        if capture.thread is None:
            for _ in range(_DRAIN_READS):
                if capture.ended or not readable([capture.pipe], 0):
                    break
                capture.read()
            if capture.ended:
                return capture.tail_and_close()
            # A background child still holds the pipe: the shell's own output is
            # all in the file already; the child's goes on into it from a thread.
            capture.outlive_shell()
        else:
            capture.thread.join(LAST_OUTPUT_SECONDS)
            if not capture.ended:
                capture.outlive_shell()
        return read_tail(capture.path)


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
