"""One attempt's output on its way from the command's pipe into its file, capped.

At most ``limit`` bytes are kept; whatever comes after is still read (so the
command never blocks on a full pipe) and dropped, and once every writer has
closed the pipe a marker line says how much: ``[queuectl: output cut at 1.0
MiB; 1023.0 MiB dropped]``. A file that cannot be written (disk full, folder
gone) drops the output the same way: the command is never held up by it.

One thread at a time moves the output: the worker's own while it waits for
the command, then, once the command outlives that wait, a drain thread
(``drain_in_background``) until the end.
"""

from __future__ import annotations

import os
import threading
from collections import deque

from .output_files import tail
from .readiness import readable

CHUNK_BYTES = 64 * 1024  # a pipe's whole default capacity per read
# Background children that outlive their job's shell keep its pipe open; each is drained by a
# thread. At most this many such drains per worker: beyond it the oldest stops capturing (its
# pipe is closed, so a child still writing gets EPIPE), so a worker never runs out of threads or
# descriptors however many daemons its jobs leave behind.
MAX_ORPHAN_DRAINS = 32
_STOP_CHECK_SECONDS = 0.5
_orphans: deque["OutputCapture"] = deque()
_orphans_lock = threading.Lock()
_SPLICE = hasattr(os, "splice")  # Linux
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


class OutputCapture:
    def __init__(self, pipe: int, path: str, limit: int) -> None:
        self.pipe, self.path, self.limit = pipe, path, limit
        self.fd: int | None = None  # the file, created at the first byte
        self.kept = self.dropped = 0
        self.ended = False  # every writer has closed the pipe, and it is closed here too
        self.thread: threading.Thread | None = None
        self._stop = threading.Event()  # set when an orphaned drain must give up its pipe
        self._sink: int | None = None  # /dev/null, for what is dropped
        self.failure: str | None = None  # why the file could not be written, if it could not
        self._splice = _SPLICE

    def read(self) -> None:
        """Move one chunk (waits for one if the pipe is empty); at the end, close the pipe.

        The first chunk is read (a command that prints nothing gets no file);
        after it, the kernel moves the data (``splice``) without copying it
        through the worker, where it can.
        """
        if self.fd is not None and self._splice:
            moved = self._spliced()
            if moved is not None:
                if not moved:
                    self._end()
                return
        data = os.read(self.pipe, CHUNK_BYTES)
        if not data:
            self._end()
            return
        room = self.limit - self.kept
        keep = data if room >= len(data) else data[:max(room, 0)]
        written = self._write(keep) if keep else 0
        self.kept += written
        self.dropped += len(data) - written

    def _spliced(self) -> int | None:
        """Bytes moved by the kernel (0 at the end); None when it cannot: copy instead."""
        room = self.limit - self.kept
        try:
            if room > 0:
                moved = os.splice(self.pipe, self.fd, min(CHUNK_BYTES, room))
                self.kept += moved
            else:
                if self._sink is None:
                    self._sink = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
                moved = os.splice(self.pipe, self._sink, CHUNK_BYTES)
                self.dropped += moved
        except OSError:  # no splice for this file or system, or the disk is full
            self._splice = False
            return None
        return moved

    def _end(self) -> None:
        self.ended = True
        os.close(self.pipe)
        if self._sink is not None:
            os.close(self._sink)
            self._sink = None
        if self.dropped:
            self._write(_marker(self.limit, self.dropped, self._ends_line()).encode())

    def _ends_line(self) -> bool:
        """Whether the kept output ends a line (where the marker may start)."""
        try:
            return self.fd is None or self.kept == 0 or os.pread(self.fd, 1, self.kept - 1) == b"\n"
        except OSError:
            return True

    def _write(self, data: bytes) -> int:
        if self.failure is not None and self.fd is None:
            return 0  # the file could not be created: not tried again for every chunk
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            return os.write(self.fd, data)
        except OSError as exc:
            self.failure = self.failure or (exc.strerror or str(exc))
            return 0

    def tail_and_close(self) -> str:
        """The file's tail for the store; closes the file (the capture has ended)."""
        if self.fd is None:
            return ""
        try:
            return tail(self.fd)
        finally:
            os.close(self.fd)
            self.fd = None

    def drain_in_background(self) -> None:
        """Hand the pipe to a thread that reads it to the end (idempotent)."""
        if self.thread is None and not self.ended:
            self.thread = threading.Thread(target=self._drain, name="queuectl-output", daemon=True)
            self.thread.start()

    def outlive_shell(self) -> None:
        """The job's shell has exited but a background child still holds the pipe: drain on, counted
        among the worker's orphaned drains (the oldest beyond ``MAX_ORPHAN_DRAINS`` stops)."""
        self.drain_in_background()
        with _orphans_lock:
            _orphans.append(self)
            while len(_orphans) > MAX_ORPHAN_DRAINS:
                _orphans.popleft()._stop.set()

    def _drain(self) -> None:
        try:
            while not self.ended and not self._stop.is_set():
                if readable([self.pipe], _STOP_CHECK_SECONDS):
                    self.read()
            if not self.ended:  # stopped: the child keeps running, its output is no longer read
                self.ended = True
                os.close(self.pipe)
                if self._sink is not None:
                    os.close(self._sink)
        except OSError:  # the pipe itself failed: nothing more can come out of it
            self.ended = True
            os.close(self.pipe)
            if self._sink is not None:
                os.close(self._sink)
        finally:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            with _orphans_lock:
                if self in _orphans:
                    _orphans.remove(self)


def _marker(limit: int, dropped: int, newline: bool) -> str:
    return f"{'' if newline else chr(10)}[queuectl: output cut at {_size(limit)}; {_size(dropped)} dropped]\n"


def _size(count: int) -> str:
    value, unit = float(count), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{count} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"
