"""Wake-ups for idle workers on the same host, with polling as the fallback.

Each worker listens on a Unix datagram socket ``<home>/wake/<worker>.sock``
(mode 0600, in a folder of mode 0700 inside the owner-only queue home, so no
other user can reach it). A process that enqueued work sends one byte to every
socket there after its commit, so a waiting worker claims within milliseconds
instead of at its next poll. Signals wake the same wait
(``signal.set_wakeup_fd``), so a stop request is seen at once; SIGCONT too,
so a worker paused (SIGSTOP, a suspended VM) checks its lease the moment it
continues, not at its next renewal. Where Unix sockets are missing the worker
simply polls. A networked store adds wake-ups from other hosts (``remote_wakeup.py``:
a MongoDB change stream), selected on together with these.

The waiters of ``wait`` and ``logs --follow`` listen apart, in ``<home>/wake/waiters/``
(``outcome_wakeup.py``): ``notify_waiters`` tells them which jobs reached a final state.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import stat
from pathlib import Path
from typing import Sequence

from queuectl.domain.ports import Finished, Notifier, Waiter

from .readiness import readable
from .remote_wakeup import RemoteWakeups

log = logging.getLogger(__name__)

SUFFIX = ".sock"
WAITERS = "waiters"  # <home>/wake/waiters: the sockets of ``wait`` and ``logs --follow`` (outcome_wakeup.py)
_SUN_PATH_MAX = 107  # bytes of a socket path, less the final NUL


def _wake_dir(home: Path) -> Path:
    return Path(home) / "wake"


def _address(folder: Path | str, folder_fd: int, name: str) -> str:
    """``folder/name``, or the same file reached through ``folder_fd`` when the path is too long to bind."""
    path = f"{folder}/{name}"
    return path if len(os.fsencode(path)) <= _SUN_PATH_MAX else f"/proc/self/fd/{folder_fd}/{name}"


def _open_own_folder(folder: Path) -> int:
    """Create ``folder`` (mode 0700) if needed and open it; refuse one that is not ours."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            raise PermissionError(f"{folder} belongs to another user")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    except OSError:
        os.close(fd)
        raise
    return fd


class WakeChannel(Waiter):
    """The idle wait of one worker process: wakes on a datagram, a signal or a wake-up from another host."""

    def __init__(self, home: Path, name: str, remote: RemoteWakeups | None = None) -> None:
        self.home, self.name = Path(home), name
        self._signal_r, self._signal_w = socket.socketpair()
        # Wake-ups from other hosts (``remote_wakeup.py``) arrive on a pair of their own, written
        # from the watch's thread; ``fds()`` includes it, so they cut any wait of this worker short.
        self._remote_r, self._remote_w = socket.socketpair() if remote is not None else (None, None)
        # ``wake``: from this process's own threads (a slot that finished its job, ``domain/slots.py``).
        self._local_r, self._local_w = socket.socketpair()
        for end in (self._signal_r, self._signal_w, self._remote_r, self._remote_w, self._local_r, self._local_w):
            if end is not None:
                end.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._signal_w.fileno(), warn_on_full_buffer=False)
        self._previous_cont = signal.signal(signal.SIGCONT, _wake_only)
        self._path = _wake_dir(self.home) / (name + SUFFIX)
        try:
            self._sock: socket.socket | None = self._listen()
        except OSError as exc:  # no Unix sockets, or the folder is unusable: poll only
            log.info("wake-ups unavailable (%s); polling only", exc)
            self._sock = None
        self._remote = remote
        if remote is not None:
            remote.start(self._remote_wake)

    def _remote_wake(self) -> None:
        """Called from the watch's thread: one byte wakes ``wait`` (a full buffer is awake already)."""
        try:
            self._remote_w.send(b"!")
        except OSError:
            pass

    def _listen(self) -> socket.socket:
        folder_fd = _open_own_folder(self._path.parent)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            _unlink(self._path.name, folder_fd)  # a left-over of a killed worker of the same name
            sock.bind(_address(self._path.parent, folder_fd, self._path.name))
            os.chmod(self._path.name, 0o600, dir_fd=folder_fd)
            sock.setblocking(False)
            return sock
        except OSError:
            sock.close()
            raise
        finally:
            os.close(folder_fd)

    @property
    def signal_fd(self) -> int:
        return self._signal_r.fileno()

    def fds(self) -> list[int]:
        ends = (self._signal_r, self._sock, self._remote_r, self._local_r)
        return [end.fileno() for end in ends if end is not None]

    def wait(self, seconds: float) -> bool:
        """True when woken from outside this process (a datagram, a signal, another host); False when
        the time ran out or only ``wake`` was called."""
        ready, _, _ = select.select(self.fds(), [], [], max(0.0, seconds))
        self.drain(ready)
        return any(fd != self._local_r.fileno() for fd in ready)

    def wake(self) -> None:
        """Cut the wait short, from any thread of this process (a full buffer is awake already)."""
        try:
            self._local_w.send(b"!")
        except OSError:
            pass

    def drain(self, ready: list[int]) -> None:
        for end in (self._signal_r, self._sock, self._remote_r, self._local_r):
            if end is not None and end.fileno() in ready:
                try:
                    while end.recv(512):
                        pass
                except (BlockingIOError, OSError):
                    pass

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
        signal.set_wakeup_fd(self._previous_fd)
        signal.signal(signal.SIGCONT, self._previous_cont)
        if self._sock is not None:
            self._path.unlink(missing_ok=True)
        for end in (self._sock, self._signal_r, self._signal_w, self._remote_r, self._remote_w, self._local_r,
                    self._local_w):
            if end is not None:
                end.close()


