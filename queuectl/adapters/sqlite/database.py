"""One SQLite database: the engine, its per-connection set-up and transactions.

Transactions follow SQLAlchemy's documented recipe for pysqlite: the driver's
own transaction handling is switched off (``isolation_level = None``) and the
"begin" event emits ``BEGIN`` itself, so that a write transaction starts with
``BEGIN IMMEDIATE``. Taking the write lock up front means two processes never
both hold a read lock and then deadlock upgrading it; they queue on the busy
timeout instead. Reads use a plain (deferred) ``BEGIN``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.pool import StaticPool

from queuectl.domain.errors import StoreUnavailable

from . import schema

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 30.0
_WRITE = "queuectl_write"
_WAL_ATTEMPTS = 100


class SqliteDatabase:
    """Creates the engine at once; touches the disk only on first use."""

    def __init__(self, url: str) -> None:
        try:
            parsed = sa.engine.make_url(url)
        except exc.ArgumentError:
            raise StoreUnavailable(f"invalid SQLite URL '{url}': use sqlite:///PATH") from None
        database = parsed.database or ""
        self.path: Path | None = None if database in ("", ":memory:") else Path(database)
        self.label = str(self.path) if self.path else "sqlite:// (memory)"
        self.engine = self._create_engine(url, _busy_timeout(parsed))
        self._writer = self.engine.execution_options(**{_WRITE: True})
        self._ready = False
        self._ready_lock = threading.Lock()
        # In memory every caller shares one connection: one transaction at a time.
        self._serial: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.path is None else contextlib.nullcontext())
        self._gate = WriterGate(self.path) if self.path is not None else contextlib.nullcontext()

    def _create_engine(self, url: str, busy_timeout: float) -> sa.Engine:
        if self.path is None:
            engine = sa.create_engine("sqlite://", poolclass=StaticPool,
                                      connect_args={"check_same_thread": False})
        else:
            engine = sa.create_engine(url, connect_args={"timeout": busy_timeout})
        event.listen(engine, "connect", self._on_connect)
        event.listen(engine, "begin", _on_begin)
        return engine

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            if self.path is not None:
                _use_wal(cursor)
            # NORMAL in WAL mode survives any process crash; only an OS crash
            # or power loss may roll back the last transactions.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    # -- transactions ------------------------------------------------------
    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A deferred transaction: a consistent snapshot, no write lock."""
        with self._transaction(self.engine) as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction, committed when the block ends."""
        with self._transaction(self._writer, self._gate) as conn:
            yield conn

    @contextlib.contextmanager
    def raw_write(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` on the pool's own DBAPI connection (the worker's hot path).

        The same pooled connection and set-up as ``write``, without SQLAlchemy's
        per-statement execution layer; committed when the block ends.
        """
        with translate_errors(self.label):
            self._ensure_ready()
            with self._serial, self._gate:
                pooled = self.engine.raw_connection()
                try:
                    driver = pooled.driver_connection
                    driver.execute("BEGIN IMMEDIATE")
                    try:
                        yield driver
                    except BaseException:
                        driver.execute("ROLLBACK")
                        raise
                    driver.execute("COMMIT")
                finally:
                    pooled.close()  # back to the pool

    @contextlib.contextmanager
    def _transaction(self, engine: sa.Engine, gate: contextlib.AbstractContextManager[Any]
                     = contextlib.nullcontext()) -> Iterator[sa.Connection]:
        with translate_errors(self.label):
            self._ensure_ready()
            with self._serial, gate, engine.begin() as conn:
                yield conn

    def close(self) -> None:
        self.engine.dispose()

    # -- first use ---------------------------------------------------------
    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                self._prepare_file()
                self._create_schema()
                self._ready = True

    def _prepare_file(self) -> None:
        """The parent directory and the file itself, owner-only (SQLite gives
        the -wal and -shm files the database file's permissions)."""
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as error:
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {error.strerror}") from None

    def _create_schema(self) -> None:
        with self._serial, self.engine.begin() as conn:
            version = conn.exec_driver_sql("PRAGMA user_version").scalar()
        if version is not None and version >= schema.SCHEMA_VERSION:
            return
        with self._serial, self._writer.begin() as conn:
            schema.upgrade(conn)
            for statement in schema.create_statements():
                conn.execute(statement)
            conn.exec_driver_sql(f"PRAGMA user_version = {int(schema.SCHEMA_VERSION)}")
        log.debug("created the queuectl schema in %s", self.label)


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
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:
            self._threads.release()
            raise

    def __exit__(self, *_exc: Any) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _busy_timeout(url: sa.engine.URL) -> float:
    """How long a transaction waits for another process's lock: ``?timeout=S`` or 30 s."""
    try:
        return float(url.query.get("timeout", BUSY_TIMEOUT_SECONDS))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StoreUnavailable(f"invalid SQLite timeout '{url.query['timeout']}': use seconds") from None


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the database to WAL (a lasting property of the file; once set this
    is a read).

    The switch needs a moment when no other connection holds a lock, and SQLite
    does not wait for one (the busy handler is not used), so processes opening
    a brand-new file together can be refused. Then wait for the lock holder
    with ``BEGIN IMMEDIATE`` (which does use the busy timeout) and try again.
    """
    for _ in range(_WAL_ATTEMPTS):
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("ROLLBACK")
    raise sqlite3.OperationalError("database is locked (cannot switch it to WAL mode)")


def _on_begin(conn: sa.Connection) -> None:
    immediate = conn.get_execution_options().get(_WRITE, False)
    # Straight to the driver: the hot paths open a transaction per call, and
    # going through exec_driver_sql costs as much as the BEGIN itself.
    conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextlib.contextmanager
def translate_errors(label: str) -> Iterator[None]:
    """Driver failures leave the adapter as one-line ``StoreUnavailable`` errors.

    ``IntegrityError`` is left alone: the repositories turn it into domain errors.
    """
    try:
        yield
    except exc.IntegrityError:
        raise
    except (exc.DBAPIError, sqlite3.Error) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise StoreUnavailable(f"SQLite store {label} unavailable: {reason}") from None
