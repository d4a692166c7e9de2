"""``remove`` and ``prune``: finished jobs and their output files are deleted, nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queuectl.adapters.output_files import attempt_path
from queuectl.domain.model import Job, JobState
from queuectl.domain.ports import WorkerRef

from .support import NOW, add, all_jobs, make_dead, one_error


def run_job(store, job_id: str, finished: timedelta, tmp_path) -> object:
    """Enqueue and claim ``job_id`` at ``NOW - finished``, give it an output file, and complete it then."""
    at = NOW - finished
    store.jobs.add(Job.new(job_id, "true", at))
    job = store.jobs.claim_next(WorkerRef("w1", "host1"), at, at + timedelta(seconds=30))
    assert job is not None and job.id == job_id
    path = attempt_path(tmp_path / "home", job, job.lease_token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"output of {job_id}\n")
    token = job.lease_token
    job.succeed(at)
    assert store.jobs.record_outcome(job, token, f"output of {job_id}\n")
    return path


def test_remove_deletes_finished_jobs_and_their_output_files(invoke, store, clock, tmp_path):
    output = run_job(store, "done", timedelta(0), tmp_path)
    make_dead(store, "dead")
    add(store, "gone")
    store.jobs.cancel("gone", NOW)
    result = invoke("remove", "done", "dead", "gone")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Removed 3 jobs: done, dead, gone\n"
    assert all_jobs(store) == [] and not output.exists()


@pytest.mark.parametrize("state", ["pending", "processing", "failed"])
def test_remove_of_a_job_that_is_not_finished_is_an_error_that_deletes_nothing(invoke, store, state):
    make_dead(store, "dead")
    add(store, "job", max_retries=3)
    if state != "pending":
        job = store.jobs.claim_next(WorkerRef("w1", "host1"), NOW, NOW + timedelta(seconds=30))
        if state == "failed":
            token = job.lease_token
            from queuectl.domain.backoff import BackoffPolicy
            job.fail(NOW, "exit code 1", BackoffPolicy(), 1)
            store.jobs.record_outcome(job, token)
    result = invoke("remove", "dead", "job")
    assert one_error(result) == (f"Error: job 'job' is {state}: cannot remove it "
                                 "(only completed, dead and cancelled jobs can be removed)")
    assert sorted(job.id for job in all_jobs(store)) == ["dead", "job"]


def test_remove_of_an_unknown_job_is_an_error_that_deletes_nothing(invoke, store):
    make_dead(store, "dead")
    assert one_error(invoke("remove", "dead", "nope")) == "Error: job 'nope' not found"
    assert [job.id for job in all_jobs(store)] == ["dead"]


def test_remove_without_an_id_is_a_usage_error(invoke):
    assert invoke("remove").exit_code == 2


def test_prune_deletes_final_jobs_older_than_seven_days_by_default_with_their_output(
        invoke, store, clock, tmp_path):
    old_output = run_job(store, "old", timedelta(days=8), tmp_path)
    recent_output = run_job(store, "recent", timedelta(days=6), tmp_path)
    add(store, "waiting")
    result = invoke("prune")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Pruned 1 job\n"
    assert sorted(job.id for job in all_jobs(store)) == ["recent", "waiting"]
    assert not old_output.exists() and recent_output.exists()


def test_prune_counts_a_job_cancelled_before_it_ran_from_its_cancellation(invoke, store, clock):
    add(store, "cancelled")
    store.jobs.cancel("cancelled", NOW - timedelta(hours=3))
    add(store, "cancelled-late")
    store.jobs.cancel("cancelled-late", NOW - timedelta(hours=1))
    result = invoke("prune", "--older-than", "2h")
    assert result.stdout == "Pruned 1 job\n"
    assert [job.id for job in all_jobs(store)] == ["cancelled-late"]


def test_prune_state_chooses_which_final_states_go(invoke, store, clock, tmp_path):
    run_job(store, "done", timedelta(hours=1), tmp_path)
    make_dead(store, "dead")
    clock.advance(3600)
    result = invoke("prune", "--older-than", "30m", "--state", "dead", "--state", "CANCELLED")
    assert result.stdout == "Pruned 1 job\n"
    assert [(job.id, job.state) for job in all_jobs(store)] == [("done", JobState.COMPLETED)]


@pytest.mark.parametrize("args", [["--state", "pending"], ["--state", "processing"], ["--older-than", "soon"],
                                  ["--older-than", "-1d"], ["--older-than", "7d\n"], ["--older-than", "nan"],
                                  ["--older-than", "99999999d"]])
def test_prune_with_a_bad_option_value_is_a_usage_error_that_deletes_nothing(invoke, store, args):
    make_dead(store, "dead")
    assert one_error(invoke("prune", "--older-than", "0", *args), code=2).startswith("Error: Invalid value")
    assert [job.id for job in all_jobs(store)] == ["dead"]


def test_remove_and_prune_work_in_the_shell(invoke, store):
    make_dead(store, "dead")
    add(store, "gone")
    store.jobs.cancel("gone", NOW - timedelta(days=10))
    result = invoke(input="remove dead\nprune --older-than 1d\nremove nope\n")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:2] == ["Removed 1 job: dead", "Pruned 1 job"]
    assert all_jobs(store) == []