class LocalWaker(Waiter):
    """The wait of one slot's thread (``domain/slots.py``): woken only by ``wake``, from the dispatcher.

    What ``ShellCommand`` selects on while the slot's command runs, beside the command itself.
    """

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)

    def fds(self) -> list[int]:
        return [self._r.fileno()]

    def wait(self, seconds: float) -> bool:
        self.drain(readable(self.fds(), max(0.0, seconds)))
        return False

    def wake(self) -> None:
        try:
            self._w.send(b"!")
        except OSError:
            pass  # a full buffer: awake already

    def drain(self, ready: list[int]) -> None:
        if self._r.fileno() in ready:
            try:
                while self._r.recv(512):
                    pass
            except (BlockingIOError, OSError):
                pass

    def close(self) -> None:
        self._r.close()
        self._w.close()


def _wake_only(_signum: int, _frame: object) -> None:
    """A handler that does nothing: its signal only writes to the wake-up fd."""


def notify_workers(home: Path | str) -> int:
    """Wake every idle worker of this home on this host; returns how many were reached."""
    folder = _wake_dir(Path(home))
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return 0
    reached = 0
    try:
        names = [name for name in os.listdir(folder_fd) if name.endswith(SUFFIX)]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            for name in names:
                reached += _send(sock, folder, folder_fd, name)
    finally:
        os.close(folder_fd)
    return reached


def _send(sock: socket.socket, folder: Path | str, folder_fd: int, name: str) -> int:
    try:
        sock.sendto(b"!", _address(folder, folder_fd, name))
        return 1
    except ConnectionRefusedError:  # its worker is gone
        _unlink(name, folder_fd)
    except OSError:
        pass  # gone meanwhile, or buffer full: that worker is already awake
    return 0


def _unlink(name: str, folder_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=folder_fd)
    except FileNotFoundError:
        pass


class WakeNotifier(Notifier):
    """Wakes this host's idle workers of one queue home."""

    def __init__(self, home: Path | str) -> None:
        self.home = Path(home)
        self._waiters = str(_wake_dir(self.home) / WAITERS)

    def jobs_changed(self) -> None:
        notify_workers(self.home)

    def jobs_finished(self, jobs: Sequence[Finished]) -> None:
        """Wake this host's ``wait``s (``outcome_wakeup``) for these final jobs."""
        notify_waiters(self._waiters, jobs)


# -- final outcomes, for the waiters in <home>/wake/waiters (outcome_wakeup.py listens) ------
DATAGRAM_MAX = 4096  # bytes of one report: a batch of outcomes takes several


def encode(jobs: Sequence[Finished]) -> list[bytes]:
    """The reports for ``jobs``, each datagram at most ``DATAGRAM_MAX`` bytes of whole lines."""
    datagrams, current = [], b""
    for job in jobs:
        line = f"{job.queue}\t{job.job_id}\n".encode()
        if current and len(current) + len(line) > DATAGRAM_MAX:
            datagrams.append(current)
            current = b""
        current += line
    return datagrams + [current] if current else datagrams


def notify_waiters(folder: str, jobs: Sequence[Finished]) -> int:
    """Tell every waiter listening in ``folder`` (``waiters_dir``) that ``jobs`` are final; returns how many
    were reached. Called after every final outcome: with no waiter it costs one failed ``open``."""
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # nobody has waited here yet
        return 0
    reached = 0
    try:
        names = [name for name in os.listdir(folder_fd) if name.endswith(SUFFIX)]
        if names and jobs:
            datagrams = encode(jobs)
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                for name in names:
                    reached += min(_send_all(sock, folder, folder_fd, name, datagrams), 1)
    finally:
        os.close(folder_fd)
    return reached


def _send_all(sock: socket.socket, folder: Path | str, folder_fd: int, name: str, datagrams: list[bytes]) -> int:
    sent = 0
    for datagram in datagrams:
        try:
            sock.sendto(datagram, _address(folder, folder_fd, name))
            sent += 1
        except ConnectionRefusedError:  # its waiter is gone
            _unlink(name, folder_fd)
            return sent
        except OSError:
            return sent + _send(sock, folder, folder_fd, name)  # buffer full: a bare wake-up still reads the store
    return sent
