"""What ``status`` and ``list`` tell about a busy queue: running jobs with elapsed time, a cut list."""

from __future__ import annotations

import json
from datetime import timedelta

from queuectl.domain.model import Job
from queuectl.domain.ports import WorkerRef

from .support import NOW, register_worker
from .support import add as add_now

EARLY = NOW - timedelta(days=7)


def add(store, job_id: str, command: str = "true", **fields):
    """A job due a week ago (so it can be claimed at any time before NOW)."""
    return add_now(store, job_id, command, run_at=EARLY, **fields)


def run_job(store, job_id: str, started_ago: float, worker: str = "w1") -> None:
    """``job_id`` claimed by ``worker`` ``started_ago`` seconds before NOW."""
    at = NOW - timedelta(seconds=started_ago)
    job = store.jobs.claim_next(WorkerRef(worker, "host1"), at, NOW + timedelta(hours=1))
    assert job is not None and job.id == job_id


def test_status_lists_each_running_job_with_its_elapsed_time_longest_first(invoke, store):
    add(store, "short", "sleep 1", priority=1)
    run_job(store, "short", 42)
    add(store, "long", "make test " + "x" * 300)
    run_job(store, "long", 65, worker="gone")  # its worker is not live: no host to show
    register_worker(store, NOW)
    out = invoke("status", env={"COLUMNS": "100"}).stdout.splitlines()
    header = out.index(next(line for line in out if line.startswith("ID ")))
    assert out[header].split() == ["ID", "WORKER", "HOST", "ELAPSED", "COMMAND"]
    assert out[header + 1].split()[:6] == ["long", "gone", "-", "1m", "05s", "make"]
    assert out[header + 2].split() == ["short", "w1", "host1", "42s", "sleep", "1"]
    assert out[header + 1].endswith("...") and len(out[header + 1]) <= 100  # the command cut to fit


def test_status_json_adds_the_running_jobs(invoke, store):
    add(store, "a", "sleep 9")
    run_job(store, "a", 3723.5)
    register_worker(store, NOW)
    data = json.loads(invoke("status", "--json").stdout)
    assert data["running"] == [{"id": "a", "worker": "w1", "host": "host1", "queue": "default",
                                "started_at": "2026-01-31T10:57:56.750Z", "elapsed_seconds": 3723.5,
                                "command": "sleep 9"}]


def test_status_shows_running_jobs_also_without_live_workers(invoke, store):
    add(store, "a")
    run_job(store, "a", 2 * 86400 + 3 * 3600)
    out = invoke("status").stdout
    assert "No live workers." in out and "2d 03h" in out


def test_list_says_showing_n_of_m_on_stderr_when_the_limit_cut_it(invoke, store):
    for n in range(5):
        add(store, f"j{n}", queue="q" if n < 4 else "other")
    result = invoke("list", "--limit", "3", "--queue", "q")
    assert result.stderr == "showing 3 of 4\n" and len(result.stdout.splitlines()) == 4
    assert invoke("list", "--limit", "4", "--queue", "q").stderr == ""  # nothing cut
    assert invoke("list", "--limit", "0").stderr == ""
    assert invoke("list", "--limit", "3", "--json").stderr == ""  # table mode only


def test_list_formats_the_total_with_thousands_separators(invoke, store):
    store.jobs.add_many([Job.new(f"j{n}", "true", NOW) for n in range(1_205)])
    assert invoke("list", "--limit", "100").stderr == "showing 100 of 1,205\n"


def test_wait_rejects_bad_options_as_usage_errors_and_stores_nothing(invoke, store):
    for args in (["wait", "a", "--timeout", "-1"], ["wait", "a", "--timeout", "nan"], ["wait", "bad id!"],
                 ["wait", "--queue", "x\ny"], ["wait", "a", "--queue", "q"]):
        result = invoke(*args)
        assert result.exit_code == 2 and result.stderr.splitlines()[-1].startswith("Error: "), args
    assert store.jobs.count() == 0


def test_wait_with_a_timeout_reports_what_is_unfinished_and_json_lists_the_final_jobs(invoke, store):
    add(store, "done")
    store.jobs.cancel("done", NOW)
    add(store, "open")
    result = invoke("wait", "done", "open", "--timeout", "0", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [{"id": "done", "state": "cancelled", "exit_code": None, "last_error": None}]
    assert result.stderr.splitlines() == ["Error: job 'done' was cancelled",
                                          "Error: timed out after 0s: 1 job still unfinished"]


def test_wait_on_a_queue_with_nothing_unfinished_completes_at_once(invoke, store):
    assert (invoke("wait", "--queue", "empty").exit_code, invoke("wait").stdout) == (0, "No unfinished jobs.\n")
