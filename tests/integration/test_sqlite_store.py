"""What only the SQLite store does: its file, its permissions, its failures.

Store behaviour itself is the contract's (test_store_contract.py).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import datetime, timezone

import pytest

from queuectl.adapters.sqlite import SqliteStore
from queuectl.adapters.sqlite.tables import SCHEMA_VERSION
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import OutcomeRejected, StoreUnavailable
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Outcome, Page, WorkerRef

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_read_never_creates_the_file_and_a_missing_file_is_no_store(tmp_path):
    store = SqliteStore(f"sqlite:///{tmp_path / 'queue.db'}")
    with pytest.raises(StoreUnavailable, match="^no store at .*queue.db$"):
        store.jobs.count_by_state()
    with pytest.raises(StoreUnavailable, match="no store at"):
        store.settings.load()
    assert list(tmp_path.iterdir()) == []
    store.jobs.add(Job.new("job-1", "true", NOW))
    assert store.jobs.count_by_state()[JobState.PENDING] == 1
    store.close()


def test_the_missing_home_store_reads_as_empty_and_is_created_by_the_first_write(tmp_path):
    home = tmp_path / "home"
    store = SqliteStore(f"sqlite:///{home / 'queue.db'}", home_store=True)
    assert sum(store.jobs.count_by_state().values()) == 0
    assert store.jobs.list(Page()) == [] and store.settings.load() == {}
    assert not home.exists()
    store.jobs.add(Job.new("job-1", "true", NOW))
    assert [job.id for job in store.jobs.list(Page())] == ["job-1"]
    store.close()


def test_a_missing_folder_is_an_error_for_reads_and_writes_and_is_not_created(tmp_path):
    store = SqliteStore(f"sqlite:///{tmp_path / 'no' / 'dir' / 'x.db'}")
    for operation in (store.jobs.count_by_state, lambda: store.jobs.add(Job.new("job-1", "true", NOW)),
                      store.create):
        with pytest.raises(StoreUnavailable, match=r"the directory .*/no/dir does not exist$"):
            operation()
    assert not (tmp_path / "no").exists()


def test_create_makes_the_file_so_that_reads_then_work(tmp_path):
    store = SqliteStore(f"sqlite:///{tmp_path / 'queue.db'}")
    store.create()
    assert store.settings.load() == {} and (tmp_path / "queue.db").is_file()
    store.close()


def test_a_store_file_deleted_after_use_is_not_silently_recreated_by_a_reader(tmp_path):
    path = tmp_path / "queue.db"
    writer = SqliteStore(f"sqlite:///{path}")
    writer.jobs.add(Job.new("job-1", "true", NOW))
    writer.close()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    with pytest.raises(StoreUnavailable, match="no store at"):
        SqliteStore(f"sqlite:///{path}").jobs.get("job-1")
    assert not path.exists()


def test_the_database_and_its_folder_are_owner_only(tmp_path):
    home = tmp_path / "home"
    store = SqliteStore(f"sqlite:///{home / 'queue.db'}", home_store=True)
    store.jobs.add(Job.new("job-1", "true", NOW))
    assert mode(home) == 0o700
    files = sorted(home.iterdir())
    assert [f.name for f in files] == ["queue.db", "queue.db-lock", "queue.db-shm", "queue.db-wal"]
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    store.close()


def test_a_reopened_store_keeps_its_jobs_and_settings(tmp_path):
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    first = SqliteStore(url)
    first.jobs.add(Job.new("job-1", "true", NOW))
    first.settings.save("max_retries", 9)
    first.close()
    second = SqliteStore(url)
    assert second.jobs.get("job-1").command == "true"
    assert second.settings.load() == {"max_retries": 9}
    second.close()


def test_a_relative_path_is_taken_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    store = SqliteStore("sqlite:///data/queue.db")
    store.jobs.add(Job.new("job-1", "true", NOW))
    assert (tmp_path / "data" / "queue.db").exists()
    store.close()


def test_the_memory_url_keeps_jobs_for_the_life_of_the_store():
    store = SqliteStore("sqlite://")
    store.jobs.add(Job.new("job-1", "true", NOW))
    assert [job.id for job in store.jobs.list(Page())] == ["job-1"]
    store.close()


def test_a_path_that_cannot_be_created_is_store_unavailable(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    store = SqliteStore(f"sqlite:///{tmp_path / 'file' / 'queue.db'}")
    with pytest.raises(StoreUnavailable, match="cannot open SQLite store") as caught:
        store.jobs.count_by_state()
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_a_database_is_store_unavailable(tmp_path):
    path = tmp_path / "queue.db"
    path.write_bytes(b"definitely not sqlite" * 100)
    store = SqliteStore(f"sqlite:///{path}")
    with pytest.raises(StoreUnavailable, match="not a database") as caught:
        store.jobs.get("job-1")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("view", [
    lambda store: store.jobs.list(Page(limit=5)),
    lambda store: store.jobs.count_by_state(),
    lambda store: store.jobs.logs("job-1"),
    lambda store: store.stats.stats(NOW, NOW.replace(hour=11)),
    lambda store: store.stats.totals([1.0]),
    lambda store: store.workers.workers(),
], ids=["list", "counts", "logs", "stats", "totals", "workers"])
def test_a_failing_query_of_any_operator_view_is_one_line_of_store_unavailable(tmp_path, view):
    path = tmp_path / "queue.db"
    store = SqliteStore(f"sqlite:///{path}")
    store.jobs.add(Job.new("job-1", "true", NOW))
    vandal = sqlite3.connect(path, isolation_level=None)  # the tables are gone under the open store
    vandal.executescript("PRAGMA foreign_keys = OFF; DROP TABLE attempts; DROP TABLE jobs; DROP TABLE workers;")
    vandal.close()
    with pytest.raises(StoreUnavailable, match="no such table") as caught:
        view(store)
    assert "\n" not in str(caught.value)
    store.close()


def test_a_database_locked_past_the_busy_timeout_is_store_unavailable(tmp_path):
    path = tmp_path / "queue.db"
    store = SqliteStore(f"sqlite:///{path}?timeout=0.05")
    store.create()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="database is locked"):
            store.jobs.add(Job.new("job-1", "true", NOW))
        assert store.jobs.count_by_state()  # readers are not blocked by a writer in WAL
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.jobs.add(Job.new("job-1", "true", NOW))
    store.close()


def test_an_invalid_busy_timeout_is_refused():
    with pytest.raises(StoreUnavailable, match="invalid SQLite timeout"):
        SqliteStore("sqlite:///queue.db?timeout=soon")


def test_a_new_file_holds_exactly_the_declared_tables_columns_and_indexes(tmp_path):
    from queuectl.adapters.sqlite import tables

    path = tmp_path / "queue.db"
    SqliteStore(f"sqlite:///{path}").create()
    check = sqlite3.connect(path)
    for table in tables.TABLES:
        info = check.execute(f"PRAGMA table_info({table.name})").fetchall()  # cid, name, type, notnull, ...
        assert [(row[1], row[2], bool(row[3])) for row in info] == [
            (column.name, column.type, column.required) for column in table.columns]
        assert [row[1] for row in info if row[5]] == [table.key]
    indexes = {row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                               " AND name NOT LIKE 'sqlite_autoindex%'")}
    assert indexes == {index.name for index in tables.INDEXES}
    assert check.execute("PRAGMA foreign_key_list(attempts)").fetchone()[2:4] == ("jobs", "job_id")
    check.close()


@pytest.mark.parametrize("url, message", [
    ("sqlite://somehost/queue.db", "has no host"),
    ("sqlite:///queue.db?timeout=-1", "invalid SQLite timeout"),
    ("sqlite:///queue.db?mode=ro", "unknown SQLite URL option 'mode'"),
])
def test_a_malformed_sqlite_url_is_refused_with_its_reason(url, message):
    with pytest.raises(StoreUnavailable, match=message):
        SqliteStore(url)


def test_an_escaped_path_is_decoded_as_sqlalchemy_decodes_it(tmp_path):
    store = SqliteStore(f"sqlite:///{tmp_path}/with%20space.db")
    store.jobs.add(Job.new("job-1", "true", NOW))
    assert (tmp_path / "with space.db").exists()
    store.close()


def test_opening_a_new_store_for_a_worker_never_imports_sqlalchemy(tmp_path):
    import subprocess
    import sys

    probe = ("import sys\nfrom queuectl.adapters.sqlite import SqliteStore\n"
             f"store = SqliteStore('sqlite:///{tmp_path / 'fresh.db'}')\nstore.create()\nstore.settings.load()\n"
             "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
    assert SqliteStore(f"sqlite:///{tmp_path / 'fresh.db'}").jobs.count_by_state()  # the schema is whole


def test_a_version_1_file_gains_the_columns_and_indexes_added_since(tmp_path):
    from queuectl.adapters.sqlite import tables

    path = tmp_path / "queue.db"
    store = SqliteStore(f"sqlite:///{path}")
    store.jobs.add(Job.new("job-1", "true", NOW))
    store.close()
    old = sqlite3.connect(path, isolation_level=None)
    old.executescript("DROP INDEX ix_attempts_finished; ALTER TABLE attempts DROP COLUMN outcome;"
                      " PRAGMA user_version = 1;")
    old.close()
    reopened = SqliteStore(f"sqlite:///{path}")
    assert reopened.jobs.get("job-1").command == "true"
    reopened.close()
    check = sqlite3.connect(path)
    assert "outcome" in {row[1] for row in check.execute("PRAGMA table_info(attempts)")}
    assert check.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ix_attempts_finished'").fetchone() == (1,)
    assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    check.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_journal_planted_beside_the_database_by_another_user_is_refused(tmp_path):
    from queuectl.domain.errors import UnsafeLocation

    path = tmp_path / "queue.db"
    SqliteStore(f"sqlite:///{path}").create()
    planted = tmp_path / "queue.db-wal"
    planted.write_bytes(b"")
    os.chown(planted, 65534, 65534)
    with pytest.raises(UnsafeLocation, match=f"refusing the SQLite store {planted}: owned by uid 65534"):
        SqliteStore(f"sqlite:///{path}").jobs.count_by_state()

def test_an_outcome_sqlite_refuses_for_good_is_outcome_rejected_naming_its_job_and_nothing_is_written(tmp_path):
    store = SqliteStore(f"sqlite:///{tmp_path / 'queue.db'}")
    store.jobs.add_many([Job.new("fine", "true", NOW), Job.new("huge", "true", NOW)])
    _, jobs = store.jobs.settle_and_claim([], WorkerRef("w1", "h"), NOW, NOW.replace(hour=13), limit=2)
    outcomes = []
    for job in jobs:
        token = job.lease_token
        job.fail(NOW, "exit code 1", BackoffPolicy(2, 60), exit_code=1)
        outcomes.append(Outcome(job, token, "x" * (50_000 if job.id == "huge" else 10)))
    store._db.connection().setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 20_000)  # as if past SQLite's 1 GB limit
    with pytest.raises(OutcomeRejected, match="job 'huge': the store refused its outcome: SQLite refused it: "):
        store.jobs.settle_and_claim(outcomes, WorkerRef("w1", "h"), NOW, NOW, limit=0)
    assert [store.jobs.get(job.id).state for job in jobs] == [JobState.PROCESSING] * 2
    assert store.jobs.settle_and_claim(outcomes[:1], WorkerRef("w1", "h"), NOW, NOW, limit=0)[0] == [True]
    store.close()


def test_a_store_file_another_process_created_a_moment_ago_is_opened_not_refused(tmp_path, monkeypatch):
    from queuectl.adapters.sqlite import location

    path = tmp_path / "queue.db"
    SqliteStore(f"sqlite:///{path}").create()  # the other worker won the race to create it
    real_exists = location.os.path.exists
    monkeypatch.setattr(location.os.path, "exists", lambda p: False if str(p) == str(path) else real_exists(p))
    opened = location.locate(path, write=True, home_store=False)  # we looked just before it created it
    assert opened.st_ino == path.stat().st_ino
