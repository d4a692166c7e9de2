"""`worker stop` signals only this user's processes whose command line is exactly a queuectl worker's.

A worker record is data anyone with the store can write; these tests plant
records naming processes that are not our workers and check that none of them
gets a signal. Running a process as another user needs root (CI runs as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest

from queuectl.domain.ports import WorkerInfo

from .processes import make_queue, wait_for

SYSTEM_PYTHON = "/usr/bin/python3"  # one another user may run (a venv under /root is closed to them)


@pytest.fixture
def queue(tmp_path):
    q = make_queue("sqlite", tmp_path)
    q.cli("config", "show")
    yield q
    q.stop_workers()
    q.close()


@pytest.fixture
def as_nobody():
    """Popen keyword arguments that run a process as ``nobody``."""
    if os.geteuid() != 0:
        pytest.skip("running a process as another user needs root")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is missing")
    return {"user": "nobody", "group": "nogroup", "extra_groups": [], "cwd": "/",
            "env": {"PATH": "/usr/bin:/bin"}}


@pytest.fixture
def fake_worker_package():
    """A folder, readable by every user, holding a package ``queuectl`` that only sleeps:
    ``python3 -m queuectl worker run`` run in it has exactly a worker's command line."""
    folder = Path(tempfile.mkdtemp(prefix="queuectl-fake-"))
    folder.chmod(0o755)
    package = folder / "queuectl"
    package.mkdir(mode=0o755)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("import time\ntime.sleep(600)\n")
    for path in package.iterdir():
        path.chmod(0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def plant_record(queue, proc: subprocess.Popen, worker_id: str) -> None:
    """A worker record naming ``proc`` with its true start time: only the command line and user tell."""
    now = datetime.now(timezone.utc)
    queue.store.workers.register(WorkerInfo(
        worker_id, socket.gethostname(), proc.pid, pid_started_at=psutil.Process(proc.pid).create_time(),
        queues=(), started_at=now, last_heartbeat=now))


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_record_naming_our_own_unrelated_process_that_mentions_queuectl_is_never_signalled(queue, processes):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(999)", "queuectl"])
    processes.append(stranger)
    plant_record(queue, stranger, "planted")
    result = queue.cli("worker", "stop", timeout=60)
    assert stranger.poll() is None  # still running: never signalled
    assert "stale record" in result.stdout
    assert queue.store.workers.workers() == []


def test_a_record_naming_another_users_process_is_never_signalled(queue, processes, as_nobody):
    notes = subprocess.Popen([SYSTEM_PYTHON, "-c", "import time; time.sleep(999)", "queuectl-notes.txt"],
                             **as_nobody)
    processes.append(notes)
    plant_record(queue, notes, "planted")
    queue.cli("worker", "stop", timeout=60)
    assert notes.poll() is None
    assert queue.store.workers.workers() == []


def test_another_users_worker_is_not_signalled_and_is_named_in_one_error_line(
        queue, processes, as_nobody, fake_worker_package):
    theirs = subprocess.Popen([SYSTEM_PYTHON, "-m", "queuectl", "worker", "run"],
                              **dict(as_nobody, cwd=str(fake_worker_package)))
    processes.append(theirs)
    wait_for(lambda: psutil.Process(theirs.pid).cmdline()[1:3] == ["-m", "queuectl"], what="the exec")
    plant_record(queue, theirs, "theirs")
    queue.cli("worker", "start")
    result = queue.cli("worker", "stop", check=False, timeout=60)
    assert theirs.poll() is None
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Error: ") and "another user" in result.stderr
    assert "theirs" in result.stderr and "internal error" not in result.stderr
    assert "All workers stopped." in result.stdout  # ours stopped all the same
    assert [w.id for w in queue.store.workers.workers()] == ["theirs"]
