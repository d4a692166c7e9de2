"""What a job's environment holds: the worker's, minus anything that names or unlocks the store."""

from __future__ import annotations

from queuectl.adapters.shell_runner import job_environment

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
