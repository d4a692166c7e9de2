"""A SQLite file written by schema version 3 (SPEC 9.1/9.2, before schedules) upgrades to 4 and keeps its data.

``data/queue-v3.db`` was written by queuectl's schema-3 code: job ``waiting-v3``
(``echo v3``, cwd ``/srv``, env ``A=1``) pending, queue ``nightly`` paused.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from queuectl.adapters.sqlite import SqliteStore
from queuectl.adapters.sqlite.tables import SCHEMA_VERSION
from queuectl.domain.model import JobState
from queuectl.domain.schedules import Schedule

V3_FILE = Path(__file__).parent / "data" / "queue-v3.db"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def v3_copy(folder: Path) -> Path:
    folder.mkdir(mode=0o700)
    path = folder / "queue.db"
    shutil.copyfile(V3_FILE, path)
    path.chmod(0o600)
    return path


def tables(path: Path) -> set[str]:
    check = sqlite3.connect(path)
    try:
        return {row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        check.close()


def test_the_fixture_is_a_version_3_file_without_schedules(tmp_path):
    path = v3_copy(tmp_path / "home")
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (3,)
    check.close()
    assert "schedules" not in tables(path)


def test_a_version_3_file_gains_the_schedules_table_and_keeps_its_jobs_and_pauses(tmp_path):
    path = v3_copy(tmp_path / "home")
    store = SqliteStore(f"sqlite:///{path}")
    job = store.jobs.get("waiting-v3")
    assert (job.state, job.command, job.cwd, job.env) == (JobState.PENDING, "echo v3", "/srv", {"A": "1"})
    assert store.queues.paused().queues == frozenset({"nightly"})
    assert store.schedules.list() == []
    store.schedules.add(Schedule("nightly", "0 3 * * *", {"command": "true"}, NOW, NOW))
    assert [s.name for s in store.schedules.due(NOW, 10)] == ["nightly"]
    store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (5,)
    assert "ix_schedules_due" in {row[1] for row in check.execute("PRAGMA index_list(schedules)")}
    check.close()
