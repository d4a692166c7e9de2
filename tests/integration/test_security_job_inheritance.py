"""Issue 11, second pass: what a job inherits from the worker that runs it.

A job runs arbitrary commands as the worker's user, but it must not be handed
the worker's own channels: the store URL's pipe (descriptor 3 at launch), the
database, the wake-up socket or the log. Real ``worker start`` processes.
"""

from __future__ import annotations

from .test_launch_security import cli, output_of, wait_completed  # noqa: F401  (cli: a fixture)

# ls is the shell's child: the list is of the shell's descriptors, which it opens none of itself.
# No pipeline here: while the shell starts a pipeline's second command it holds the pipe's read
# end, which ls would list (seen once in a loaded CI run); the lines are picked apart below.
LIST_OWN_DESCRIPTORS = "ls -l /proc/$$/fd"


def test_a_job_of_a_started_worker_holds_only_stdin_stdout_and_stderr(cli, tmp_path):
    url, home = f"sqlite:///{tmp_path / 'queue.db'}", str(tmp_path / "home")
    env = {"QUEUECTL_DB": url, "QUEUECTL_HOME": home}
    assert cli("enqueue", "--id", "fds", LIST_OWN_DESCRIPTORS, env=env).returncode == 0
    started = cli("worker", "start", env=env)
    assert started.returncode == 0, started.stderr
    wait_completed(cli, "fds", "--db", url, "--home", home)
    lines = ["fd " + line.split(" -> ")[0].split()[-1] + " -> " + line.split(" -> ")[1]
             for line in output_of(cli, "fds", "--db", url, "--home", home).splitlines() if " -> " in line]
    assert [line.split()[1] for line in lines] == ["0", "1", "2"], lines
    # stdin is /dev/null; stdout and stderr are the one pipe the worker caps the output through
    assert "/dev/null" in lines[0] and "pipe:" in lines[1] and lines[1].split()[-1] == lines[2].split()[-1]
    assert not any("socket:" in line for line in lines)
