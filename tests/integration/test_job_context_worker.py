"""A job's context through the real CLI and a real worker (SPEC 9.1): it runs in the directory it
was enqueued from, with its variables and the worker's ``QUEUECTL_*`` ones, never the store URL."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .processes import PROCESS_STORES, Queue, make_queue

V2_FILE = Path(__file__).parent / "data" / "queue-v2.db"


@pytest.fixture(params=PROCESS_STORES)
def queue(request, tmp_path):
    q = make_queue(request.param, tmp_path)
    q.cli("config", "set", "backoff_base", "1.1")
    yield q
    q.stop_workers()
    q.close()


def cli_in(q: Queue, folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``queuectl ARGS`` run from ``folder``, as a user who ``cd``-ed there."""
    result = subprocess.run([sys.executable, "-m", "queuectl", *args], cwd=folder, env=q.env(),
                            capture_output=True, text=True, timeout=60)
    assert not check or result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def folder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def test_a_job_runs_in_the_directory_it_was_enqueued_from_with_its_variables(queue, tmp_path):
    project, elsewhere = folder(tmp_path, "my project"), folder(tmp_path, "elsewhere")
    assert cli_in(queue, project, "enqueue", "--id", "where", "--", "pwd").stdout == "Enqueued job 'where': pwd\n"
    cli_in(queue, project, "enqueue", "--id", "env", "--env", "MYVAR=x y", "--queue", "nightly", "--max-retries", "1",
           "--", "sh", "-c", 'echo "vars: $MYVAR|$QUEUECTL_JOB_ID|$QUEUECTL_ATTEMPT|$QUEUECTL_QUEUE|'
                             '${QUEUECTL_DB-no store url}"; [ "$QUEUECTL_ATTEMPT" = 2 ]')
    cli_in(queue, project, "enqueue", "--id", "chosen", "--cwd", str(elsewhere), "pwd")
    cli_in(queue, elsewhere, "worker", "start")
    for job_id in ("where", "env", "chosen"):
        queue.wait_state(job_id, "completed", timeout=60)
    assert str(project) in cli_in(queue, elsewhere, "logs", "where").stdout.splitlines()
    assert str(elsewhere) in cli_in(queue, project, "logs", "chosen").stdout.splitlines()
    lines = [line for line in cli_in(queue, project, "logs", "env").stdout.splitlines() if line.startswith("vars:")]
    assert lines == ["vars: x y|env|2|nightly|no store url", "vars: x y|env|1|nightly|no store url"]
    shown = queue.cli_json("show", "env")
    assert (shown["cwd"], shown["env"], shown["command"]) == (
        str(project), {"MYVAR": "x y"},
        "sh -c 'echo \"vars: $MYVAR|$QUEUECTL_JOB_ID|$QUEUECTL_ATTEMPT|$QUEUECTL_QUEUE|${QUEUECTL_DB-no store url}\";"
        " [ \"$QUEUECTL_ATTEMPT\" = 2 ]'")


def test_a_directory_missing_on_the_workers_host_fails_the_attempt_naming_directory_and_host(queue, tmp_path):
    gone = folder(tmp_path, "gone")
    cli_in(queue, gone, "enqueue", "--id", "lost", "--max-retries", "1", "--", "echo", "ran")
    gone.rmdir()
    cli_in(queue, tmp_path, "worker", "start")
    queue.wait_state("lost", "dead", timeout=60)
    job = queue.store.jobs.get("lost")
    expected = f"working directory '{gone}' not found on {socket.gethostname()}"
    assert job.last_error == expected and [a.error for a in job.history] == [expected, expected]
    assert "ran" not in cli_in(queue, tmp_path, "logs", "lost").stdout


def test_bad_context_options_are_one_error_line_exit_2_and_store_nothing(queue, tmp_path):
    for args in (["--env", "1BAD=x"], ["--env", "NOEQUALS"], ["--env", "QUEUECTL_DB=sqlite:////x"],
                 ["--env", "QUEUECTL_JOB_ID=mine"], ["--cwd", ""]):
        result = cli_in(queue, tmp_path, "enqueue", *args, "--", "true", check=False)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert (result.returncode, len(errors), "Traceback" in result.stderr) == (2, 1, False), (args, result.stderr)
    bad_json = cli_in(queue, tmp_path, "enqueue", '{"command": "true", "env": {"A": 1}}', check=False)
    assert (bad_json.returncode, bad_json.stderr) == (1, "Error: environment variable A must be a string, got 1\n")
    assert sum(queue.counts().values()) == 0


def test_a_version_2_sqlite_file_upgrades_and_its_old_job_runs_where_the_worker_runs(tmp_path):
    q = make_queue("sqlite", tmp_path)
    q.home.mkdir(mode=0o700)
    shutil.copyfile(V2_FILE, q.home / "queue.db")
    (q.home / "queue.db").chmod(0o600)
    workdir = folder(tmp_path, "worker dir")
    try:
        cli_in(q, workdir, "worker", "start")
        q.wait_state("waiting-v2", "completed", timeout=60)
        assert str(workdir) in cli_in(q, workdir, "logs", "waiting-v2").stdout.splitlines()
        old = q.cli_json("show", "done-v2")
        assert (old["state"], old["cwd"], old["env"], len(old["history"])) == ("completed", None, {}, 1)
    finally:
        q.stop_workers()
        q.close()
