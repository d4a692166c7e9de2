"""Processes claiming at once never run more jobs of a limited queue than its limit (SPEC 9.7).

Six processes claim (some one job at a time, some in batches), hold each job
~40 ms and finish it, on a queue limited to 2 mixed with unlimited jobs. Each
job's stored output holds the interval it was held (``race_limits.py``),
read after its claim returned and before its ending write: inside its place
under the limit. At no instant may more than 2 of those intervals of the
limited queue overlap, and 2 must overlap at some instant (else the check
could not fail).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from queuectl.container import build_container
from queuectl.domain.model import Job, JobState
from queuectl.domain.timeutil import to_epoch

from .conftest import _POSTGRES, _url_fixture
from .test_store_concurrency import run_together

SCRIPT = Path(__file__).with_name("race_limits.py")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
LIMIT, PROCESSES, HOLD = 2, 6, 0.04
LIMITED_JOBS, OTHER_JOBS = 20, 20


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), _POSTGRES])
def url(request, tmp_path):
    yield from _url_fixture(request, tmp_path)


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals that hold one instant (an end before a start at the same time)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def test_processes_claiming_at_once_never_run_more_of_a_limited_queue_than_its_limit(url, home):
    store = build_container(url, str(home)).store()
    try:
        jobs = [Job.new(f"deploy-{n:02d}", "true", NOW, queue="deploys") for n in range(LIMITED_JOBS)]
        jobs += [Job.new(f"mail-{n:02d}", "true", NOW, queue="emails") for n in range(OTHER_JOBS)]
        assert store.jobs.add_many(jobs) == []
        store.queues.set_limit("deploys", LIMIT)

        run_together([[url, str(home), f"worker-{n}", str(to_epoch(NOW)), str(HOLD), str(1 + n % 3)]
                      for n in range(PROCESSES)], script=SCRIPT)

        assert store.jobs.count_by_state()[JobState.COMPLETED] == LIMITED_JOBS + OTHER_JOBS
        held = {job.id: tuple(map(float, store.jobs.logs(job.id)[0].output.split())) for job in jobs}
        assert all(start < end for start, end in held.values())
        deploys = [interval for job_id, interval in held.items() if job_id.startswith("deploy-")]
        assert most_at_once(deploys) == LIMIT
        assert most_at_once(list(held.values())) > LIMIT  # the other queue ran beside it
    finally:
        store.close()
