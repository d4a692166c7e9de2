"""The store contract across processes: claims stay atomic, a new store opens safely.

Every process waits at a start line (a line on its stdin) so that they really
run at the same time; nothing sleeps.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from queuectl.container import build_container
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Page
from queuectl.domain.timeutil import to_epoch

WORKER_SCRIPT = Path(__file__).with_name("race_worker.py")
PROCESSES = 4
TIMEOUT = 300
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def run_together(argument_lists: list[list[str]], script: Path = WORKER_SCRIPT) -> list[list[str]]:
    """Start one ``script`` (race_worker) per argument list, release them at once, return their output lines."""
    children = [subprocess.Popen([sys.executable, str(script), *arguments], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for arguments in argument_lists]
    try:
        for child in children:
            assert child.stdout.readline() == "ready\n", child.communicate(timeout=TIMEOUT)[1]
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = []
        for child in children:
            out, err = child.communicate(timeout=TIMEOUT)
            assert child.returncode == 0, err
            outputs.append(out.splitlines())
        return outputs
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def test_four_processes_claim_every_job_exactly_once(shared_store_url, home):
    store = build_container(shared_store_url, str(home)).store()
    # The MongoDB-wire test server sorts by scanning: keep its share small.
    per_process = 500 if shared_store_url.startswith("sqlite") else 50
    ids = [f"job-{n:04d}" for n in range(PROCESSES * per_process)]
    assert store.jobs.add_many([Job.new(job_id, "true", NOW) for job_id in ids]) == []

    outputs = run_together([["claim", shared_store_url, str(home), f"worker-{n}", str(to_epoch(NOW))]
                            for n in range(PROCESSES)])

    claimed = [line for lines in outputs for line in lines]
    assert not [line for line in claimed if line.startswith("LOST")]
    assert len(claimed) == len(ids)
    assert sorted(claimed) == ids
    assert store.jobs.count_by_state()[JobState.COMPLETED] == len(ids)
    store.close()


def test_several_processes_can_create_and_fill_a_new_store_at_once(shared_store_url, home):
    outputs = run_together([["enqueue", shared_store_url, str(home), f"p{n}", "50", str(to_epoch(NOW))]
                            for n in range(PROCESSES)])

    assert outputs == [[]] * PROCESSES
    store = build_container(shared_store_url, str(home)).store()
    assert len(store.jobs.list(Page(limit=0))) == PROCESSES * 50
    store.close()
