"""The Python API on the in-memory store: the CLI's rules and messages, as a typed client."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import queuectl
from queuectl.domain.model import Job as StoredJob
from queuectl.domain.ports import WorkerRef
from queuectl.entrypoints.api_job import INTERNAL_FIELDS


@pytest.fixture
def q(tmp_path):
    with queuectl.connect(db="memory://", home=tmp_path / "home") as client:
        yield client


def store_of(client):
    return client._container.store()


def finish(client, job_id: str) -> None:
    """What a worker does: claim the job, run it (exit 0) and record the outcome."""
    store, now = store_of(client), datetime.now(timezone.utc)
    job = store.jobs.claim_next(WorkerRef("w1", "host"), now, now + timedelta(seconds=30))
    assert job is not None and job.id == job_id
    token = job.lease_token
    job.succeed(now)
    assert store.jobs.record_outcome(job, token)


def test_enqueue_returns_the_stored_job_with_the_options_given(q, tmp_path):
    job = q.enqueue("make test", id="build-1", queue="ci", priority=5, max_retries=1, timeout=60,
                    cwd=tmp_path, env={"MODE": "fast"})
    assert (job.id, job.command, job.state, job.queue, job.priority) == ("build-1", "make test", "pending", "ci", 5)
    assert (job.max_retries, job.timeout, job.cwd, dict(job.env)) == (1, 60, str(tmp_path), {"MODE": "fast"})
    assert q.get("build-1") == job


def test_a_job_without_options_gets_the_clis_defaults(q):
    job = q.enqueue("true")
    assert len(job.id) == 16 and job.queue == "default" and job.priority == 0
    assert job.max_retries == 3 and job.timeout == 0 and job.cwd == os.getcwd()
    assert job.run_at == job.created_at


def test_an_option_given_as_none_counts_as_not_given(q):
    job = q.enqueue("true", id=None, queue=None, priority=None, cwd=None)
    assert job.queue == "default" and job.cwd == os.getcwd()


def test_a_relative_cwd_is_taken_from_the_current_directory(q):
    assert q.enqueue("true", cwd="sub/dir").cwd == os.path.join(os.getcwd(), "sub", "dir")


def test_run_at_takes_a_datetime_without_offset_as_utc(q):
    job = q.enqueue("true", run_at=datetime(2030, 1, 2, 3, 4, 5))
    assert job.run_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert q.enqueue("true", run_at="2030-01-02T03:04:05+01:00").run_at.hour == 2


def test_delay_takes_a_timedelta_seconds_or_the_clis_text(q):
    for delay in (timedelta(minutes=5), 300, "5m"):
        job = q.enqueue("true", delay=delay)
        assert job.run_at - job.created_at == timedelta(minutes=5)


@pytest.mark.parametrize("options, message", [
    ({"run_at": "2030-01-01", "delay": 5}, "give run_at or delay, not both"),
    ({"priority": "high"}, "\"priority\" must be an integer, got 'high'"),
    ({"id": "bad id"}, "invalid job id 'bad id': use 1-128 characters of A-Z a-z 0-9 . _ : -"),
    ({"delay": "soon"}, "invalid duration 'soon': use seconds or a number with s, m, h or d"),
    ({"env": {"QUEUECTL_DB": "x"}}, "a job cannot set QUEUECTL_DB: a job never receives the store URL"),
    ({"colour": "red"}, "unknown job field(s): 'colour'"),
])
def test_an_invalid_job_is_refused_with_the_domains_message_and_nothing_is_stored(q, options, message):
    with pytest.raises(queuectl.InvalidJob) as refused:
        q.enqueue("true", **options)
    assert str(refused.value) == message
    assert q.list() == []


def test_a_blank_command_is_an_invalid_job(q):
    with pytest.raises(queuectl.InvalidJob, match="non-empty \"command\""):
        q.enqueue("  ")


def test_a_duplicate_id_is_refused_and_the_first_job_stays(q):
    q.enqueue("echo first", id="a")
    with pytest.raises(queuectl.DuplicateJob) as refused:
        q.enqueue("echo second", id="a")
    assert str(refused.value) == "job 'a' already exists"
    assert q.get("a").command == "echo first"


def test_after_makes_a_blocked_job_released_when_its_dependency_completes(q):
    q.enqueue("make", id="build")
    test = q.enqueue("make test", id="test", after=["build"])
    assert (test.state, test.after) == ("blocked", ("build",))
    finish(q, "build")
    assert q.get("test").state == "pending"
    with pytest.raises(queuectl.QueuectlError) as unknown:
        q.enqueue("echo", id="orphan", after=("nope",))
    assert str(unknown.value) == "dependency 'nope' not found: --after takes the id of an existing job"
    with pytest.raises(queuectl.JobNotFound):
        q.get("orphan")


def test_get_of_an_unknown_id_raises_job_not_found(q):
    with pytest.raises(queuectl.JobNotFound) as missing:
        q.get("nope")
    assert str(missing.value) == "job 'nope' not found"
    assert isinstance(missing.value, queuectl.QueuectlError)


def test_list_filters_by_state_and_queue_newest_first_within_the_limit(q):
    for n in range(3):
        q.enqueue("true", id=f"a{n}", queue="alpha")
    q.enqueue("true", id="b0", queue="beta")
    q.cancel("a1")
    assert [job.id for job in q.list()] == ["b0", "a2", "a1", "a0"]
    assert [job.id for job in q.list(queue="alpha", state="pending")] == ["a2", "a0"]
    assert [job.id for job in q.list(state=queuectl.JobState.CANCELLED)] == ["a1"]
    assert [job.id for job in q.list(limit=2)] == ["b0", "a2"]
    assert len(q.list(limit=0)) == 4


@pytest.mark.parametrize("arguments, message", [
    ({"state": "done"},
     "unknown state 'done' (one of: pending, blocked, processing, completed, failed, dead, cancelled)"),
    ({"limit": -1}, "\"limit\" must be an integer from 0 to 1000000, got -1"),
    ({"queue": "a b"}, "invalid queue name 'a b': use 1-128 characters of A-Z a-z 0-9 . _ : -"),
])
def test_list_refuses_a_bad_filter(q, arguments, message):
    with pytest.raises(queuectl.InvalidJob) as refused:
        q.list(**arguments)
    assert str(refused.value) == message


def test_cancel_then_retry_moves_the_job_and_a_refused_move_names_the_state(q):
    q.enqueue("true", id="a")
    assert q.cancel("a").state == "cancelled"
    with pytest.raises(queuectl.InvalidTransition) as refused:
        q.cancel("a")
    assert str(refused.value) == "job 'a' is cancelled: cannot cancel"
    retried = q.retry("a")
    assert (retried.state, retried.attempts) == ("pending", 0)
    with pytest.raises(queuectl.InvalidTransition, match="cannot retry it"):
        q.retry("a")
    with pytest.raises(queuectl.JobNotFound):
        q.cancel("nope")


def test_wait_returns_the_final_jobs_in_the_order_given(q):
    q.enqueue("true", id="a")
    q.enqueue("true", id="b")
    q.cancel("b")
    worker = threading.Timer(0.3, finish, args=(q, "a"))
    worker.start()
    try:
        jobs = q.wait(["b", "a"], timeout=30)
    finally:
        worker.join()
    assert [(job.id, job.state) for job in jobs] == [("b", "cancelled"), ("a", "completed")]


def test_wait_takes_one_id_as_a_string(q):
    q.enqueue("true", id="a")
    q.cancel("a")
    assert [job.id for job in q.wait("a")] == ["a"]


def test_wait_timing_out_names_how_many_jobs_are_unfinished(q):
    q.enqueue("true", id="a")
    q.enqueue("true", id="b")
    q.cancel("b")
    with pytest.raises(queuectl.WaitTimeout) as late:
        q.wait(["a", "b"], timeout=0.2)
    assert str(late.value) == "timed out after 0.2s: 1 job still unfinished"
    assert late.value.unfinished == 1 and [job.id for job in late.value.jobs] == ["b"]


def test_wait_for_an_unknown_id_raises_job_not_found(q):
    with pytest.raises(queuectl.JobNotFound):
        q.wait(["nope"], timeout=1)


def test_a_returned_job_is_a_read_only_copy(q):
    job = q.enqueue("true", id="a", env={"A": "1"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.state = queuectl.JobState.CANCELLED  # type: ignore[misc]
    with pytest.raises(TypeError):
        job.env["A"] = "2"  # type: ignore[index]
    assert q.get("a").env == {"A": "1"}


def test_the_public_job_has_every_field_of_the_record_but_the_lease():
    record = {field.name for field in dataclasses.fields(StoredJob)}
    public = {field.name for field in dataclasses.fields(queuectl.Job)}
    assert public == record - INTERNAL_FIELDS


def test_a_closed_client_refuses_calls_and_a_context_manager_closes_it(tmp_path):
    with queuectl.connect(db="memory://", home=str(tmp_path)) as q:
        q.enqueue("true")
    with pytest.raises(queuectl.ClientClosed, match="closed"):
        q.list()
    q.close()  # twice is fine


def test_connect_uses_the_clis_rules_for_the_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QUEUECTL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QUEUECTL_DB", raising=False)
    monkeypatch.delenv("MONGO_URI", raising=False)
    assert queuectl.connect().url == f"sqlite:///{tmp_path / 'home' / 'queue.db'}"
    (tmp_path / ".env").write_text("MONGO_URI=mongodb://u:secret@db.example/q\n")
    (tmp_path / ".env").chmod(0o600)
    assert queuectl.connect().url == "mongodb://u:****@db.example/q"
    monkeypatch.setenv("QUEUECTL_DB", "memory://")
    assert queuectl.connect().url == "memory://"
    assert queuectl.connect(db="sqlite:///x.db").url == "sqlite:///x.db"


def test_an_unsupported_store_url_fails_at_connect_with_the_clis_message(tmp_path):
    with pytest.raises(queuectl.UnsupportedStore) as refused:
        queuectl.connect(db="bogus://x", home=str(tmp_path))
    assert str(refused.value) == ("unsupported store URL scheme 'bogus': use sqlite:///PATH, mongodb://, "
                                  "mongodb+srv:// or postgresql://")


def test_importing_queuectl_loads_no_store_driver_container_or_cli():
    probe = ("import sys, queuectl; print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('sqlalchemy', 'pymongo', 'psycopg', 'click', 'dependency_injector') or m.startswith('queuectl.')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          cwd=Path(queuectl.__file__).parent.parent)
    assert done.stdout.strip() == "[]"


def test_the_public_names_load_on_first_use():
    assert queuectl.QueuectlError.__module__ == "queuectl.domain.errors"
    assert {"connect", "Client", "Job", "WaitTimeout", "JobState"} <= set(dir(queuectl))
    assert all(getattr(queuectl, name) is not None for name in queuectl.__all__)
    with pytest.raises(AttributeError):
        queuectl.no_such_name  # noqa: B018


def test_times_are_kept_to_the_millisecond_as_every_store_keeps_them(q):
    job = q.enqueue("true", run_at=datetime(2030, 1, 2, 3, 4, 5, 678999, tzinfo=timezone.utc))
    assert job.run_at.microsecond == 678000
    assert all(moment.microsecond % 1000 == 0 for moment in (job.created_at, job.updated_at))


def test_wait_without_ids_waits_for_every_job_of_the_queue(q):
    q.enqueue("true", id="a", queue="ci")
    q.enqueue("true", id="other", queue="nightly", delay="1h")
    worker = threading.Timer(0.3, finish, args=(q, "a"))
    worker.start()
    try:
        jobs = q.wait(queue="ci", timeout=30)
    finally:
        worker.join()
    assert [(job.id, job.state) for job in jobs] == [("a", "completed")]
    with pytest.raises(queuectl.WaitTimeout, match="1 job still unfinished"):
        q.wait(timeout=0.1)


def test_wait_takes_ids_or_a_queue_not_both(q):
    with pytest.raises(queuectl.InvalidJob) as refused:
        q.wait(["a"], queue="ci")
    assert str(refused.value) == "give job ids or queue, not both"


def test_an_untrusted_env_file_is_ignored_with_a_warning_as_the_cli_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUEUECTL_DB", raising=False)
    monkeypatch.delenv("MONGO_URI", raising=False)
    (tmp_path / ".env").write_text("QUEUECTL_DB=memory://\n")
    (tmp_path / ".env").chmod(0o666)
    with pytest.warns(UserWarning, match=r"warning: ignoring .*\.env: .*writable"):
        client = queuectl.connect(home=tmp_path / "home")
    assert client.url == f"sqlite:///{tmp_path / 'home' / 'queue.db'}"
