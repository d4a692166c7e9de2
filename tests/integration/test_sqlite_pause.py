"""What only the SQLite store does about paused queues: its table on older files, and a claim
that still walks the claim index however many queues are paused."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from queuectl.adapters.sqlite import SqliteStore
from queuectl.domain.model import Job
from queuectl.domain.pausing import Paused
from queuectl.domain.ports import WorkerRef

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
WORKER = WorkerRef("worker-1", "host-a")


def test_a_version_2_file_gains_the_paused_queues_table_on_first_use(tmp_path):
    path = tmp_path / "queue.db"
    store = SqliteStore(f"sqlite:///{path}")
    store.jobs.add(Job.new("job-1", "true", NOW, queue="nightly"))
    store.close()
    old = sqlite3.connect(path, isolation_level=None)
    old.executescript("DROP TABLE queue_pauses; PRAGMA user_version = 2;")
    old.close()

    reopened = SqliteStore(f"sqlite:///{path}")
    assert reopened.queues.pause(["nightly"]) == Paused(queues=frozenset({"nightly"}))
    assert reopened.jobs.claim_next(WORKER, NOW, NOW + timedelta(seconds=30)) is None
    reopened.close()


def _claim_plan(store: SqliteStore, queues) -> list[str]:
    """The query plan of the SELECT the claim ran, bound values and all."""
    statements: list[str] = []
    conn = store._db.connection()
    conn.set_trace_callback(statements.append)
    try:
        store.jobs.claim_next(WORKER, NOW, NOW + timedelta(seconds=30), queues)
    finally:
        conn.set_trace_callback(None)
    due = [s for s in statements if s.startswith("SELECT") and "FROM jobs" in s]
    assert len(due) == 1, statements
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + due[0])]


@pytest.mark.parametrize("pause, queues", [
    (None, None),
    ([f"q{n}" for n in range(100)], None),
    ([f"q{n}" for n in range(100)], ["q1", "default", "q7"]),
    ("all-but-default", None),
])
def test_the_claim_walks_the_claim_index_however_many_queues_are_paused(tmp_path, pause, queues):
    store = SqliteStore(f"sqlite:///{tmp_path / 'queue.db'}")
    store.jobs.add_many([Job.new(f"j{n}", "true", NOW, queue=f"q{n % 200}") for n in range(2000)]
                        + [Job.new("d", "true", NOW)])
    if pause == "all-but-default":
        store.queues.pause(None)
        store.queues.resume(["default"])
    elif pause:
        store.queues.pause(pause)

    plan = _claim_plan(store, queues)

    assert any("USING INDEX ix_jobs_claim" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan  # no sort of the waiting jobs
    store.close()
