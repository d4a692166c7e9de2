"""What only the SQLite store does about queue limits: the claim still walks the claim index, and
counts a limited queue's running jobs from an index alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from queuectl.adapters.sqlite import SqliteStore
from queuectl.domain.model import Job
from queuectl.domain.ports import WorkerRef

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
WORKER = WorkerRef("worker-1", "host-a")


def _claim_plans(store: SqliteStore, queues, limit: int) -> tuple[list[list[str]], list[str]]:
    """The query plans of the due-job reads the claim ran, and of its count of running jobs."""
    statements: list[str] = []
    conn = store._db.connection()
    conn.set_trace_callback(statements.append)
    try:
        store.jobs.settle_and_claim([], WORKER, NOW, NOW + timedelta(seconds=30), queues, limit)
    finally:
        conn.set_trace_callback(None)
    plan = lambda sql: [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]  # noqa: E731
    due = [plan(s) for s in statements if "INDEXED BY ix_jobs_claim" in s]
    [count] = [plan(s) for s in statements if "count(*)" in s]
    return due, count


@pytest.mark.parametrize("queues", [None, ["q1", "q2", "default"]])
def test_a_claim_under_limits_walks_the_claim_index_and_counts_from_the_state_queue_index(tmp_path, queues):
    store = SqliteStore(f"sqlite:///{tmp_path / 'queue.db'}")
    store.jobs.add_many([Job.new(f"j{n}", "true", NOW, queue=f"q{n % 200}", priority=1) for n in range(2000)]
                        + [Job.new(f"first-{n}", "true", NOW, queue="q2", priority=5) for n in range(3)]
                        + [Job.new("d", "true", NOW)])
    store.queues.set_limit("q1", 2)
    store.queues.set_limit("q2", 1)
    store.queues.pause(["q7"])

    due, count = _claim_plans(store, queues, 16)

    assert len(due) == 2  # q2 filled up in the first read: one more read skips it
    for plan in due:
        assert any("USING INDEX ix_jobs_claim" in step for step in plan), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan  # no sort of the waiting jobs
    assert any("COVERING INDEX ix_jobs_state_queue" in step for step in count), count
    store.close()
