"""The Python API on every store, beside the real CLI and a real worker.

Each failure is caused once through the CLI (a subprocess) and once through the
API on the same store: the exception's message is the CLI's ``Error:`` line.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import queuectl

from .processes import Queue


def test_every_method_works_on_every_store(store_url, home):
    with queuectl.connect(db=store_url, home=str(home)) as q:
        job = q.enqueue("echo hi", id="a", queue="ci", priority=2, env={"MODE": "x"})
        q.enqueue("true", id="b", delay="1h")
        assert q.get("a") == job and q.get("a").env == {"MODE": "x"}
        assert [j.id for j in q.list(queue="ci")] == ["a"]
        assert [j.id for j in q.list(state="pending")] == ["b", "a"]
        assert q.cancel("a").state == "cancelled"
        assert [(j.id, j.state) for j in q.wait(["a"], timeout=10)] == [("a", "cancelled")]
        with pytest.raises(queuectl.WaitTimeout, match="1 job still unfinished"):
            q.wait(["a", "b"], timeout=0.1)
        assert q.retry("a").state == "pending"
        with pytest.raises(queuectl.JobNotFound):
            q.get("nope")


@pytest.fixture
def queue(shared_store_url, home):
    made = Queue(home, shared_store_url)
    yield made
    made.stop_workers()
    made.close()


def cli_error(queue: Queue, *args: str) -> str:
    """The CLI's one ``Error:`` line for a failed operation, without ``Error: ``."""
    result = queue.cli(*args, check=False)
    assert result.returncode == 1, result
    (line,) = result.stderr.splitlines()
    return line.removeprefix("Error: ")


def api_error(queue: Queue, call) -> queuectl.QueuectlError:
    with queuectl.connect(db=queue.url, home=str(queue.home)) as q:
        with pytest.raises(queuectl.QueuectlError) as failed:
            call(q)
    return failed.value


def test_each_failure_is_the_clis_error_text(queue):
    queue.cli("enqueue", "--id", "done", "true")
    queue.cli("cancel", "done")
    queue.cli("enqueue", "--id", "waiting", "true")
    cases = [
        (("show", "nope"), lambda q: q.get("nope"), queuectl.JobNotFound),
        (("enqueue", "--id", "waiting", "true"), lambda q: q.enqueue("true", id="waiting"), queuectl.DuplicateJob),
        (("enqueue", '{"command": "true", "priority": "x"}'), lambda q: q.enqueue("true", priority="x"),
         queuectl.InvalidJob),
        (("cancel", "done"), lambda q: q.cancel("done"), queuectl.InvalidTransition),
        (("retry", "waiting"), lambda q: q.retry("waiting"), queuectl.InvalidTransition),
        (("retry", "nope"), lambda q: q.retry("nope"), queuectl.JobNotFound),
        (("wait", "waiting", "--timeout", "0.2"), lambda q: q.wait(["waiting"], timeout=0.2), queuectl.WaitTimeout),
        (("wait", "nope"), lambda q: q.wait(["nope"]), queuectl.JobNotFound),
    ]
    for args, call, kind in cases:
        error = api_error(queue, call)
        assert isinstance(error, kind)
        assert str(error) == cli_error(queue, *args)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_store_is_the_clis_error_without_the_password(tmp_path):
    url = f"mongodb://queuectl:secret@127.0.0.1:{closed_port()}/x?serverSelectionTimeoutMS=1000"
    unreachable = Queue(tmp_path / "home", url)
    with queuectl.connect(db=url, home=str(unreachable.home)) as q:
        with pytest.raises(queuectl.StoreUnavailable) as failed:
            q.list()
    assert "secret" not in str(failed.value) and "queuectl:****@" in str(failed.value)
    assert str(failed.value) == cli_error(unreachable, "list")


def test_a_sqlite_file_that_is_no_database_is_the_clis_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_text("not a database\n")
    broken = Queue(tmp_path / "home", f"sqlite:///{bad}")
    error = api_error(broken, lambda q: q.enqueue("true"))
    assert isinstance(error, queuectl.StoreUnavailable)
    assert str(error) == cli_error(broken, "enqueue", "true")


def test_a_job_enqueued_from_python_is_the_job_the_cli_shows(queue, tmp_path):
    with queuectl.connect(db=queue.url, home=str(queue.home)) as q:
        job = q.enqueue("echo hi", id="py-1", queue="ci", priority=7, max_retries=1, timeout=30,
                        cwd=tmp_path, env={"MODE": "fast"}, run_at="2030-01-01T00:00:00Z")
    shown = queue.cli_json("show", "py-1")
    assert {key: shown[key] for key in ("id", "command", "state", "queue", "priority", "max_retries", "timeout",
                                        "cwd", "env", "run_at")} == {
        "id": job.id, "command": "echo hi", "state": "pending", "queue": "ci", "priority": 7, "max_retries": 1,
        "timeout": 30, "cwd": str(tmp_path), "env": {"MODE": "fast"}, "run_at": "2030-01-01T00:00:00.000Z"}


def test_a_real_worker_runs_jobs_enqueued_from_python_and_wait_returns_their_outcome(queue, tmp_path):
    (tmp_path / "marker").write_text("here\n")
    with queuectl.connect(db=queue.url, home=str(queue.home)) as q:
        q.enqueue("cat marker", id="ok", cwd=tmp_path)
        q.enqueue("exit 3", id="bad", max_retries=0)
        queue.cli("worker", "start", "--count", "1")
        ok, bad = q.wait(["ok", "bad"], timeout=120)
        assert (ok.state, ok.exit_code, ok.attempts) == ("completed", 0, 1)
        assert (bad.state, bad.exit_code) == ("dead", 3)
        assert len(q.get("bad").history) == 1
    assert "here" in queue.cli("logs", "ok").stdout


def readme_example() -> str:
    readme = (Path(queuectl.__file__).parent.parent / "README.md").read_text()
    return readme.split("## Python API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readmes_example_runs_as_written(queue, tmp_path):
    script = tmp_path / "run-tests.sh"
    script.write_text("#!/bin/sh\ntest \"$CI\" = 1\n")
    script.chmod(0o755)
    queue.cli("worker", "start", "--count", "1")
    done = subprocess.run([sys.executable, "-c", readme_example()], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env={**queue.env(), "PYTHONPATH": str(Path(queuectl.__file__).parent.parent)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "completed 0"


def test_a_python_program_enqueues_without_the_cli(queue, tmp_path):
    """The API works from a plain script: the README's example, run as a user would."""
    script = tmp_path / "example.py"
    script.write_text(
        "import sys, queuectl\n"
        "with queuectl.connect(db=sys.argv[1], home=sys.argv[2]) as q:\n"
        "    job = q.enqueue('true', id='from-script')\n"
        "    print(job.id, job.state)\n")
    root = Path(queuectl.__file__).parent.parent
    done = subprocess.run([sys.executable, str(script), queue.url, str(queue.home)], capture_output=True,
                          text=True, timeout=60, env={**queue.env(), "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["from-script", "pending"]
    assert json.loads(queue.cli("list", "--json").stdout)[0]["id"] == "from-script"


def test_an_unsafe_home_is_refused_at_connect_with_the_clis_error(tmp_path):
    home = tmp_path / "shared-home"
    home.mkdir()
    home.chmod(0o777)
    unsafe = Queue(home, f"sqlite:///{home / 'queue.db'}")
    with pytest.raises(queuectl.UnsafeLocation) as refused:
        queuectl.connect(db=unsafe.url, home=home)
    assert "refusing the queue home" in str(refused.value)
    assert str(refused.value) == cli_error(unsafe, "list")
