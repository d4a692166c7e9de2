"""A SQLite file written by schema version 3 (main before SPEC 9.3) opens, upgrades to 4 and keeps its jobs.

``data/queue-v3-cli.db`` was written by queuectl's CLI and a worker at schema 3: job ``done-v3``
(``echo old``) completed, job ``waiting-v3`` (``pwd``) pending until 2099.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from queuectl.adapters.sqlite import SqliteStore
from queuectl.adapters.sqlite.tables import SCHEMA_VERSION
from queuectl.domain.errors import UniqueKeyHeld
from queuectl.domain.model import Job, JobState

from .old_sqlite_files import DATA, copy_of, rows_of

V3_FILE = DATA / "queue-v3-cli.db"
NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)
NEW_COLUMNS = {"unique_key", "retry_on", "no_retry_on"}


def columns(path: Path) -> set[str]:
    return {row[1] for row in rows_of(path, "PRAGMA table_info(jobs)")}


def test_the_fixture_is_a_version_3_file_without_the_workflow_columns(tmp_path):
    path = copy_of(V3_FILE, tmp_path / "home")
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (3,)
    check.close()
    assert NEW_COLUMNS.isdisjoint(columns(path)) and {"cwd", "env"} <= columns(path)


def test_a_version_3_file_gains_the_workflow_columns_and_the_held_key_index_and_keeps_its_jobs(tmp_path):
    path = copy_of(V3_FILE, tmp_path / "home")
    store = SqliteStore(f"sqlite:///{path}")
    done, waiting = store.jobs.get("done-v3"), store.jobs.get("waiting-v3")
    assert (done.state, done.command, len(done.history), done.unique_key, done.retry_on) == (
        JobState.COMPLETED, "echo old", 1, None, None)
    assert (waiting.state, waiting.command, waiting.no_retry_on) == (JobState.PENDING, "pwd", None)
    store.jobs.add(Job.new("keyed", "true", NOW, unique_key="deploy", no_retry_on="2"))
    with pytest.raises(UniqueKeyHeld, match="held by job 'keyed' \\(pending\\)"):
        store.jobs.add(Job.new("again", "true", NOW, unique_key="deploy"))
    assert (store.jobs.get("keyed").unique_key, store.jobs.get("keyed").no_retry_on) == ("deploy", "2")
    store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert "ix_jobs_held_key" in {row[1] for row in check.execute("PRAGMA index_list(jobs)")}
    check.close()
    assert NEW_COLUMNS <= columns(path)
