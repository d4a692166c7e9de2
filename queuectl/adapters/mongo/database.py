"""One MongoDB database: the lazy client, first-use indexes, the FIFO sequence, errors.

Building a ``MongoDatabase`` parses nothing and connects nothing; the
``MongoClient`` is created on first use and the first operation is the first
round trip. Unless the URL sets them, server selection and connecting give up
after 4 s, so an unreachable server is reported within 5 s, and writes are
acknowledged only once journaled (``j: true``): an acknowledged enqueue
survives a crash of the server process too. ``w=...`` or ``journal=...`` in
the URL replaces that choice.

Every driver failure leaves through ``translating()`` as one domain error
whose one-line message names the URL with its password replaced by ``****``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import warnings
from datetime import timezone
from typing import Any, Callable, Iterator

from bson.errors import BSONError
from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (ConfigurationError, ConnectionFailure, DocumentTooLarge, DuplicateKeyError,
                            OperationFailure, PyMongoError, ServerSelectionTimeoutError, WriteError)

from queuectl.domain import defaults
from queuectl.domain.errors import OutcomeRejected, QueuectlError, StoreUnavailable
from queuectl.domain.urls import redact_url, scrub

from .documents import SLOT, SLOT_INDEX

log = logging.getLogger(__name__)

_SEQ_ATTEMPTS = 5
_AUTH_FAILED = 18
# The server's codes for "the document would pass 16 MiB" (BSONObjectTooLarge and its older forms).
TOO_LARGE_CODES = frozenset({10334, 17419, 17420})
# Write errors a retry may cure: timeouts, elections, shutdowns, write conflicts.
_TRANSIENT_CODES = frozenset({6, 7, 50, 64, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})

# The indexes behind each query of the repositories; ``_id`` is the job id.
JOB_INDEXES = (
    # claim: state in (pending, failed), then priority desc, run_at, seq. State
    # first rather than a partial index, whose ``$in`` filter needs MongoDB 6.0.
    IndexModel([("state", ASCENDING), ("priority", DESCENDING), ("run_at", ASCENDING), ("seq", ASCENDING)],
               name="claim_order"),
    # list by state newest first; the state counts
    IndexModel([("state", ASCENDING), ("seq", DESCENDING)], name="state_seq"),
    # expired leases
    IndexModel([("state", ASCENDING), ("lease_until", ASCENDING)], name="lease_expiry"),
    # store order: list newest first, FIFO among equals
    IndexModel([("seq", ASCENDING)], name="seq_unique", unique=True),
    # stats: counts per state and queue, the oldest due job
    IndexModel([("state", ASCENDING), ("queue", ASCENDING), ("run_at", ASCENDING)], name="state_queue_run_at"),
    # stats: attempts finished in a window (multikey over the history)
    IndexModel([("history.finished_at", ASCENDING)], name="attempt_finished_at"),
    # the jobs waiting for one that ended (multikey over ``after``; jobs without it are not in it)
    IndexModel([("after", ASCENDING)], name="dependents", sparse=True),
    # ended jobs whose dependents are still to be released (``dependencies.py``)
    IndexModel([("release_due", ASCENDING)], name="release_due", sparse=True),
    # one holder per unique key: ``held_key`` is present only while a job holds its key (sparse)
    IndexModel([("held_key", ASCENDING)], name="held_key_unique", unique=True, sparse=True),
    # one processing job per limit slot: ``limit_slot`` is present only while a job of a limited queue
    # is processing (sparse); what keeps a queue's limit exact (``limits.py``)
    IndexModel([(SLOT, ASCENDING)], name=SLOT_INDEX, unique=True, sparse=True),
)


class MongoDatabase:
    def __init__(self, url: str, client: MongoClient | None = None) -> None:
        """``client``: one already built, used instead of connecting to ``url`` (the unit tests pass a
        ``mongomock`` client); the URL still names the database and labels the errors."""
        self.url = url
        self.label = redact_url(url)
        self._given = client
        self._client: MongoClient | None = None
        self._database: Database | None = None
        self._indexed = False
        self._lock = threading.Lock()

    # -- connection ----------------------------------------------------------
    def database(self) -> Database:
        if self._database is None:
            with self._lock:
                if self._database is None:
                    client = self._connect()
                    try:
                        self._database = client.get_default_database(defaults.MONGO_DATABASE)
                    except PyMongoError:
                        client.close()
                        raise
                    self._client = client
        return self._database

    def _connect(self) -> MongoClient:
        if self._given is not None:
            return self._given
        options: dict[str, Any] = {"tz_aware": True, "tzinfo": timezone.utc, "connect": False,
                                   "appname": "queuectl"}
        for name in ("serverSelectionTimeoutMS", "connectTimeoutMS"):
            if not _url_sets(self.url, name):
                options[name] = int(defaults.MONGO_TIMEOUT_SECONDS * 1000)  # the error line within 5 s
        if not (_url_sets(self.url, "journal") or _url_sets(self.url, "w")):
            options["journal"] = True  # an acknowledged write is on disk, even on a standalone server
        # pymongo only warns about unknown or malformed URL options and then
        # ignores them; a URL that does not mean what it says is an error here.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return MongoClient(self.url, **options)
            except (UserWarning, ConfigurationError, ValueError, TypeError) as error:
                raise self._invalid_url(error) from None

    def collection(self, name: str) -> Collection:
        """A collection; the jobs' indexes are created (idempotently) on its first use."""
        database = self.database()
        if name == "jobs" and not self._indexed:
            with self._lock:
                if not self._indexed:
                    database["jobs"].create_indexes(list(JOB_INDEXES))
                    self._indexed = True
                    log.debug("job indexes ensured in %s", self.label)
        return database[name]

    def next_seq(self, count: int = 1) -> int:
        """Reserve ``count`` consecutive store-order numbers; returns the first."""
        counters = self.database()["counters"]
        for _ in range(_SEQ_ATTEMPTS):
            counter = counters.find_one_and_update(
                {"_id": "jobs"}, {"$inc": {"seq": count}}, return_document=ReturnDocument.AFTER)
            if counter is not None:
                return int(counter["seq"]) - count + 1
            # The first enqueue creates the counter. An insert that loses the race
            # is fine (someone else created it); an upsert is avoided because
            # concurrent upserts of one _id are not safe on every server.
            try:
                counters.insert_one({"_id": "jobs", "seq": 0})
            except DuplicateKeyError:
                pass
        raise StoreUnavailable(f"could not issue a job sequence number in {self.label}")

    def close(self) -> None:
        with self.translating(), self._lock:
            if self._client is not None:
                self._client.close()
            self._client, self._database, self._indexed = None, None, False

    # -- errors --------------------------------------------------------------
    @contextlib.contextmanager
    def translating(self) -> Iterator[None]:
        """Driver and BSON errors become one-line domain errors naming the redacted URL."""
        try:
            yield
        except ConnectionFailure as error:  # includes server selection timeouts
            reason = self._reason(error)
            raise StoreUnavailable(f"cannot reach the MongoDB store {self.label}: {reason}") from None
        except OperationFailure as error:
            if error.code == _AUTH_FAILED:
                raise StoreUnavailable(f"MongoDB store {self.label}: authentication failed") from None
            raise StoreUnavailable(f"MongoDB store {self.label}: {self._line(error)}") from None
        except ConfigurationError as error:
            raise self._invalid_url(error) from None
        except PyMongoError as error:
            raise StoreUnavailable(f"MongoDB store {self.label}: {self._line(error)}") from None
        except (BSONError, OverflowError) as error:
            raise QueuectlError(f"a value cannot be stored in MongoDB: {self._line(error)}") from None

    @contextlib.contextmanager
    def rejecting(self, job_id: str) -> Iterator[None]:
        """A write refused for good leaves as ``OutcomeRejected`` naming ``job_id``; others as usual."""
        try:
            yield
        except (PyMongoError, BSONError, OverflowError) as error:
            if not refused_for_good(error):
                raise
            reason = self._line(error).split(", full error:")[0]  # pymongo appends the whole reply
            raise OutcomeRejected(job_id, f"MongoDB refused it: {reason}") from None

    def _invalid_url(self, error: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"invalid MongoDB store URL {self.label}: {self._line(error)}")

    def _reason(self, error: ConnectionFailure) -> str:
        """The first server's complaint, without pymongo's topology dump."""
        text = self._line(error)
        if not isinstance(error, ServerSelectionTimeoutError):
            return text
        for cut in (" (configured timeouts", ", Timeout:", ", Topology Description"):
            text = text.split(cut, 1)[0]
        timeout = self._client.options.server_selection_timeout if self._client is not None else None
        return f"{text} (no answer within {timeout:g} s)" if timeout else text

    def _line(self, error: BaseException) -> str:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return scrub(text, self.url)[:300]


def refused_for_good(error: Exception) -> bool:
    """A write the server (or the driver) refuses however often it is retried: a document over
    16 MiB, a value BSON cannot encode, or a write error that is not transient."""
    if isinstance(error, (BSONError, OverflowError)):
        return True
    if isinstance(error, DocumentTooLarge) or (isinstance(error, OperationFailure)
                                                and error.code in TOO_LARGE_CODES):
        return True
    return (isinstance(error, WriteError) and error.code not in _TRANSIENT_CODES
            and not error.has_error_label("RetryableWriteError"))


def _url_sets(url: str, option: str) -> bool:
    query = url.partition("?")[2]
    return re.search(rf"(^|&){option}=", query, re.IGNORECASE) is not None


def translate_errors(cls: type) -> type:
    """Run every public method of a repository inside its database's ``translating()``."""
    for name, member in list(vars(cls).items()):
        if callable(member) and not name.startswith("_"):
            setattr(cls, name, _translated(member))
    return cls


def _translated(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._db.translating():
            return method(self, *args, **kwargs)

    return wrapper
