"""A SQLite file written by schema version 2 (before SPEC 9.1) opens, upgrades and keeps its jobs.

``data/queue-v2.db`` was written by queuectl before jobs had a context: job
``done-v2`` completed (one attempt, output ``old``), job ``waiting-v2`` (``pwd``) pending.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from queuectl.adapters.sqlite import SqliteStore
from queuectl.adapters.sqlite.tables import SCHEMA_VERSION
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Page

V2_FILE = Path(__file__).parent / "data" / "queue-v2.db"
NOW = datetime(2026, 3, 2, tzinfo=timezone.utc)


def v2_copy(folder: Path) -> Path:
    folder.mkdir(mode=0o700)
    path = folder / "queue.db"
    shutil.copyfile(V2_FILE, path)
    path.chmod(0o600)
    return path


def test_the_fixture_is_a_version_2_file_without_context_columns(tmp_path):
    check = sqlite3.connect(v2_copy(tmp_path / "home"))
    assert check.execute("PRAGMA user_version").fetchone() == (2,)
    assert {"cwd", "env"}.isdisjoint(row[1] for row in check.execute("PRAGMA table_info(jobs)"))
    check.close()


def test_a_version_2_file_gains_cwd_and_env_and_keeps_its_jobs_and_history(tmp_path):
    path = v2_copy(tmp_path / "home")
    store = SqliteStore(f"sqlite:///{path}")
    done, waiting = store.jobs.get("done-v2"), store.jobs.get("waiting-v2")
    assert (done.state, done.command, len(done.history), done.cwd, done.env) == (
        JobState.COMPLETED, "echo old", 1, None, {})
    assert (waiting.state, waiting.cwd, waiting.env) == (JobState.PENDING, None, {})
    assert [(log.attempt.attempt, log.output) for log in store.jobs.logs("done-v2")] == [(1, "old\n")]
    store.jobs.add(Job.new("new", "true", NOW, cwd="/srv", env={"A": "1"}))
    assert [(j.id, j.cwd, j.env) for j in store.jobs.list(Page(limit=0))][0] == ("new", "/srv", {"A": "1"})
    store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (5,)
    assert {"cwd", "env"} <= {row[1] for row in check.execute("PRAGMA table_info(jobs)")}
    check.close()
