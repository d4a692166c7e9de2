"""``enqueue --after X`` racing X's completion (SPEC 9.3), on every store several processes share:
two store connections, one enqueuing a dependent of X while the other records X's outcome, round
after round started together, the outcome a little later in some rounds (the enqueue is several
round trips on MongoDB), so that either may land first. The dependent never stays blocked: it ends
pending when X completed, cancelled when X died, at the latest after one upkeep sweep (on MongoDB a
dependent enqueued while X ran is released by the sweep that X's marked ending write calls for;
elsewhere the sweep has nothing to do). Without the enqueue's re-check, or without the ending
write's mark, some dependents stay blocked for good.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from queuectl.container import build_container
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import WorkerRef

from .processes import wait_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def stores(shared_store_url, home):
    opened = [build_container(shared_store_url, str(home)).store() for _ in range(2)]
    yield opened
    for store in opened:
        store.close()


def rounds(url: str) -> int:
    return 150 if url.startswith("sqlite") else 30  # the MongoDB-wire test server is slow


def test_a_dependent_enqueued_while_its_dependency_ends_is_never_left_blocked(stores, shared_store_url):
    enqueuer, worker = stores
    total = rounds(shared_store_url)
    delay = 0.0003 if shared_store_url.startswith("sqlite") else 0.008  # up to past an enqueue
    for n in range(total):
        worker.jobs.add(Job.new(f"x{n}", "true", NOW, max_retries=0))
    start, errors = threading.Barrier(2), []

    def enqueue_dependents() -> None:
        try:
            for n in range(total):
                start.wait()
                enqueuer.jobs.add(Job.new(f"y{n}", "true", NOW, after=[f"x{n}"]))
        except Exception as error:  # reported by the assertion below
            errors.append(error)
            start.abort()

    thread = threading.Thread(target=enqueue_dependents)
    thread.start()
    for n in range(total):
        job = worker.jobs.claim_next(WorkerRef("w", "h"), NOW, NOW + timedelta(seconds=30))
        token = job.lease_token
        start.wait()
        time.sleep((n % 6) * delay)
        job.succeed(NOW) if n % 2 == 0 else job.fail(NOW, "exit code 1", BackoffPolicy(2, 10), 1)
        assert worker.jobs.record_outcome(job, token)
    thread.join()
    assert errors == []
    expected = {n: JobState.PENDING if n % 2 == 0 else JobState.CANCELLED for n in range(total)}

    def ends() -> dict[int, JobState]:
        worker.jobs.release_dependents(NOW)  # what every worker's upkeep does on each heartbeat
        return {n: worker.jobs.get(f"y{n}").state for n in range(total)}

    # polled: the MongoDB-wire test server shows some acknowledged writes a moment late
    wait_for(lambda: ends() == expected, 20, what="every dependent to be settled")
