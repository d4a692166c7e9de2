"""``logs``: the stored output of finished attempts, the local file of a running one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.ports import WorkerRef

from .support import NOW, add


def claim(store):
    return store.jobs.claim_next(WorkerRef("w1", "host1"), NOW, NOW + timedelta(seconds=30))


def test_logs_of_a_running_attempt_show_its_output_file_so_far(invoke, store, container):
    add(store, "job", max_retries=1)
    first = claim(store)
    token = first.lease_token
    first.fail(NOW, "exit code 1", BackoffPolicy(), 1)
    store.jobs.record_outcome(first, token, "first attempt\n")
    running = store.jobs.claim_next(WorkerRef("w1", "host1"), NOW + timedelta(hours=1),
                                    NOW + timedelta(hours=2))
    path = Path(container.outputs().path(running, running.lease_token))
    path.parent.mkdir(parents=True)
    path.write_text("second attempt so far\n")
    result = invoke("logs", "job")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("=== attempt 2 · running") and lines[1] == "second attempt so far"
    assert lines[2].startswith("=== attempt 1 · exit code 1") and lines[3] == "first attempt"


def test_logs_of_a_job_that_never_ran_say_so(invoke, store):
    add(store, "job")
    assert invoke("logs", "job").stdout == "Job job has not run yet.\n"


def test_an_attempt_header_escapes_the_control_characters_of_its_error(container, store):
    from click.testing import CliRunner

    from queuectl.entrypoints.cli import cli
    from queuectl.entrypoints.context import AppState

    add(store, "job", max_retries=0, cwd="/srv/q\x1b[2Jw")
    job = claim(store)
    token = job.lease_token
    job.fail(NOW, "working directory '/srv/q\x1b[2Jw' not found on host1", BackoffPolicy(), None)
    store.jobs.record_outcome(job, token, "")
    for args in (["logs", "job"], ["logs", "--follow", "job"]):
        result = CliRunner().invoke(cli, args, obj=AppState(container=container), color=True)  # as on a terminal
        header = result.stdout.splitlines()[0]
        assert header.startswith("=== attempt 1 · working directory '/srv/q\\x1b[2Jw' not found on host1"), args
        assert "\x1b" not in result.stdout, args
