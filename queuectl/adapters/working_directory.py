"""Where a job's command starts: its ``cwd`` (SPEC 9.1), entered for the length of one spawn.

``os.posix_spawn`` (the worker's hot path, see ``shell_runner.py``) has no
working-directory action in Python, and a shell wrapper doing the ``cd``
would cost a second exec per job. So the worker itself enters the job's
directory around the spawn (the child inherits it) and at once returns to its
own, held open as a descriptor. This is safe because nothing else in a worker
resolves a relative path meanwhile: the thread entering is in the spawn, and
other threads hold the spawn lock (``shell_runner._SPAWN_LOCK``) for theirs; the
output threads write to absolute paths (the queue home is absolute) through
descriptors already open; a relative SQLite path is made absolute when the store
is built (``sqlite/database.py``), before any slot's thread opens a connection.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterator

log = logging.getLogger(__name__)

_DIRECTORY_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC


class DirectoryUnusable(Exception):
    """The job's directory cannot be entered on this host; the message is the attempt's error."""


def unusable_message(cwd: str, host: str, error: OSError) -> str:
    """``working directory '<dir>' not found on <host>`` (missing, or not a directory), or why else not."""
    if isinstance(error, (FileNotFoundError, NotADirectoryError)):
        return f"working directory '{cwd}' not found on {host}"
    if isinstance(error, PermissionError):
        return f"working directory '{cwd}' not accessible on {host} (permission denied)"
    return f"working directory '{cwd}' not usable on {host}: {error.strerror or error}"


class WorkingDirectories:
    """Enters a job's directory and comes back to the worker's own (which may since have gone)."""

    def __init__(self) -> None:
        try:
            self._own: int | None = os.open(".", _DIRECTORY_FLAGS)
        except OSError:  # the worker's directory is already gone: come back to / then
            self._own = None

    @contextlib.contextmanager
    def entered(self, cwd: str, host: str) -> Iterator[None]:
        try:
            os.chdir(cwd)
        except OSError as error:
            raise DirectoryUnusable(unusable_message(cwd, host, error)) from None
        try:
            yield
        finally:
            self._return()

    def _return(self) -> None:
        try:
            if self._own is not None:
                os.fchdir(self._own)
                return
        except OSError as error:
            log.error("could not return to the worker's directory (%s): working in / now", error.strerror)
        os.chdir("/")

    def close(self) -> None:
        if self._own is not None:
            os.close(self._own)
            self._own = None
