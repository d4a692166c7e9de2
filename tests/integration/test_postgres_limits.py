"""What only the PostgreSQL store does about queue limits: a claim under limits still reads due rows
through the claim index (the planner chooses, with statistics of a store of some size)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from queuectl.adapters.postgres import claim
from queuectl.container import build_container
from queuectl.domain.model import Job

from .processes import drop_store, postgres_url_for_test

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    url = postgres_url_for_test()  # skips without a server
    opened = build_container(url, str(tmp_path)).store()
    yield opened
    opened.close()
    drop_store(url)


def test_the_read_of_due_rows_skipping_full_queues_uses_the_claim_index(store):
    store.jobs.add_many([Job.new(f"j{n}", "true", NOW, queue=f"q{n % 200}") for n in range(5000)])
    store.queues.set_limit("q1", 2)
    with store._db.write() as conn:
        conn.execute("ANALYZE jobs")
        due = claim._DUE.format(queue=", queue", queues=" AND queue NOT IN (?, ?)")
        plan = [row[0] for row in conn.execute("EXPLAIN " + due, (1e12, "q1", "q2", 16)).fetchall()]
    assert any("Index Scan using ix_jobs_claim" in line for line in plan), plan
    assert not any("Sort" in line for line in plan), plan
