"""What a job's environment holds: the worker's, minus anything that names or unlocks the store, plus the job's
own variables and identity."""

from __future__ import annotations

from datetime import datetime, timezone

from queuectl.adapters.shell_runner import command_environment, job_environment
from queuectl.domain.model import Job

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)

WORKER_ENV = {"PATH": "/usr/bin", "HOME": "/home/ann", "QUEUECTL_HOME": "/home/ann/q",
              "QUEUECTL_DB": "mongodb://ann:s3cret@db.example/q", "MONGO_URI": "mongodb://other/q",
              "PGPASSWORD": "s3cret", "NOTE": "the password is s3cret"}


def test_a_job_never_gets_the_store_variables_nor_a_variable_holding_the_password():
    env = job_environment(WORKER_ENV, "mongodb://ann:s3cret@db.example/q")
    assert env == {"PATH": "/usr/bin", "HOME": "/home/ann", "QUEUECTL_HOME": "/home/ann/q"}


def test_an_escaped_password_is_recognised_in_its_plain_form_too():
    env = job_environment({"TOKEN": "p@ss/word", "PATH": "/bin"}, "mongodb://ann:p%40ss%2Fword@db/q")
    assert env == {"PATH": "/bin"}


def test_a_store_url_without_a_password_still_keeps_its_variables_from_jobs():
    env = job_environment({"QUEUECTL_DB": "sqlite:////q/queue.db", "MONGO_URI": "mongodb://m/q", "A": "1"},
                          "sqlite:////q/queue.db")
    assert env == {"A": "1"}


def test_a_short_password_does_not_strip_ordinary_variables_that_happen_to_contain_it():
    env = job_environment({"PATH": "/usr/sbin:/usr/bin", "X": "1", "SECRET": "s", "URL": "mongodb://a:s@h/q"},
                          "mongodb://ann:s@db.example/q")
    assert env == {"PATH": "/usr/sbin:/usr/bin", "X": "1"}


def _job(**context) -> Job:
    job = Job.new("build-42", "make", NOW, queue="nightly")
    job.env = context.get("env", {})  # set directly: a stored row is not validated again
    job.attempts = 2
    return job


def test_a_command_gets_the_workers_environment_the_jobs_variables_and_its_own_identity():
    env = command_environment({"PATH": "/usr/bin", "CI": "0"}, _job(env={"CI": "1", "MYVAR": "x"}), None)
    assert env == {"PATH": "/usr/bin", "CI": "1", "MYVAR": "x", "QUEUECTL_JOB_ID": "build-42",
                   "QUEUECTL_ATTEMPT": "2", "QUEUECTL_QUEUE": "nightly"}


def test_a_jobs_variables_cannot_bring_back_the_store_url_nor_its_password_nor_override_its_identity():
    url = "mongodb://ann:s3cret@db.example/q"
    stored = {"QUEUECTL_DB": url, "MONGO_URI": url, "TOKEN": "s3cret", "QUEUECTL_JOB_ID": "forged", "OK": "1"}
    env = command_environment(job_environment(WORKER_ENV, url), _job(env=stored), url)
    assert env == {"PATH": "/usr/bin", "HOME": "/home/ann", "QUEUECTL_HOME": "/home/ann/q", "OK": "1",
                   "QUEUECTL_JOB_ID": "build-42", "QUEUECTL_ATTEMPT": "2", "QUEUECTL_QUEUE": "nightly"}


def test_the_workers_own_environment_is_not_changed_by_a_job():
    base = {"PATH": "/usr/bin"}
    command_environment(base, _job(env={"A": "1"}), None)
    assert base == {"PATH": "/usr/bin"}
