"""Which command lines `worker stop` takes for a queuectl worker (it signals no other)."""

import os
import sys

import pytest

from queuectl.adapters.processes import is_worker_argv, worker_argv


@pytest.mark.parametrize("queues", [(), ("emails",), ("a", "b-2")])
@pytest.mark.parametrize("concurrency", [1, 8])
def test_the_command_line_a_worker_is_launched_with_is_recognised_as_a_worker(queues, concurrency):
    assert is_worker_argv(worker_argv(queues, concurrency))
    assert ("--concurrency" in worker_argv(queues, concurrency)) == (concurrency > 1)


@pytest.mark.parametrize("argv", [
    ["/usr/bin/python3", "-m", "queuectl", "worker", "run"],
    ["python3.11", "-P", "-m", "queuectl", "worker", "run", "--queue", "q"],
    ["/venv/bin/python", "/venv/bin/queuectl", "worker", "run", "--queue=q"],
    ["/usr/local/bin/queuectl", "--home", "/srv/q", "--db=sqlite:///x.db", "worker", "run"],
    ["/venv/bin/python3", "/venv/bin/queuectl"],  # the shell, which can run a worker in itself
])
def test_the_ways_a_user_runs_a_worker_are_recognised(argv):
    assert is_worker_argv(argv)


@pytest.mark.parametrize("argv", [
    ["less", "queuectl-notes.txt"],
    ["sleep", "1000", "queuectl"],
    [sys.executable, "-c", "import time; time.sleep(999)", "queuectl"],
    ["/bin/sh", "./queuectl-notes", "worker", "run"],
    ["vim", "/home/me/queuectl"],
    [sys.executable, "-m", "queuectl", "worker", "run", "--queue"],
    [sys.executable, "-m", "queuectl", "worker", "run", "extra"],
    [sys.executable, "-m", "queuectl", "worker", "start"],
    [sys.executable, "-m", "queuectl", "list"],
    [sys.executable, "-m", "queuectl_other", "worker", "run"],
    ["/usr/bin/queuectl-helper", "worker", "run"],
    [],
])
def test_a_command_line_that_merely_mentions_queuectl_is_not_a_worker(argv):
    assert not is_worker_argv(argv)


def test_a_stop_signal_reaches_a_stopped_worker_too(monkeypatch):
    """A worker paused (SIGSTOP, Ctrl-Z) handles no SIGTERM until continued, and two SIGTERMs
    pending meanwhile merge into one (the stop now of ``worker stop --timeout`` would be lost):
    the stop signal is followed by SIGCONT."""
    import signal
    import subprocess
    import time
    from datetime import datetime, timezone

    from queuectl.adapters import processes
    from queuectl.domain.ports import WorkerInfo

    child = subprocess.Popen(["sleep", "60"])
    try:
        os.kill(child.pid, signal.SIGSTOP)
        monkeypatch.setattr(processes, "is_our_worker", lambda info: True)
        now = datetime.now(timezone.utc)
        assert processes.signal_worker(WorkerInfo("w1", "host", child.pid, 1.0, (), now, now))
        deadline = time.monotonic() + 10
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert child.returncode == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
