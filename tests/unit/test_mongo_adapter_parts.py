"""The MongoDB adapter's parts that need no real server, on ``mongomock``: in milliseconds.

Covered here: the job and worker documents, the settings repository, the
worker registry, and the stats and metrics pipelines (checked against the
in-memory store, the reference, on the same jobs).

Not here, and why: claiming and every write that closes an attempt stay with
the shared contract suite on the MongoDB-wire server. mongomock 4.3 cannot
serve them: in the claim's pipeline update it stores the history entry's
expressions (``$add``, ``$literal``) unevaluated inside ``$concatArrays``'s
array, and the write that closes an attempt (``documents.closing_history``)
raises ``NotImplementedError`` on ``$range``. Its ``find_one_and_update`` is
also not atomic across processes, which is the point of a claim.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import mongomock
import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.adapters.mongo.database import MongoDatabase
from queuectl.adapters.mongo.documents import job_document, job_from_document, worker_document, worker_from_document
from queuectl.adapters.mongo.jobs import MongoJobRepository
from queuectl.adapters.mongo.settings_workers import MongoSettingsRepository, MongoWorkerRegistry
from queuectl.adapters.mongo.stats import MongoStatsRepository
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import ConcurrentUpdate, DuplicateJob, StoreUnavailable
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import WorkerInfo

T = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)  # BSON keeps milliseconds
HOUR = timedelta(hours=1)
BACKOFF = BackoffPolicy(base=2, maximum=3600)


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


@pytest.fixture
def db() -> MongoDatabase:
    client = mongomock.MongoClient(tz_aware=True, tzinfo=timezone.utc)
    database = MongoDatabase("mongodb://app:pw@mock.invalid/unit_jobs", client=client)
    yield database
    database.close()


def ran(job_id: str, start: float, outcomes: list[tuple[float, int]], **fields) -> Job:
    """A job built through the model: one attempt per (seconds, exit code), from ``start`` on."""
    job = Job.new(job_id, "true", at(start), **fields)
    clock = start
    for seconds, code in outcomes:
        job.claim("worker-1", "host-a", f"token-{clock}", at(clock), at(clock + 30))
        clock += seconds
        if code == 0:
            job.succeed(at(clock))
        else:
            job.fail(at(clock), f"exit code {code}", BACKOFF, exit_code=code)
        clock += 1
    return job


def a_job_of_every_field() -> Job:
    job = ran("j1", -100, [(1.5, 3)], queue="emails", priority=-7, max_retries=2, timeout=12.5)
    job.claim("worker-2", "host-b", "token-open", at(-10), at(20))  # attempt 2 is running
    return job


def test_a_job_with_its_history_and_open_lease_is_the_same_job_after_a_trip_through_a_document(db):
    job = a_job_of_every_field()
    db.collection("jobs").insert_one(job_document(job, seq=41))
    stored = db.collection("jobs").find_one({"_id": "j1"})
    assert (stored["seq"], stored["state"], stored["history"][0]["outcome"]) == (41, "processing", "failed")
    assert job_from_document(stored) == job


def test_the_job_repository_gives_back_what_it_was_given_and_refuses_a_second_job_of_one_id(db):
    jobs = MongoJobRepository(db)
    job = a_job_of_every_field()
    jobs.add(job)
    assert jobs.get("j1") == job
    with pytest.raises(DuplicateJob):
        jobs.add(Job.new("j1", "echo other", T))
    assert jobs.get("j1").command == "true"


def test_a_worker_record_is_the_same_after_a_trip_through_a_document():
    info = WorkerInfo("host-a-12-ab", "host-a", 12, pid_started_at=1234.5, queues=("emails", "default"),
                      started_at=T, last_heartbeat=at(5), current_job="j1", stop_requested=True)
    assert worker_from_document(worker_document(info)) == info


def test_settings_are_saved_overwritten_and_loaded_with_their_keys_normalised(db):
    settings = MongoSettingsRepository(db)
    assert settings.load() == {}
    settings.save("backoff_base", 3.0)
    settings.save("backoff_base", 1.5)
    settings.save("max_retries", 5)
    db.collection("settings").insert_one({"_id": "Lease-Seconds", "value": 9})  # as an older version wrote it
    db.collection("settings").insert_one({"_id": "no_such_key", "value": "kept"})
    assert settings.load() == {"backoff_base": 1.5, "max_retries": 5, "lease_seconds": 9, "no_such_key": "kept"}


def worker(worker_id: str, started: float) -> WorkerInfo:
    return WorkerInfo(worker_id, "host-a", 100 + int(started), pid_started_at=1.0, queues=(),
                      started_at=at(started), last_heartbeat=at(started))


def test_the_registry_lists_workers_oldest_first_and_a_second_registration_replaces_the_first(db):
    registry = MongoWorkerRegistry(db)
    registry.register(worker("w-b", 10))
    registry.register(worker("w-c", 5))
    registry.register(worker("w-a", 10))
    registry.register(worker("w-c", 1))
    assert [(w.id, w.started_at) for w in registry.workers()] == [("w-c", at(1)), ("w-a", at(10)), ("w-b", at(10))]
    registry.deregister("w-a")
    registry.deregister("w-unknown")
    assert [w.id for w in registry.workers()] == ["w-c", "w-b"]


def test_a_heartbeat_records_the_current_job_and_answers_false_once_a_stop_is_requested(db):
    registry = MongoWorkerRegistry(db)
    registry.register(worker("w-1", 0))
    registry.register(worker("w-2", 0))
    assert registry.heartbeat("w-1", at(7), "j9") is True
    [w1, _] = registry.workers()
    assert (w1.last_heartbeat, w1.current_job, w1.stop_requested) == (at(7), "j9", False)
    registry.request_stop(["w-1"])
    registry.request_stop([])
    assert registry.heartbeat("w-1", at(8), None) is False
    assert registry.heartbeat("w-2", at(8), None) is True
    assert registry.heartbeat("w-gone", at(8), None) is False  # deregistered: stop
    assert [w.stop_requested for w in registry.workers()] == [True, False]


def stats_scenario() -> list[Job]:
    """Runs in and out of a one-hour window, a retry then the DLQ, a pending retry, a cancelled and
    a running job, and waiting jobs in two queues."""
    cancelled = Job.new("cancelled", "true", at(-100))
    cancelled.claim("worker-1", "host-a", "t", at(-100), at(-70))
    cancelled.cancel(at(-95))
    running = Job.new("running", "true", at(-20))
    running.claim("worker-1", "host-a", "t", at(-20), at(10))
    return [
        ran("old", -7200, [(100, 0)]),
        ran("done-1", -600, [(2, 0)]), ran("done-2", -500, [(4, 0)]), ran("done-3", -400, [(10, 0)]),
        ran("flaky", -300, [(1, 1), (1, 1)], max_retries=1),
        ran("retry", -200, [(3, 1)]), cancelled, running,
        Job.new("waiting-a", "true", at(-30), queue="emails"), Job.new("waiting-b", "true", at(-120)),
        Job.new("later", "true", at(0), queue="emails", run_at=at(3600)),
    ]


@pytest.fixture
def twins(db) -> tuple[MongoStatsRepository, InMemoryStore]:
    """The same jobs in mongomock (as documents) and in the in-memory store."""
    memory = InMemoryStore()
    jobs = stats_scenario()
    db.collection("jobs").insert_many([job_document(job, seq) for seq, job in enumerate(jobs, start=1)])
    memory.jobs.add_many(jobs)
    yield MongoStatsRepository(db), memory
    memory.close()


@pytest.mark.parametrize("now, since", [(T, T - HOUR), (T, at(-390)), (at(-390), at(-7200)), (at(-200), at(-200) - HOUR)],
                         ids=["last hour", "from an attempt's end", "an earlier window", "before any was due"])
def test_the_stats_pipelines_compute_the_figures_of_the_in_memory_store(twins, now, since):
    mongo, memory = twins
    assert mongo.stats(now, since) == memory.stats.stats(now, since)


def test_the_stats_pipelines_agree_on_figures_that_are_not_trivial(twins):
    stats = twins[0].stats(T, T - HOUR)  # so the comparison above compares something
    assert dict(stats.outcomes) == {JobState.COMPLETED: 3, JobState.FAILED: 2, JobState.DEAD: 1,
                                    JobState.CANCELLED: 1}
    assert (stats.durations.count, stats.durations.p50, stats.durations.max) == (6, 2, 10)
    assert stats.oldest_due_run_at == at(-195)  # "retry": failed at -197, due 2 s later


@pytest.mark.parametrize("since, until", [(None, None), (at(-390), None), (at(-7200), at(-390))],
                         ids=["ever", "since", "between"])
def test_the_metrics_totals_pipeline_computes_the_figures_of_the_in_memory_store(twins, since, until):
    mongo, memory = twins
    buckets = (1.0, 2.5, 5.0, 60.0)
    totals = mongo.totals(buckets, since, until)
    assert totals == memory.stats.totals(buckets, since, until)
    if since is None:
        assert totals.buckets == ((1.0, 2), (2.5, 3), (5.0, 5), (60.0, 6)) and totals.duration_count == 7


def test_a_cancel_that_keeps_losing_its_compare_and_set_is_a_concurrent_update_not_an_outage(db, monkeypatch):
    jobs = MongoJobRepository(db)
    jobs.add(Job.new("busy", "true", at(0)))
    collection = db.collection("jobs")
    read = collection.find_one

    def read_then_another_writer_moves_it(*args, **kwargs):
        doc = read(*args, **kwargs)
        other = "failed" if doc["state"] == "pending" else "pending"  # both waiting: cancel stays allowed
        collection.update_one({"_id": "busy"}, {"$set": {"state": other}})
        return doc

    monkeypatch.setattr(collection, "find_one", read_then_another_writer_moves_it)
    monkeypatch.setattr(MongoJobRepository, "_jobs", property(lambda self: collection))
    with pytest.raises(ConcurrentUpdate, match="kept changing") as raised:
        jobs.cancel("busy", at(1))
    assert not isinstance(raised.value, StoreUnavailable)
