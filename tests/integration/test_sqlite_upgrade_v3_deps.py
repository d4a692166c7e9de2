"""A SQLite file written by schema version 3 (before SPEC 9.3) opens, upgrades and takes dependencies.

``data/queue-v3-deps.db`` was written by queuectl's main before dependencies: job ``done-v3``
completed (one attempt, output ``old``, cwd ``/tmp``), job ``waiting-v3`` pending.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from queuectl.adapters.sqlite import SqliteStore
from queuectl.adapters.sqlite.tables import SCHEMA_VERSION
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import WorkerRef

from .old_sqlite_files import DATA, copy_of

V3_FILE = DATA / "queue-v3-deps.db"
NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)


def test_the_fixture_is_a_version_3_file_without_dependencies(tmp_path):
    check = sqlite3.connect(copy_of(V3_FILE, tmp_path / "home"))
    assert check.execute("PRAGMA user_version").fetchone() == (3,)
    assert "after" not in {row[1] for row in check.execute("PRAGMA table_info(jobs)")}
    assert check.execute("SELECT name FROM sqlite_master WHERE name = 'dependencies'").fetchone() is None
    check.close()


def test_a_version_3_file_keeps_its_jobs_and_takes_dependencies_on_them(tmp_path):
    path = copy_of(V3_FILE, tmp_path / "home")
    store = SqliteStore(f"sqlite:///{path}")
    done, waiting = store.jobs.get("done-v3"), store.jobs.get("waiting-v3")
    assert (done.state, done.cwd, done.after, len(done.history)) == (JobState.COMPLETED, "/tmp", [], 1)
    assert (waiting.state, waiting.after) == (JobState.PENDING, [])
    after_done, after_waiting = Job.new("a", "true", NOW, after=["done-v3"]), Job.new("b", "true", NOW,
                                                                                       after=["waiting-v3"])
    store.jobs.add(after_done)
    store.jobs.add(after_waiting)
    assert (after_done.state, store.jobs.get("b").state) == (JobState.PENDING, JobState.BLOCKED)
    job = store.jobs.claim_next(WorkerRef("w", "h"), NOW, NOW + timedelta(seconds=30))
    assert job.id == "waiting-v3"
    token = job.lease_token
    job.succeed(NOW)
    assert store.jobs.record_outcome(job, token)
    assert store.jobs.get("b").state is JobState.PENDING
    store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert "after" in {row[1] for row in check.execute("PRAGMA table_info(jobs)")}
    check.close()
