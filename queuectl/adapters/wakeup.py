"""Wake-ups for idle workers on the same host, with polling as the fallback.

Each worker listens on a Unix datagram socket in Linux's abstract namespace
and leaves a marker file named after it in ``<home>/wake/``. A process that
enqueued work sends one byte to every marker's socket after its commit, so a
waiting worker claims within milliseconds instead of at its next poll.
Signals wake the same wait (``signal.set_wakeup_fd``), so a stop request is
seen at once; SIGCONT too, so a worker paused (SIGSTOP, a suspended VM)
checks its lease the moment it continues, not at its next renewal. Where
abstract sockets are missing the worker simply polls.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
from pathlib import Path

from queuectl.domain.ports import Notifier, Waiter

log = logging.getLogger(__name__)


def _address_prefix(wake_dir: Path) -> str:
    """What every worker socket of one queue home starts with: its wake folder's
    device and inode (one per queue home on this host, whatever path reached it).

    (Not a hash of the path: hashlib loads OpenSSL, 3.5 MB in every worker.)
    """
    folder = os.stat(wake_dir)
    return f"\0queuectl-{folder.st_dev:x}-{folder.st_ino:x}-"


def _wake_dir(home: Path) -> Path:
    return Path(home) / "wake"


class WakeChannel(Waiter):
    """The idle wait of one worker process: wakes on a datagram or a signal."""

    def __init__(self, home: Path, name: str) -> None:
        self.home, self.name = Path(home), name
        self._signal_r, self._signal_w = socket.socketpair()
        for end in (self._signal_r, self._signal_w):
            end.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._signal_w.fileno(), warn_on_full_buffer=False)
        self._previous_cont = signal.signal(signal.SIGCONT, _wake_only)
        self._sock: socket.socket | None = None
        self._marker = _wake_dir(self.home) / name
        try:
            self._marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            address = (_address_prefix(self._marker.parent) + name).encode()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(address)
            except OSError:
                sock.close()
                raise
            sock.setblocking(False)
            self._sock = sock
            self._marker.touch(mode=0o600)
        except OSError as exc:  # not Linux, or no abstract namespace: poll only
            log.info("wake-ups unavailable (%s); polling only", exc)

    @property
    def signal_fd(self) -> int:
        return self._signal_r.fileno()

    def fds(self) -> list[int]:
        return [fd for fd in (self.signal_fd, self._sock.fileno() if self._sock else None) if fd is not None]

    def wait(self, seconds: float) -> None:
        ready, _, _ = select.select(self.fds(), [], [], max(0.0, seconds))
        self.drain(ready)

    def drain(self, ready: list[int]) -> None:
        for end in (self._signal_r, self._sock):
            if end is not None and end.fileno() in ready:
                try:
                    while end.recv(512):
                        pass
                except (BlockingIOError, OSError):
                    pass

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        signal.signal(signal.SIGCONT, self._previous_cont)
        self._marker.unlink(missing_ok=True)
        for end in (self._sock, self._signal_r, self._signal_w):
            if end is not None:
                end.close()


def _wake_only(_signum: int, _frame: object) -> None:
    """A handler that does nothing: its signal only writes to the wake-up fd."""


def notify_workers(home: Path | str) -> int:
    """Wake every idle worker of this home on this host; returns how many were reached."""
    folder = _wake_dir(Path(home))
    try:
        names = os.listdir(folder)
        prefix = _address_prefix(folder)
    except OSError:
        return 0
    reached = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for name in names:
            try:
                sock.sendto(b"!", (prefix + name).encode())
                reached += 1
            except (ConnectionRefusedError, FileNotFoundError):
                (folder / name).unlink(missing_ok=True)  # its worker is gone
            except OSError:
                continue  # buffer full: that worker is already awake
    return reached


class WakeNotifier(Notifier):
    """Wakes this host's idle workers of one queue home."""

    def __init__(self, home: Path | str) -> None:
        self.home = Path(home)

    def jobs_changed(self) -> None:
        notify_workers(self.home)
