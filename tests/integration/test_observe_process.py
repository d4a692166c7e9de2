"""``status``'s running jobs and ``list``'s "showing N of M", through the real CLI with a real worker."""

from __future__ import annotations

import json

from .processes import wait_for
from .test_wait_process import gated, queue, start_worker  # noqa: F401 - the fixture, on SQLite and MongoDB


def test_status_lists_the_running_job_with_its_worker_host_and_elapsed_time(queue, tmp_path):
    gate = gated(queue, tmp_path, "build", "true", "--queue", "ci")
    start_worker(queue)
    queue.wait_state("build", "processing")
    data = wait_for(lambda: (d := queue.cli_json("status"))["running"] and d["running"][0]["elapsed_seconds"] >= 1
                    and d, what="the job to have run a second")
    [running] = data["running"]
    [worker] = data["workers"]
    assert (running["id"], running["worker"], running["host"], running["queue"]) == (
        "build", worker["id"], worker["host"], "ci")
    assert running["command"].endswith("; true") and running["started_at"].endswith("Z")
    lines = queue.cli("status").stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("ID ")))
    assert lines[header].split() == ["ID", "WORKER", "HOST", "ELAPSED", "COMMAND"]
    row = lines[header + 1].split()
    assert row[:3] == ["build", worker["id"], worker["host"]] and row[3].endswith("s")
    gate.touch()
    queue.wait_state("build", "completed")
    assert queue.cli_json("status")["running"] == []


def test_list_says_showing_n_of_m_on_stderr_only_in_table_mode(queue):
    queue.cli("enqueue", "--file", "-", input="".join(
        json.dumps({"id": f"j{n}", "command": "true", "queue": "bulk"}) + "\n" for n in range(1_003)))
    cut = queue.cli("list", "--limit", "2", "--queue", "bulk")
    assert cut.stderr == "showing 2 of 1,003\n" and len(cut.stdout.splitlines()) == 3
    assert queue.cli("list", "--limit", "2", "--json").stderr == ""
    assert queue.cli("list", "--limit", "0").stderr == ""
    assert queue.cli("list", "--state", "completed").stderr == ""  # nothing to cut
