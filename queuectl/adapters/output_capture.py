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

from .output_files import tail

CHUNK_BYTES = 64 * 1024  # a pipe's whole default capacity per read
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


class OutputCapture:
    def __init__(self, pipe: int, path: str, limit: int) -> None:
        self.pipe, self.path, self.limit = pipe, path, limit
        self.fd: int | None = None  # the file, created at the first byte
        self.kept = self.dropped = 0
        self.ended = False  # every writer has closed the pipe, and it is closed here too
        self.thread: threading.Thread | None = None
        self._newline = True  # the kept output ends a line (where the marker may start)

    def read(self) -> None:
        """Move one chunk (waits for one if the pipe is empty); at the end, close the pipe."""
        data = os.read(self.pipe, CHUNK_BYTES)
        if not data:
            self.ended = True
            os.close(self.pipe)
            if self.dropped:
                self._write(_marker(self.limit, self.dropped, self._newline).encode())
            return
        room = self.limit - self.kept
        if room >= len(data):
            self._keep(data)
        else:
            if room > 0:
                self._keep(data[:room])
            self.dropped += len(data) - max(room, 0)

    def _keep(self, data: bytes) -> None:
        written = self._write(data)
        self.kept += written
        self.dropped += len(data) - written
        if written:
            self._newline = data[written - 1:written] == b"\n"

    def _write(self, data: bytes) -> int:
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
            return os.write(self.fd, data)
        except OSError:
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

    def _drain(self) -> None:
        try:
            while not self.ended:
                self.read()
        except OSError:  # the pipe itself failed: nothing more can come out of it
            self.ended = True
            os.close(self.pipe)
        finally:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


def _marker(limit: int, dropped: int, newline: bool) -> str:
    return f"{'' if newline else chr(10)}[queuectl: output cut at {_size(limit)}; {_size(dropped)} dropped]\n"


def _size(count: int) -> str:
    value, unit = float(count), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{count} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"
