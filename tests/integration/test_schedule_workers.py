"""Schedules with real worker processes: two workers per store, one ``* * * * *`` schedule, and its
next tick enqueued and run exactly once (SQLite, and MongoDB when a test server is set).

The schedule is created just before the workers start, so its first run is the next minute:
the test waits for that one tick (at most about a minute), never for a second one.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from queuectl.domain.ports import Page
from queuectl.domain.schedules import run_id

from .processes import MONGO_ENV, Queue, make_queue, wait_for

TICK_WAIT_SECONDS = 90.0  # the next minute, plus worker start-up on a loaded machine


def kinds() -> list[str]:
    return ["sqlite", "mongodb"] if os.environ.get(MONGO_ENV) else ["sqlite"]


def open_queue(kind: str, tmp_path: Path) -> Queue:
    (tmp_path / kind).mkdir()
    queue = make_queue(kind, tmp_path / kind)
    queue.cli("config", "set", "poll_interval", "0.2")
    queue.cli("schedule", "add", "tick", "* * * * *", "--timeout", "60", "--", "echo", "ran")
    return queue


def run_ids(queue: Queue) -> list[str]:
    return sorted(job.id for job in queue.store.jobs.list(Page(limit=0)) if job.id.startswith("tick@"))


def enqueue_lines(queue: Queue) -> list[str]:
    return [line for log in (queue.home / "logs").glob("*") for line in log.read_text().splitlines()
            if "schedule tick: enqueued run" in line]


@pytest.mark.long
def test_two_workers_on_each_store_enqueue_and_run_the_due_tick_exactly_once(tmp_path):
    queues = [open_queue(kind, tmp_path) for kind in kinds()]
    try:
        firsts = [datetime.fromisoformat(q.cli_json("schedule", "list")[0]["next_run"]) for q in queues]
        for queue in queues:
            queue.cli("worker", "start", "--count", "2")
        for queue, first in zip(queues, firsts):
            # The first tick, or a later one if the workers took over a minute to start (then it collapsed).
            tick = wait_for(lambda: queue.store.schedules.get("tick").last_run, TICK_WAIT_SECONDS,
                            what="the schedule's first run")
            run = run_id("tick", tick)
            assert tick >= first
            queue.wait_state(run, "completed")
            assert len(queue.store.workers.workers()) == 2
            assert run_ids(queue) == [run]
            assert queue.store.jobs.get(run).attempts == 1
            assert len(enqueue_lines(queue)) == 1, enqueue_lines(queue)
            listed = queue.cli_json("schedule", "list")[0]
            assert datetime.fromisoformat(listed["last_run"]) == tick
            assert datetime.fromisoformat(listed["next_run"]) == tick + timedelta(minutes=1)
    finally:
        for queue in queues:
            queue.stop_workers()
            queue.close()
