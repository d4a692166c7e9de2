"""Poison jobs with real worker processes (SPEC 9.4): a job whose history outgrows what the store
can hold ends dead, or is trimmed, and no worker dies of it.

The reported case: ``head -c 65536 /dev/zero | tr '\\0' z; exit 1`` with 400 retries and
``backoff_base 1`` on MongoDB. Each attempt stored its 64 KiB output tail in the job's document,
which reached MongoDB's 16 MiB limit at about attempt 256; from then on every write of that job
failed, and every worker that met it died. Here the document is grown to just under the limit
directly (256 real attempts would take minutes), then real workers meet it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import bson
import pytest

from queuectl.adapters.mongo.documents import attempt_document
from queuectl.domain.model import Attempt, JobState

from .processes import Queue, make_queue, wait_for
from .test_worker_process import pid_alive, start

pytestmark = pytest.mark.fault

COMMAND = "head -c 65536 /dev/zero | tr '\\0' z; exit 1"
OUTPUT = "z" * 65536
MONGO_LIMIT = 16 * 1024 * 1024
HEADROOM = 10_000  # room for a claim's new entry, not for another 64 KiB output


@pytest.fixture
def mongo_queue(tmp_path):
    q = make_queue("mongodb", tmp_path)
    q.cli("config", "set", "backoff_base", "1")
    yield q
    q.stop_workers()
    q.close()


def collection(q: Queue):
    return q.store._db.collection("jobs")  # the raw documents: their size is what this is about


def document_size(q: Queue, job_id: str) -> int:
    return len(bson.encode(collection(q).find_one({"_id": job_id})))


def grow_to_the_limit(q: Queue, job_id: str) -> int:
    """Give the job the history of a job that ran ~255 times, each attempt keeping 64 KiB of output,
    up to HEADROOM bytes under 16 MiB, and make it due at once; returns its attempts."""
    doc = collection(q).find_one({"_id": job_id})
    started = datetime.now(timezone.utc) - timedelta(days=1)
    doc.update(state="failed", last_error="exit code 1", run_at=datetime.now(timezone.utc), history=[])
    while len(bson.encode(doc)) < MONGO_LIMIT - HEADROOM:
        n = len(doc["history"]) + 1
        entry = attempt_document(Attempt(n, "old-worker", "old-host", started, started, 1, "exit code 1",
                                         JobState.FAILED), f"token-{n}")
        doc["history"].append({**entry, "output": OUTPUT})
    overshoot = len(bson.encode(doc)) - (MONGO_LIMIT - HEADROOM)
    doc["history"][-1]["output"] = OUTPUT[overshoot:]
    doc["attempts"] = len(doc["history"])
    collection(q).replace_one({"_id": job_id}, doc)
    assert document_size(q, job_id) == MONGO_LIMIT - HEADROOM
    return doc["attempts"]


def the_fleet_goes_on(q: Queue, pids: list[int]) -> None:
    assert all(pid_alive(pid) for pid in pids)
    q.cli("enqueue", "--id", "after", "echo after")
    q.wait_state("after", "completed", timeout=60)
    assert all(pid_alive(pid) for pid in pids)
    assert len(q.cli_json("status")["workers"]) == len(pids)


def test_a_job_at_mongodbs_16_mib_limit_ends_dead_with_the_refusal_and_every_worker_stays_alive(mongo_queue):
    q = mongo_queue
    q.cli("config", "set", "history_max", "10000")  # no trimming can save it: the document must overflow
    q.cli("enqueue", "--id", "poison", "--max-retries", "400", COMMAND)
    attempts = grow_to_the_limit(q, "poison")
    pids = start(q, 2)
    q.wait_state("poison", "dead", timeout=120)
    job = q.store.jobs.get("poison")
    assert job.last_error.startswith("outcome not recorded: MongoDB refused it:")
    assert "16777216" in job.last_error and "full error" not in job.last_error  # the server's own words
    assert (job.attempts, len(job.history), job.lease_token) == (attempts + 1, attempts + 1, None)
    assert (job.history[-1].outcome, job.history[-1].error) == (JobState.DEAD, job.last_error)
    assert document_size(q, "poison") < 1024 * 1024  # its outputs went, its summaries stayed
    the_fleet_goes_on(q, pids)


def test_an_existing_job_grown_to_the_limit_is_trimmed_to_history_max_by_its_next_outcome(mongo_queue):
    q = mongo_queue
    q.cli("enqueue", "--id", "poison", "--max-retries", "400", COMMAND)
    attempts = grow_to_the_limit(q, "poison")
    collection(q).update_one({"_id": "poison"}, {"$set": {"max_retries": attempts}})  # the next attempt is the last
    pids = start(q, 2)
    q.wait_state("poison", "dead", timeout=120)
    job = q.store.jobs.get("poison")
    assert job.last_error == "exit code 1" and job.attempts == attempts + 1
    outputs = [log.output for log in q.store.jobs.logs("poison")]
    assert outputs[0] == OUTPUT and [bool(output) for output in outputs] == [True] * 100 + [False] * (attempts - 99)
    assert document_size(q, "poison") < 100 * (len(OUTPUT) + 1024)
    the_fleet_goes_on(q, pids)


@pytest.mark.parametrize("kind", ["sqlite", "mongodb"])
def test_a_job_printing_64_kib_per_failed_attempt_keeps_only_its_newest_history_max_outputs(kind, tmp_path):
    q = make_queue(kind, tmp_path)
    try:
        q.cli("config", "set", "backoff_base", "1")
        q.cli("config", "set", "history_max", "2")
        q.cli("enqueue", "--id", "flaky", "--max-retries", "4", COMMAND)
        pids = start(q, 2)
        q.wait_state("flaky", "dead", timeout=120)
        job = q.store.jobs.get("flaky")
        assert [(a.attempt, a.exit_code, a.error) for a in job.history] == [
            (1, 1, None), (2, 1, None), (3, 1, None), (4, 1, "exit code 1"), (5, 1, "exit code 1")]
        assert [log.output for log in q.store.jobs.logs("flaky")] == [OUTPUT, OUTPUT, "", "", ""]
        if kind == "mongodb":
            assert document_size(q, "flaky") < 2 * len(OUTPUT) + 4096
        wait_for(lambda: all(pid_alive(pid) for pid in pids), what="workers alive")
    finally:
        q.stop_workers()
        q.close()
