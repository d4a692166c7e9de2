"""Control moves racing workers' claims across processes (SPEC 9.2, issue 13's atomicity rule):
``update``, ``retry`` and ``cancel`` (one by one and in bulk) against claimers on the same jobs.

One wins each race, the loser gets ``InvalidTransition`` or ``ConcurrentUpdate``, and nothing is
half-applied: the invariants are checked from the stored records and what each process saw.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from queuectl.container import build_container
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import Page, Store, WorkerRef
from queuectl.domain.timeutil import to_epoch

from .test_store_concurrency import run_together

SCRIPT = Path(__file__).with_name("race_control.py")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
CLAIMERS = 2
NEW_PRIORITY = 7  # race_control.py's update
REFUSALS = ("is processing", "is completed", "kept changing")


@pytest.fixture
def store(shared_store_url, home):
    opened = build_container(shared_store_url, str(home)).store()
    yield opened
    opened.close()


def job_count(url: str) -> int:
    return 300 if url.startswith("sqlite") else 40  # the MongoDB-wire test server is slow


def add_jobs(store: Store, count: int, failed: bool = False) -> list[str]:
    """``count`` pending jobs; ``failed``: each already failed once and due again at NOW."""
    ids = [f"job-{n:04d}" for n in range(count)]
    assert store.jobs.add_many([Job.new(job_id, "true", NOW - timedelta(seconds=200), max_retries=3)
                                for job_id in ids]) == []
    while failed and (job := store.jobs.claim_next(WorkerRef("w0", "h"), NOW - timedelta(seconds=100),
                                                     NOW)) is not None:
        token = job.lease_token
        job.fail(NOW - timedelta(seconds=100), "exit code 1", BackoffPolicy(2, 10), 1)
        assert store.jobs.record_outcome(job, token)
    return ids


def race(url: str, home: Path, movers: list[list[str]]) -> tuple[dict[str, list[list[str]]], list[list[str]]]:
    """Claimers and ``movers`` at once: each claimer's lines by job id, and each mover's lines split."""
    claimers = [["claim", url, str(home), f"worker-{n}", str(to_epoch(NOW))] for n in range(CLAIMERS)]
    outputs = run_together(claimers + [[mover[0], url, str(home), str(to_epoch(NOW)), *mover[1:]]
                                       for mover in movers], script=SCRIPT)
    claims: dict[str, list[list[str]]] = defaultdict(list)
    for line in (line for lines in outputs[:CLAIMERS] for line in lines):
        words = line.split()
        claims[words[1]].append(words)
    return claims, [[line.split(maxsplit=2) for line in lines] for lines in outputs[CLAIMERS:]]


def verdicts(mover_lines: list[list[str]]) -> dict[str, list[str]]:
    """Each job id's verdicts (DONE, or the refusal's message) from one-by-one movers."""
    found: dict[str, list[str]] = defaultdict(list)
    for verdict, job_id, *rest in mover_lines:
        assert verdict == "DONE" or any(reason in rest[0] for reason in REFUSALS), rest
        found[job_id].append("DONE" if verdict == "DONE" else rest[0])
    return found


def stored(store: Store) -> dict[str, Job]:
    return {job.id: store.jobs.get(job.id) for job in store.jobs.list(Page(limit=0))}


def test_update_racing_claims_is_either_seen_by_the_claim_or_refused(store, shared_store_url, home):
    ids = add_jobs(store, job_count(shared_store_url))
    claims, movers = race(shared_store_url, home, [["update", *ids], ["update", *reversed(ids)]])
    done = verdicts(movers[0] + movers[1])
    jobs = stored(store)
    for job_id in ids:
        [[word, _id, _attempts, priority]] = claims[job_id]  # claimed once, its outcome recorded
        updated = "DONE" in done[job_id]
        assert word == "CLAIMED" and len(done[job_id]) == 2
        assert (int(priority) == NEW_PRIORITY) == updated, (job_id, claims[job_id], done[job_id])
        assert (jobs[job_id].priority == NEW_PRIORITY) == updated
        assert jobs[job_id].state is JobState.COMPLETED


def test_retry_racing_claims_of_failed_jobs_never_resets_a_running_attempt(store, shared_store_url, home):
    ids = add_jobs(store, job_count(shared_store_url), failed=True)
    claims, [mover] = race(shared_store_url, home, [["retry", *ids]])
    done = verdicts(mover)
    for job_id, job in stored(store).items():
        seen = claims[job_id]
        assert all(word == "CLAIMED" for word, *_ in seen), seen  # no outcome lost to a retry
        assert len(job.history) == 1 + len(seen)
        attempts = sorted(int(attempt) for _w, _i, attempt, _p in seen)  # two claimers: not in time order
        if done[job_id] == ["DONE"]:  # claimed before it (attempt 2), after it (attempt 1), both, or neither
            assert attempts in ([], [1], [2], [1, 2])
            assert (job.state, job.attempts) in ((JobState.PENDING, 0), (JobState.COMPLETED, 1))
            assert (job.state is JobState.PENDING) == (1 not in attempts)
        else:  # refused while its claim ran: that claim's attempt counts on
            assert "is processing" in done[job_id][0]
            assert attempts == [2]
            assert (job.state, job.attempts) == (JobState.COMPLETED, 2)


def test_cancel_racing_claims_either_stops_the_job_or_is_refused_once_it_completed(store, shared_store_url, home):
    ids = add_jobs(store, job_count(shared_store_url))
    claims, [mover] = race(shared_store_url, home, [["cancel", *ids]])
    done = verdicts(mover)
    for job_id, job in stored(store).items():
        words = [word for word, *_ in claims[job_id]]
        if done[job_id] == ["DONE"]:  # cancelled waiting (never run) or running (its outcome refused)
            assert job.state is JobState.CANCELLED and words in ([], ["LOST"])
            assert [entry.error for entry in job.history] == (["cancelled"] if words else [])
        else:
            assert "is completed" in done[job_id][0]
            assert job.state is JobState.COMPLETED and words == ["CLAIMED"]


def test_cancel_all_racing_claims_cancels_exactly_the_jobs_no_claim_took(store, shared_store_url, home):
    ids = add_jobs(store, job_count(shared_store_url))
    claims, [[[_word, count]]] = race(shared_store_url, home, [["cancel_all", "pending", "failed"]])
    assert all(words[0] == "CLAIMED" for seen in claims.values() for words in seen)  # no running job cancelled
    assert int(count) + len(claims) == len(ids) and all(len(seen) == 1 for seen in claims.values())
    states = {job_id: job.state for job_id, job in stored(store).items()}
    assert {job_id for job_id, state in states.items() if state is JobState.COMPLETED} == set(claims)
    assert sum(state is JobState.CANCELLED for state in states.values()) == int(count)


def test_retry_all_racing_claims_resets_exactly_the_jobs_it_counts(store, shared_store_url, home):
    ids = add_jobs(store, job_count(shared_store_url), failed=True)
    claims, [[[_word, count]]] = race(shared_store_url, home, [["retry_all", "failed"]])
    jobs = stored(store)
    assert all(len(seen) == 1 and seen[0][0] == "CLAIMED" for seen in claims.values())
    after_retry = [job_id for job_id, [[_w, _i, attempts, _p]] in claims.items() if attempts == "1"]
    still_pending = [job_id for job_id, job in jobs.items() if job.state is JobState.PENDING]
    assert int(count) == len(after_retry) + len(still_pending)
    assert all(jobs[job_id].attempts == 0 for job_id in still_pending)
    assert len(claims) + len(still_pending) == len(ids)
