"""Wake-ups from other hosts: a store's own notification channel, watched in a thread.

The datagram wake-ups of ``wakeup.py`` reach the idle workers of one host. A
networked store can tell the workers of every host: MongoDB through a change
stream (``mongo/wakeups.py``), PostgreSQL through ``LISTEN``/``NOTIFY`` (the hook:
a ``StoreWatch`` whose ``_open`` connects and ``LISTEN``s, whose ``_next`` waits on
the connection's socket for a notification). ``WakeChannel`` starts one and
selects on its wake-ups together with the local ones, so a wake arrives from
either.

The watch never breaks a worker: it runs in a daemon thread, catches every
error, reopens with backoff after one (and wakes the worker then, as changes
made meanwhile were not seen), and stops for good, leaving the worker to poll
at ``poll_interval``, when the server cannot watch at all (``Unsupported``:
logged once). Polling goes on underneath in every case: the watch only cuts a
wait short.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable

log = logging.getLogger(__name__)

RETRY_MIN = 0.5  # seconds before reopening a watch that failed; doubles up to RETRY_MAX
RETRY_MAX = 30.0
OPEN_WAIT = 2.0  # seconds ``start`` waits for the first open, so a worker that is up is also listening


class Unsupported(Exception):
    """The server cannot watch (a standalone MongoDB): poll."""


class RemoteWakeups(ABC):
    """Tells a waiting worker that another host may have made a job due."""

    @abstractmethod
    def start(self, wake: Callable[[], None]) -> None:
        """Begin watching; ``wake()`` is called (from any thread) on each relevant change."""

    @abstractmethod
    def close(self) -> None:
        """Stop watching; never raises."""


class StoreWatch(RemoteWakeups):
    """A watch run in a daemon thread: ``_open`` a session, ``_next`` until it fails, reopen."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = False  # True while a session is open (tests and logs read it)

    # -- what a store provides ------------------------------------------------
    @abstractmethod
    def _open(self) -> Any:
        """A new session; raises ``Unsupported`` when the server cannot watch."""

    @abstractmethod
    def _next(self, session: Any) -> bool:
        """Wait a bounded while (a few seconds at most) for a change; True when one may have made a job due."""

    def _end(self, session: Any) -> None:
        """Close a session; errors are ignored by the caller."""
        session.close()

    # -- the thread -------------------------------------------------------------
    def start(self, wake: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=self._run, args=(wake,), name="queuectl-watch", daemon=True)
        self._thread.start()
        self._opened.wait(OPEN_WAIT)

    def close(self) -> None:
        self._stop.set()  # the thread ends after its current bounded wait; it is a daemon, nobody joins it

    def _run(self, wake: Callable[[], None]) -> None:
        pause, failed = RETRY_MIN, False
        while not self._stop.is_set():
            try:
                session = self._open()
            except Unsupported as error:
                log.info("no wake-ups from other hosts (%s): polling at poll_interval", error)
                break
            except Exception as error:  # noqa: BLE001 - an outage or anything else: retry later
                failed = self._failed(error, failed)
                self._opened.set()
                self._stop.wait(pause)
                pause = min(pause * 2, RETRY_MAX)
                continue
            if failed:
                log.info("watching for jobs from other hosts again")
                wake()  # what changed while the watch was down was not seen
            pause, failed = RETRY_MIN, False
            failed = self._listen(session, wake)
        self.listening = False
        self._opened.set()

    def _listen(self, session: Any, wake: Callable[[], None]) -> bool:
        """Wake on each change until stopped (False) or the session fails (True)."""
        self.listening = True
        self._opened.set()
        try:
            while not self._stop.is_set():
                if self._next(session):
                    wake()
            return False
        except Exception as error:  # noqa: BLE001
            return self._failed(error, False)
        finally:
            self.listening = False
            try:
                self._end(session)
            except Exception:  # noqa: BLE001
                pass

    def _failed(self, error: Exception, logged: bool) -> bool:
        if not logged and not self._stop.is_set():
            log.warning("watch for jobs from other hosts failed (%s): polling until it reopens", self._describe(error))
        return True

    def _describe(self, error: Exception) -> str:
        """One line for the log; a store whose errors may quote a password redacts it here."""
        text = str(error).strip()
        return text.splitlines()[0][:300] if text else type(error).__name__
