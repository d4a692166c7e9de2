"""One PostgreSQL database: a small pool of psycopg connections, transactions, locks and the schema.

SQLAlchemy's pool (``create_engine``; two connections and a few more under
load: a worker's loop and its heartbeat) hands out driver connections in
autocommit mode; every transaction is an explicit ``BEGIN`` ... ``COMMIT``,
as on SQLite, yielding a ``connection.Connection`` the shared SQL runs on.

Reads are ``REPEATABLE READ READ ONLY`` (one snapshot, as a SQLite read).
Writes are ``READ COMMITTED`` and take a transaction-scoped advisory lock:
shared by the workers' writes (claims skip each other's rows with ``SKIP
LOCKED``; outcomes and leases are fenced by their token), exclusive for the
operators' moves and pauses (``alone``), which so see and change the store
as if they were its only writer, exactly as SQLite's single writer does.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from queuectl.domain.errors import StoreUnavailable
from queuectl.domain.urls import redact_url, scrub

from .connection import Connection
from .schema import SCHEMA_VERSION, VERSION_TABLE, migration_statements

CONNECT_TIMEOUT_SECONDS = 4  # an unreachable server is one error line within 5 s
POOL_SIZE = 2  # a worker's loop and its heartbeat thread
POOL_OVERFLOW = 6
# How long a thread waits for a pooled connection when all are taken (a worker's slots share the pool):
# past it the call is an outage of the store, retried like one.
POOL_TIMEOUT_SECONDS = 30.0
CHANNEL = "queuectl_jobs"  # LISTEN on it to hear of jobs that became due (enqueue, retry, resume, ...)
NOTIFY = f"SELECT pg_notify('{CHANNEL}', current_schema())"


def driver_url(url: str) -> tuple[str, int]:
    """SQLAlchemy's URL for psycopg 3, and the connect timeout: the URL's, as libpq reads it
    (whole seconds, at least 2), or ours when it names none or none at all (0: wait forever)."""
    parts = urlsplit(url)
    timeout = dict(parse_qsl(parts.query)).get("connect_timeout")
    try:
        seconds = int(float(timeout)) if timeout is not None else CONNECT_TIMEOUT_SECONDS
    except ValueError:
        raise StoreUnavailable(f"invalid PostgreSQL store URL {redact_url(url)}: connect_timeout"
                               f" {timeout!r} is not a number of seconds") from None
    seconds = max(2, seconds) if seconds > 0 else CONNECT_TIMEOUT_SECONDS
    return urlunsplit(parts._replace(scheme="postgresql+psycopg")), seconds


class PostgresDatabase:
    """Parses the URL at once; connects on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.label = redact_url(url)
        self._driver_url, self.connect_timeout = driver_url(url)
        self._engine: Any = None
        self._engine_lock = threading.Lock()
        self._ready = False
        self._local = threading.local()
        self.lock_key = 0  # the advisory lock of this store's schema (``_create_schema``)

    # -- connections -------------------------------------------------------
    def _pool(self) -> Any:
        with self._engine_lock:
            if self._engine is None:
                import sqlalchemy as sa

                args = {"connect_timeout": self.connect_timeout, "autocommit": True}
                try:
                    self._engine = sa.create_engine(self._driver_url, pool_size=POOL_SIZE,
                                                    max_overflow=POOL_OVERFLOW, pool_timeout=POOL_TIMEOUT_SECONDS,
                                                    connect_args=args)
                except (sa.exc.ArgumentError, ValueError) as error:
                    raise StoreUnavailable(f"invalid PostgreSQL store URL {self.label}:"
                                           f" {scrub(_line(error), self.url)}") from None
            return self._engine

    @contextlib.contextmanager
    def _checked_out(self) -> Iterator[Any]:
        """A pooled driver connection; dropped, with the rest of the pool, when the server failed it."""
        import psycopg
        import sqlalchemy as sa

        with self._translated():
            try:
                fairy = self._pool().raw_connection()
            except sa.exc.TimeoutError:
                raise StoreUnavailable(f"PostgreSQL store {self.label}: no pooled connection free within"
                                       f" {POOL_TIMEOUT_SECONDS:g} s") from None
        try:
            conn = fairy.driver_connection
            if not conn.autocommit:
                conn.autocommit = True
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError):
            fairy.invalidate()
            self._engine.dispose()  # the others are as dead: the next transaction connects anew
            raise
        finally:
            fairy.close()

    def listening_connection(self) -> Any:
        """A connection of its own, outside the pool, in autocommit mode: for ``LISTEN`` (``wakeups.py``)."""
        import psycopg
        from psycopg.conninfo import make_conninfo

        url = self._driver_url.replace("postgresql+psycopg://", "postgresql://", 1)
        return psycopg.connect(make_conninfo(url, connect_timeout=self.connect_timeout), autocommit=True)

    # -- transactions ------------------------------------------------------
    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        lock = "pg_advisory_xact_lock" if getattr(self._local, "alone", False) else "pg_advisory_xact_lock_shared"
        with self._transaction("BEGIN; SELECT {lock}({key})".replace("{lock}", lock)) as conn:
            yield conn

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        """The writes of this block run while no other writer does (operators' moves, pauses)."""
        self._local.alone = True
        try:
            yield
        finally:
            self._local.alone = False

    @contextlib.contextmanager
    def notifying(self) -> Iterator[None]:
        """The writes of this block may make jobs due: each sends ``NOTIFY queuectl_jobs`` (the schema's
        name as payload), delivered by PostgreSQL when, and only if, the transaction commits."""
        self._local.notify = True
        try:
            yield
        finally:
            self._local.notify = False

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[Connection]:
        self._ensure_ready()
        with self._translated(), self._checked_out() as raw:
            raw.execute(begin.replace("{key}", str(self.lock_key)))
            try:
                yield Connection(raw)
            except BaseException:
                _rollback(raw)
                raise
            try:
                if getattr(self._local, "notify", False):
                    raw.execute(NOTIFY)
                raw.execute("COMMIT")
            except BaseException:
                _rollback(raw)
                raise

    def create(self) -> None:
        self._ensure_ready()

    def check_file(self) -> None:
        """SQLite checks that its file is still there; a server has no such thing to check."""

    def close(self) -> None:
        with self._engine_lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # -- the schema --------------------------------------------------------
    def _ensure_ready(self) -> None:
        if not self._ready:
            with self._translated(), self._checked_out() as raw:
                self._create_schema(raw)
            self._ready = True

    def _create_schema(self, raw: Any) -> None:
        """Create or migrate the schema when it is older than ours, in one transaction under a lock."""
        self.lock_key = raw.execute("SELECT hashtext(current_schema())").fetchone()[0]
        version = _stored_version(raw)
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(f"PostgreSQL store {self.label} has schema version {version};"
                                   f" this queuectl knows versions up to {SCHEMA_VERSION}: upgrade queuectl")
        raw.execute("BEGIN")
        try:
            raw.execute(f"SELECT pg_advisory_xact_lock({self.lock_key})")
            raw.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)")
            version = _stored_version(raw)  # another process may have done it meanwhile
            if version < SCHEMA_VERSION:
                for statement in migration_statements(version):
                    raw.execute(statement)
                raw.execute(f"DELETE FROM {VERSION_TABLE}")
                raw.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES ({SCHEMA_VERSION})")
            raw.execute("COMMIT")
        except BaseException:
            _rollback(raw)
            raise

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver failures leave as one-line ``StoreUnavailable`` naming the redacted URL."""
        import psycopg

        try:
            yield
        except psycopg.OperationalError as error:
            raise StoreUnavailable(f"cannot reach the PostgreSQL store {self.label}: {self._reason(error)}") from None
        except psycopg.Error as error:
            raise StoreUnavailable(f"PostgreSQL store {self.label} unavailable: {self._reason(error)}") from None

    def _reason(self, error: BaseException) -> str:
        text = scrub(_line(error), self.url)
        if "timeout expired" in text:
            text += f" (no answer within {self.connect_timeout} s)"
        return text


def _stored_version(raw: Any) -> int:
    """The schema's version: 0 when there is none, 1 for a jobs table from before versions were kept."""
    exists = raw.execute("SELECT to_regclass(%s) IS NOT NULL, to_regclass('jobs') IS NOT NULL",
                         (VERSION_TABLE,)).fetchone()
    if exists[0]:
        row = raw.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
        if row[0] is not None:
            return int(row[0])
    return 1 if exists[1] else 0


def _rollback(raw: Any) -> None:
    import psycopg

    with contextlib.suppress(psycopg.Error):
        raw.execute("ROLLBACK")


def _line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
