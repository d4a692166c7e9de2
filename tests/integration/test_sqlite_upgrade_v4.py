"""A SQLite file written by schema version 4 (before SPEC 9.7) opens, upgrades and takes queue limits.

``data/queue-v4.db`` was written by queuectl's main before limits: job ``running-v4`` of queue
``deploys`` claimed (processing), job ``waiting-v4`` of ``deploys`` pending, queue ``other`` paused.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from queuectl.adapters.sqlite import SqliteStore
from queuectl.adapters.sqlite.tables import SCHEMA_VERSION
from queuectl.domain.model import JobState
from queuectl.domain.ports import WorkerRef

from .old_sqlite_files import copy_of

V4_FILE = Path(__file__).parent / "data" / "queue-v4.db"
NOW = datetime(2026, 12, 1, 0, 0, 5, tzinfo=timezone.utc)


def v4_copy(folder: Path) -> Path:
    return copy_of(V4_FILE, folder)


def test_the_fixture_is_a_version_4_file_without_limits(tmp_path):
    check = sqlite3.connect(v4_copy(tmp_path / "home"))
    assert check.execute("PRAGMA user_version").fetchone() == (4,)
    assert check.execute("SELECT name FROM sqlite_master WHERE name = 'queue_limits'").fetchone() is None
    check.close()


def test_a_version_4_file_keeps_its_jobs_and_pauses_and_its_running_job_counts_against_a_new_limit(tmp_path):
    path = v4_copy(tmp_path / "home")
    store = SqliteStore(f"sqlite:///{path}")
    assert store.jobs.get("running-v4").state is JobState.PROCESSING
    assert store.queues.paused().queues == frozenset({"other"})
    store.queues.set_limit("deploys", 1)
    worker = WorkerRef("w2", "h")
    assert store.jobs.claim_next(worker, NOW, NOW + timedelta(seconds=30)) is None
    store.queues.set_limit("deploys", 2)
    assert store.jobs.claim_next(worker, NOW, NOW + timedelta(seconds=30)).id == "waiting-v4"
    store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (5,)
    assert check.execute("SELECT queue, max_running FROM queue_limits").fetchall() == [("deploys", 2)]
    check.close()
