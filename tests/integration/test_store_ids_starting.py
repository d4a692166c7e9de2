"""The store contract of ``ids_starting``, the shell's job id completion: every store, same answers."""

from __future__ import annotations

from datetime import datetime, timezone

from queuectl.domain.model import Job

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def add(store, *job_ids: str) -> None:
    for job_id in job_ids:
        store.jobs.add(Job.new(job_id, "true", NOW))


def test_ids_starting_a_prefix_come_newest_first(store):
    add(store, "build-1", "deploy-1", "build-2", "build-10", "builder")
    assert store.jobs.ids_starting("build-", 50) == ["build-10", "build-2", "build-1"]
    assert store.jobs.ids_starting("build", 50) == ["builder", "build-10", "build-2", "build-1"]


def test_ids_starting_stops_at_the_limit_keeping_the_newest(store):
    add(store, *(f"job-{n}" for n in range(8)))
    assert store.jobs.ids_starting("job-", 3) == ["job-7", "job-6", "job-5"]
    assert store.jobs.ids_starting("job-", 0) == []  # bounded: never "all"


def test_an_empty_prefix_gives_the_newest_ids(store):
    add(store, "a", "b", "c")
    assert store.jobs.ids_starting("", 2) == ["c", "b"]


def test_the_prefix_is_case_sensitive_and_literal(store):
    add(store, "Job.1", "job.1", "jobx1", "job_1", "job-1")
    assert store.jobs.ids_starting("job.", 50) == ["job.1"]  # "." is no wildcard
    assert store.jobs.ids_starting("job_", 50) == ["job_1"]  # nor "_" (SQL LIKE's)
    assert store.jobs.ids_starting("J", 50) == ["Job.1"]
    assert store.jobs.ids_starting("job-1", 50) == ["job-1"]  # the whole id is its own prefix


def test_no_match_and_an_empty_store_give_nothing(store):
    assert store.jobs.ids_starting("any", 50) == []
    add(store, "a1")
    assert store.jobs.ids_starting("b", 50) == []
    assert store.jobs.ids_starting("a1-longer", 50) == []
