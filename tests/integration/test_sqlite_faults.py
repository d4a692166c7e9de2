"""The SQLite adapter under faults: a full database is an outage the next transaction recovers from."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from queuectl.container import build_container
from queuectl.domain.errors import StoreUnavailable
from queuectl.domain.model import Job
from queuectl.domain.ports import WorkerRef

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    opened = build_container(f"sqlite:///{tmp_path / 'queue.db'}", str(tmp_path)).store()
    yield opened
    opened.close()


def test_a_full_database_is_store_unavailable_and_writes_work_again_once_there_is_room(store):
    store.jobs.add(Job.new("first", "true", NOW))
    conn = store._db.connection()  # this process's connection: the limit stands in for a full disk
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(StoreUnavailable, match="database or disk is full"):
        store.jobs.add_many([Job.new(f"big{i}", "x" * 4000, NOW) for i in range(50)])
    assert not conn.in_transaction
    conn.execute("PRAGMA max_page_count = 1073741823")
    recorded, claimed = store.jobs.settle_and_claim([], WorkerRef("w", "h"), NOW, NOW, limit=5)
    assert [job.id for job in claimed] == ["first"]
    assert store.jobs.add_many([Job.new("second", "true", NOW)]) == []
