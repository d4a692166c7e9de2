"""The MongoDB adapter's URL handling and error translation: no server involved.

What the store does is tested by the shared contract suite against a real
MongoDB-wire server; these cover what happens before and around the wire.
"""

from __future__ import annotations

import select
import socket
import threading

import pytest
from bson.errors import InvalidDocument
from pymongo.errors import AutoReconnect, DocumentTooLarge, OperationFailure, ServerSelectionTimeoutError, WriteError

from queuectl.adapters.mongo import MongoStore
from queuectl.adapters.mongo.database import MongoDatabase
from queuectl.domain.errors import OutcomeRejected, StoreUnavailable


def test_building_a_store_connects_nothing_until_its_first_operation():
    with socket.socket() as listener:  # stands in for the server: it sees every connection attempt
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        store = MongoStore(f"mongodb://app:pw@127.0.0.1:{port}/jobs?serverSelectionTimeoutMS=500")
        assert select.select([listener], [], [], 0.5)[0] == []  # built: nobody knocked
        first = threading.Thread(target=lambda: pytest.raises(StoreUnavailable, store.settings.load))
        first.start()
        assert select.select([listener], [], [], 60)[0] == [listener]  # the first operation knocks
        first.join(60)
        store.close()


def test_the_database_is_the_url_path_or_queuectl():
    assert MongoDatabase("mongodb://127.0.0.1:1/jobs_db").database().name == "jobs_db"
    assert MongoDatabase("mongodb://127.0.0.1:1/?appname=x").database().name == "queuectl"
    assert MongoDatabase("mongodb://127.0.0.1:1").database().name == "queuectl"


def test_timeouts_default_to_four_seconds_unless_the_url_sets_them():
    default = MongoDatabase("mongodb://127.0.0.1:1/q").database().client.options
    assert default.server_selection_timeout == 4.0
    assert default.pool_options.connect_timeout == 4.0
    chosen = MongoDatabase("mongodb://127.0.0.1:1/q?serverselectiontimeoutms=800&connectTimeoutMS=700")
    options = chosen.database().client.options
    assert (options.server_selection_timeout, options.pool_options.connect_timeout) == (0.8, 0.7)


def test_writes_wait_for_the_journal_unless_the_url_chooses_a_write_concern():
    def concern(url: str) -> dict:
        return MongoDatabase(url).database().client.write_concern.document

    assert concern("mongodb://127.0.0.1:1/q") == {"j": True}
    assert concern("mongodb://127.0.0.1:1/q?w=majority") == {"w": "majority"}
    assert concern("mongodb://127.0.0.1:1/q?journal=false") == {"j": False}


def test_a_url_with_an_unknown_option_is_refused_without_its_password():
    db = MongoDatabase("mongodb://app:s3cret@127.0.0.1:1/q?noSuchOption=1")
    with pytest.raises(StoreUnavailable, match=r"^invalid MongoDB store URL mongodb://app:\*{4}@") as caught:
        with db.translating():
            db.database()
    assert "s3cret" not in str(caught.value)


def test_a_server_selection_timeout_becomes_one_short_line():
    db = MongoDatabase("mongodb://app:s3cret@127.0.0.1:1/q")
    db.database()
    driver_text = ("127.0.0.1:1: [Errno 111] Connection refused (configured timeouts: connectTimeoutMS: "
                   "4000.0ms), Timeout: 4.0s, Topology Description: <TopologyDescription app:s3cret\nmore>")
    with pytest.raises(StoreUnavailable) as caught:
        with db.translating():
            raise ServerSelectionTimeoutError(driver_text)
    assert str(caught.value) == ("cannot reach the MongoDB store mongodb://app:****@127.0.0.1:1/q: "
                                 "127.0.0.1:1: [Errno 111] Connection refused (no answer within 4 s)")


@pytest.mark.parametrize("error, message", [
    (AutoReconnect("db1:27017: connection closed"),
     "cannot reach the MongoDB store mongodb://db1/q: db1:27017: connection closed"),
    (OperationFailure("Authentication failed.", code=18),
     "MongoDB store mongodb://db1/q: authentication failed"),
    (OperationFailure("not authorized on q", code=13), "MongoDB store mongodb://db1/q: not authorized on q"),
])
def test_driver_errors_become_store_unavailable(error, message):
    db = MongoDatabase("mongodb://db1/q")
    with pytest.raises(StoreUnavailable) as caught:
        with db.translating():
            raise error
    assert str(caught.value) == message


TOO_LARGE = "Resulting document after update is larger than 16777216"


def _labelled(error, label):
    error._add_error_label(label)
    return error


@pytest.mark.parametrize("error", [
    WriteError(TOO_LARGE, code=10334, details={"errmsg": TOO_LARGE}),
    WriteError(TOO_LARGE, code=17419),
    OperationFailure("BSONObjectTooLarge", code=10334),
    DocumentTooLarge("BSON document too large (16800000 bytes)"),
    WriteError("Document failed validation", code=121),
    InvalidDocument("cannot encode object: <object>"),
    OverflowError("MongoDB can only handle up to 8-byte ints"),
])
def test_a_write_refused_for_good_becomes_outcome_rejected_naming_the_job(error):
    db = MongoDatabase("mongodb://db1/q")
    with pytest.raises(OutcomeRejected) as caught:
        with db.translating(), db.rejecting("job-1"):
            raise error
    assert caught.value.job_id == "job-1" and "\n" not in str(caught.value)
    assert caught.value.reason.startswith("MongoDB refused it: ") and "full error" not in caught.value.reason


@pytest.mark.parametrize("error", [
    AutoReconnect("db1:27017: connection closed"),
    WriteError("interrupted at shutdown", code=11600),
    WriteError("not primary", code=10107),
    _labelled(WriteError("stepped down", code=2), "RetryableWriteError"),
    OperationFailure("internal server error", code=1),  # a failed claim: not known to be for good
])
def test_a_write_a_retry_may_cure_stays_store_unavailable(error):
    db = MongoDatabase("mongodb://db1/q")
    with pytest.raises(StoreUnavailable):
        with db.translating(), db.rejecting("job-1"):
            raise error
