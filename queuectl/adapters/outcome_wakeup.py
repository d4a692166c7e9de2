"""Same-host wake-ups for ``wait`` (and ``logs --follow``) when jobs reach a final state.

Each waiting process listens on its own Unix datagram socket in
``<home>/wake/waiters/`` (mode 0600 in a 0700 folder, like the workers' sockets
in ``<home>/wake/``, which this folder keeps apart: an enqueue does not wake a
waiter and an outcome does not wake an idle worker). After a worker records a
final outcome, and after ``cancel``, the process sends each socket there one
datagram naming the jobs, one ``queue<TAB>id`` line each; the waiter then reads
the store only when a job it waits for is named. With no waiter the cost of an
outcome is one failed ``open`` of the folder. Where Unix sockets are missing,
waiting simply polls.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import time
import uuid
from pathlib import Path
from typing import Sequence

from queuectl.domain.ports import Finished, OutcomeWaiter

from .wakeup import SUFFIX, WAITERS, _address, _open_own_folder, _wake_dir

log = logging.getLogger(__name__)

_RECEIVE_MAX = 65536


def waiters_dir(home: Path | str) -> Path:
    return _wake_dir(Path(home)) / WAITERS


def decode(datagram: bytes) -> list[Finished]:
    """The jobs a report names; a line that is not ``queue<TAB>id`` is skipped."""
    found = []
    for line in datagram.decode("utf-8", "replace").splitlines():
        queue, tab, job_id = line.partition("\t")
        if tab and queue and job_id:
            found.append(Finished(job_id, queue))
    return found


class OutcomeWaitChannel(OutcomeWaiter):
    """One waiting process's socket; without one (no Unix sockets), a plain sleep."""

    def __init__(self, home: Path | str) -> None:
        self._path = waiters_dir(home) / f"{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        try:
            self._sock: socket.socket | None = self._listen()
        except OSError as exc:
            log.info("wake-ups unavailable (%s); polling only", exc)
            self._sock = None

    def _listen(self) -> socket.socket:
        os.close(_open_own_folder(self._path.parent.parent))  # <home>/wake, owner-only as the workers make it
        folder_fd = _open_own_folder(self._path.parent)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(_address(self._path.parent, folder_fd, self._path.name))
            os.chmod(self._path.name, 0o600, dir_fd=folder_fd)
            sock.setblocking(False)
            return sock
        except OSError:
            sock.close()
            raise
        finally:
            os.close(folder_fd)

    def wait(self, seconds: float) -> list[Finished]:
        if self._sock is None:
            time.sleep(max(0.0, seconds))
            return []
        ready, _, _ = select.select([self._sock], [], [], max(0.0, seconds))
        return self._receive() if ready else []

    def _receive(self) -> list[Finished]:
        found: list[Finished] = []
        while True:
            try:
                datagram = self._sock.recv(_RECEIVE_MAX) if self._sock else b""
            except (BlockingIOError, OSError):
                return found
            found.extend(decode(datagram) or [Finished.UNKNOWN])  # a bare wake-up: some job, read to see

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._path.unlink(missing_ok=True)
            self._sock = None
