"""Rows stored by an older version, before the bounds (SPEC 9.4), on a real store and a real worker:
a timeout of ``inf`` or ``1e300`` neither breaks ``show --json`` nor stops the worker that runs it."""

from __future__ import annotations

import json
import sqlite3

import pytest

from queuectl.domain import defaults

from .processes import make_queue


@pytest.fixture(params=["sqlite", "mongodb", "postgres"])
def queue(request, tmp_path):
    q = make_queue(request.param, tmp_path)
    q.kind = request.param
    yield q
    q.stop_workers()
    q.close()


def store_old_timeout(q, job_id: str, timeout: float) -> None:
    """Write the value as an old version could, under the store's feet."""
    if q.kind == "sqlite":
        with sqlite3.connect(q.url.removeprefix("sqlite:///")) as db:
            db.execute("UPDATE jobs SET timeout = ? WHERE id = ?", (timeout, job_id))
    elif q.kind == "postgres":
        import psycopg

        with psycopg.connect(q.url, autocommit=True) as db:
            db.execute("UPDATE jobs SET timeout = %s WHERE id = %s", (timeout, job_id))
    else:
        import pymongo

        client = pymongo.MongoClient(q.url, serverSelectionTimeoutMS=5000)
        try:
            client.get_default_database()["jobs"].update_one({"_id": job_id}, {"$set": {"timeout": timeout}})
        finally:
            client.close()


@pytest.mark.parametrize("timeout", [float("inf"), 1e300])
def test_a_job_stored_with_an_unbounded_timeout_is_shown_as_strict_json_and_runs(queue, timeout):
    queue.cli("enqueue", "old", "echo ran")
    store_old_timeout(queue, "old", timeout)
    shown = json.loads(queue.cli("show", "old", "--json").stdout, parse_constant=pytest.fail)
    assert shown["timeout"] == defaults.TIMEOUT_LIMIT
    queue.cli("worker", "start")
    queue.wait_state("old", "completed")
    assert "ran" in queue.cli("logs", "old").stdout
    assert len(queue.cli_json("status")["workers"]) == 1  # the worker lives on
