"""A SQLite file written by schema version 4 (main before SPEC 9.7) opens, upgrades to 5 and keeps its rows.

``data/queue-v4-workers.db`` was written by queuectl at schema 4: job ``waiting-v4`` (``echo v4``) pending,
worker ``old-worker-v4`` registered.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from queuectl.adapters.sqlite import SqliteStore
from queuectl.adapters.sqlite.tables import SCHEMA_VERSION
from queuectl.domain.model import JobState

from .old_sqlite_files import copy_of

V4_FILE = Path(__file__).parent / "data" / "queue-v4-workers.db"


def v4_copy(folder: Path) -> Path:
    return copy_of(V4_FILE, folder)


def worker_columns(path: Path) -> set[str]:
    check = sqlite3.connect(path)
    try:
        return {row[1] for row in check.execute("PRAGMA table_info(workers)")}
    finally:
        check.close()


def test_the_fixture_is_a_version_4_file_without_worker_slots(tmp_path):
    path = v4_copy(tmp_path / "home")
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (4,)
    check.close()
    assert "slots" not in worker_columns(path)


def test_a_version_4_file_gains_worker_slots_and_keeps_its_jobs_and_workers(tmp_path):
    path = v4_copy(tmp_path / "home")
    store = SqliteStore(f"sqlite:///{path}")
    try:
        waiting = store.jobs.get("waiting-v4")
        assert (waiting.state, waiting.command) == (JobState.PENDING, "echo v4")
        [old] = store.workers.workers()
        assert (old.id, old.slots) == ("old-worker-v4", 1)  # rows already there get one slot
        store.workers.register(replace(old, id="new-worker", slots=8))
        assert {w.id: w.slots for w in store.workers.workers()} == {"old-worker-v4": 1, "new-worker": 8}
    finally:
        store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (5,)
    check.close()
