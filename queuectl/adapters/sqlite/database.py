"""One SQLite database: its connections, their set-up, and transactions.

Every query runs on the stdlib driver's own connection (one per thread) in a
transaction of ``read`` or ``write``: the hot paths' fixed SQL (``hot_path.py``,
``deletion.py``, ``settings_workers.py``, the operators' listings and counts in
``queries.py``) and the ``stats`` aggregates, which SQLAlchemy Core builds and
compiles (``core.py``) but never executes. So a worker, an ``enqueue`` or a
``status`` never imports SQLAlchemy (about 0.25 s of start-up and
23 MB of memory per process on the machines we measured), and there is one
transaction and one error path for both.

The driver's own transaction handling is off (``isolation_level = None``) and
we emit ``BEGIN`` ourselves, so that a write transaction starts with ``BEGIN
IMMEDIATE``. Taking the write lock up front means two processes never both hold
a read lock and then deadlock upgrading it. Reads use a plain (deferred)
``BEGIN``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from queuectl.domain.errors import StoreLost, StoreUnavailable

from .location import empty_database, locate, parse_url
from .tables import ADDED_COLUMNS, SCHEMA_VERSION, add_column_statement, create_statements

log = logging.getLogger(__name__)

_WAL_ATTEMPTS = 100
FILE_CHECK_SECONDS = 1.0  # how often a worker checks that its file is still the one at its path


class _Connection(sqlite3.Connection):
    """A driver connection that can be weakly referenced (so ``close`` finds them all)."""


class SqliteDatabase:
    """Parses the URL at once; touches the disk only on first use."""

    def __init__(self, url: str, home_store: bool = False, one_connection: bool = False) -> None:
        """``one_connection``: every thread shares one connection, one transaction at a time (a
        worker's slots: SQLite has one writer anyway, and each connection of its own costs a
        thread some 150 KB of schema and page cache; 32 slots made a worker 6 MB larger)."""
        self.path, self._busy_timeout = parse_url(url)
        # The queue home's own file: a read of it while missing sees an empty
        # store, and a write creates the home. Any other file must exist to be
        # read, and its folder to be written.
        self._home_store = home_store
        self.label = str(self.path) if self.path else "sqlite:// (memory)"
        if self.path is not None and not self.path.is_absolute():
            # Fixed now: a worker's slots (``--concurrency``) open connections from their threads while
            # another thread may be in a job's directory for its spawn (``working_directory.py``).
            with contextlib.suppress(OSError):  # the directory is gone: the path stays as given
                self.path = self.path.absolute()
        self._local = threading.local()
        self._opened: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._shared: _Connection | None = None  # in memory (or ``one_connection``) every caller shares one
        self._one_connection = one_connection or self.path is None
        self._ready = False
        self._ready_lock = threading.Lock()
        self._open_lock = threading.Lock()
        # In memory or with ``one_connection``, one transaction at a time (they share the connection).
        self._serial: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self._one_connection else contextlib.nullcontext())
        self._gate = WriterGate(self.path) if self.path is not None else contextlib.nullcontext()
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file first opened
        self._checked_at = 0.0

    # -- connections -------------------------------------------------------
    def _open(self) -> _Connection:
        # mode=rw: SQLite itself never creates a file; only a write does (``_locate``).
        target = f"file:{quote(str(self.path))}?mode=rw" if self.path else ":memory:"
        conn = sqlite3.connect(target, timeout=self._busy_timeout, uri=self.path is not None,
                               isolation_level=None, check_same_thread=False, factory=_Connection)
        try:
            if self.path is not None:
                _use_wal(conn)
            # NORMAL in WAL mode survives any process crash; only an OS crash
            # or power loss may roll back the last transactions.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        self._opened.add(conn)
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's driver connection (the one shared connection in memory or with ``one_connection``)."""
        if self._one_connection:
            with self._open_lock:
                if self._shared is None:
                    self._shared = self._open()
            return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    # -- transactions ------------------------------------------------------
    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A deferred transaction on this thread's connection: a consistent snapshot."""
        with translate_errors(self.label):
            ready = self._ensure_ready(write=False)
        if not ready:  # the missing home store: an empty one
            with contextlib.closing(empty_database()) as conn:
                yield conn
            return
        with self._transaction("BEGIN", contextlib.nullcontext()) as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` on this thread's connection, committed when the block ends."""
        with self._transaction("BEGIN IMMEDIATE", self._gate, prepare=True) as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, begin: str, gate: contextlib.AbstractContextManager[Any],
                     prepare: bool = False) -> Iterator[sqlite3.Connection]:
        """The one transaction of every query; ``prepare``: create the file and schema first if need be."""
        with translate_errors(self.label):
            if prepare:
                self._ensure_ready(write=True)
            with self._serial, gate:
                conn = self.connection()
                _rollback(conn)  # a transaction a failed COMMIT left open would refuse every BEGIN
                conn.execute(begin)
                try:
                    yield conn
                except BaseException:
                    _rollback(conn)
                    raise
                try:
                    conn.execute("COMMIT")
                except BaseException:  # disk full, say: nothing of it is kept
                    _rollback(conn)
                    raise

    def create(self) -> None:
        """Create the file (in an existing folder) and its schema if they are missing."""
        with translate_errors(self.label):
            self._ensure_ready(write=True)

    def close(self) -> None:
        for conn in list(self._opened):
            conn.close()
        self._opened.clear()
        self._shared = None
        self._local = threading.local()

    # -- first use ---------------------------------------------------------
    def _ensure_ready(self, write: bool) -> bool:
        """Open the file (a write creates it) and its schema; False: a missing home store, read."""
        if self._ready:
            return True
        with self._ready_lock:
            if not self._ready:
                if self.path is not None:
                    opened = locate(self.path, write, self._home_store)
                    if opened is None:
                        return False
                    self._identity = (opened.st_dev, opened.st_ino)  # check_file compares the path with it
                self._create_schema()
                self._ready = True
        return True

    def check_file(self) -> None:
        """``StoreLost`` when the file at the path is not the one this process opened (deleted
        or replaced): every other process now sees another store. At most once a second."""
        if self._identity is None or time.monotonic() < self._checked_at + FILE_CHECK_SECONDS:
            return
        self._checked_at = time.monotonic()
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            raise StoreLost(f"the SQLite store {self.path} was deleted while this worker used it;"
                            " stopping (start the worker again to use a new store there)") from None
        except OSError:
            return  # unreadable for a moment: the next transaction will tell
        if (now.st_dev, now.st_ino) != self._identity:
            raise StoreLost(f"the SQLite store {self.path} was replaced by another file while this worker"
                            " used it; stopping (start the worker again to use the new file)")

    def _create_schema(self) -> None:
        """Create or upgrade the schema when the file needs it, in one write transaction.

        The DDL (``tables.py``) is idempotent: processes opening a new file together all succeed.
        """
        with self._serial:
            version = self.connection().execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        with self._transaction("BEGIN IMMEDIATE", self._gate) as conn:
            _add_missing_columns(conn)
            for statement in create_statements():
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(SCHEMA_VERSION)}")
        log.debug("created the queuectl schema in %s", self.label)


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Add the columns an older file lacks (before the indexes that use them are created)."""
    for table, column in ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if present and column not in present:
            conn.execute(add_column_statement(table, column))


class WriterGate:
    """One writer at a time across every queuectl process of a host, via ``flock``.

    Two processes asking SQLite for the write lock at once make the loser
    poll: SQLite's busy handler sleeps 1, 2, 5... ms between tries, long
    against a transaction of a fraction of a millisecond. Queued on a lock
    file instead, the next writer is woken by the kernel the moment the lock
    is free. SQLite's own locking still guards against every other client.
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + "-lock")
        self._fd: int | None = None
        self._threads = threading.Lock()

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._fd is None:
                # O_NOFOLLOW: never create a file where a link planted beside the store points
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as error:
            self._threads.release()
            raise StoreUnavailable(f"SQLite store lock {self.path} unavailable: {error.strerror or error}") from None

    def __exit__(self, *_exc: Any) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the database to WAL (a lasting property of the file; once set this
    is a read).

    The switch needs a moment when no other connection holds a lock, and SQLite
    does not wait for one (the busy handler is not used), so processes opening
    a brand-new file together can be refused. Then wait for the lock holder
    with ``BEGIN IMMEDIATE`` (which does use the busy timeout) and try again.
    """
    for _ in range(_WAL_ATTEMPTS):
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    raise sqlite3.OperationalError("database is locked (cannot switch it to WAL mode)")


def _rollback(conn: sqlite3.Connection) -> None:
    """End the open transaction, if any (SQLite may have rolled it back itself, on a full disk)."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


@contextlib.contextmanager
def translate_errors(label: str) -> Iterator[None]:
    """Driver failures leave the adapter as one-line ``StoreUnavailable`` errors.

    Integrity errors are left alone: the repositories turn them into domain errors.
    """
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.Error as error:
        raise StoreUnavailable(_unavailable(label, error)) from None


def _unavailable(label: str, error: BaseException) -> str:
    reason = (str(error).splitlines() or [type(error).__name__])[0]
    return f"SQLite store {label} unavailable: {reason}"
