"""Another host on this machine: a worker in its own UTS namespace (``unshare --uts``) with its own host name.

Host B has its own queue home (its own wake-up sockets and output files), as a
second machine would; only the store is shared. With ``pid_like`` the worker
also runs in a PID namespace of its own, where it is given the same PID as a
process of host A (``ns_last_pid``): what host A does about a host-B worker can
then be checked against a live host-A process that a signal would kill.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .processes import Queue, wait_for

HOST_B = "hostb"


def can_unshare() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--uts", "--pid", "--fork", "--mount-proc", "true"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(not can_unshare(), reason="needs root and unshare (UTS/PID namespaces)")


class HostB:
    """One worker on host B, started at once; ``kill()`` is a power cut (SIGKILL to every process)."""

    def __init__(self, queue: Queue, home: Path, *worker_args: str, pid_like: int | None = None) -> None:
        env = dict(queue.env(), QUEUECTL_HOME=str(home), PYTHONPATH=os.pathsep.join(sys.path))
        steer = f"echo {pid_like - 1} > /proc/sys/kernel/ns_last_pid && " if pid_like else ""
        worker = " ".join([sys.executable, "-m", "queuectl", "worker", "run", *worker_args])
        # Without a PID namespace the shell execs the worker; with one, it stays as the namespace's
        # init and forks the worker, whose PID the steer picked.
        script = f"hostname {HOST_B} && {steer}{'' if pid_like else 'exec '}{worker}"
        namespaces = ["--uts", "--pid", "--mount-proc"] if pid_like else ["--uts"]
        self.log = open(home.parent / f"hostb-{os.getpid()}-{id(self)}.log", "wb")
        self.process = subprocess.Popen(["unshare", *namespaces, "--fork", "sh", "-c", script], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole session: the worker (and, in a PID namespace, its jobs) die at once."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(30)

    def close(self) -> None:
        """A graceful stop (the worker leaves the registry), then a kill of whatever is left."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            wait_for(lambda: self.process.poll() is not None and not _group_alive(self.process.pid), timeout=15,
                     what="host B's worker to stop")
        except (ProcessLookupError, AssertionError):
            pass
        self.kill()
        self.log.close()

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
