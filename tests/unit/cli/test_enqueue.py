"""``enqueue`` in every form, its options, ``--file``, and the bad input it refuses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from queuectl.domain.model import JobState

from .support import NOW, add, all_jobs, enqueued_id, error_lines, one_error


# -- enqueue: the four forms -----------------------------------------------------
def test_enqueue_with_a_json_job_stores_it_and_prints_its_id(invoke, store):
    result = invoke("enqueue", '{"id":"job1","command":"sleep 2"}')
    assert result.exit_code == 0 and result.stdout == "Enqueued job 'job1': sleep 2\n"
    job = store.jobs.get("job1")
    assert (job.command, job.state, job.run_at, job.queue) == ("sleep 2", JobState.PENDING, NOW, "default")


def test_enqueue_with_an_id_and_a_command_stores_the_positional_form(invoke, store):
    assert invoke("enqueue", "job2", "echo hi").stdout == "Enqueued job 'job2': echo hi\n"
    assert store.jobs.get("job2").command == "echo hi"


def test_enqueue_with_only_a_command_generates_and_prints_an_id(invoke, store):
    result = invoke("enqueue", "echo hi")
    job_id = enqueued_id(result.stdout)
    assert result.exit_code == 0 and len(job_id) >= 8
    assert store.jobs.get(job_id).command == "echo hi"


def test_enqueue_a_json_job_without_id_generates_one(invoke, store):
    job_id = enqueued_id(invoke("enqueue", '{"command":"true"}').stdout)
    assert store.jobs.get(job_id).command == "true"


def test_enqueue_a_command_with_the_id_option_uses_that_id(invoke, store):
    assert invoke("enqueue", "echo hi", "--id", "job3").stdout == "Enqueued job 'job3': echo hi\n"
    assert store.jobs.get("job3").command == "echo hi"


def test_enqueue_options_set_the_job_fields(invoke, store):
    invoke("enqueue", "j", "true", "--max-retries", "5", "--priority", "-2", "--timeout", "1.5", "--queue", "mail")
    job = store.jobs.get("j")
    assert (job.max_retries, job.priority, job.timeout, job.queue) == (5, -2, 1.5, "mail")


def test_enqueue_options_win_over_the_same_json_field(invoke, store):
    invoke("enqueue", '{"id":"a","command":"true","priority":1,"queue":"q1"}', "--priority", "9", "--id", "b")
    job = store.jobs.get("b")
    assert (job.priority, job.queue) == (9, "q1")
    assert [j.id for j in all_jobs(store)] == ["b"]


def test_enqueue_delay_runs_the_job_that_long_after_now(invoke, store):
    invoke("enqueue", "j", "true", "--delay", "5m")
    assert store.jobs.get("j").run_at == NOW + timedelta(minutes=5)


def test_enqueue_delay_option_replaces_a_run_at_from_the_json(invoke, store):
    invoke("enqueue", '{"id":"j","command":"true","run_at":"2030-01-01T00:00:00Z"}', "--delay", "30")
    assert store.jobs.get("j").run_at == NOW + timedelta(seconds=30)


def test_enqueue_run_at_without_offset_is_taken_as_utc(invoke, store):
    invoke("enqueue", "j", "true", "--run-at", "2026-02-01T08:00:00")
    assert store.jobs.get("j").run_at == datetime(2026, 2, 1, 8, tzinfo=timezone.utc)


def test_enqueue_takes_retries_and_timeout_from_the_config_when_not_given(invoke, store):
    invoke("config", "set", "max-retries", "7")
    invoke("config", "set", "job_timeout", "60")
    invoke("enqueue", "j", "true")
    assert (store.jobs.get("j").max_retries, store.jobs.get("j").timeout) == (7, 60)


# -- enqueue: bad input changes nothing --------------------------------------------
@pytest.mark.parametrize("args, message", [
    (['{"id":"job1","command":'], "malformed job JSON"),
    (['{"id":"job1"}'], "command"),
    (['{"id":"job1","command":"  "}'], "command"),
    (['{"id":"job1","command":"true","colour":"red"}'], "unknown job field"),
    (['{"id":"job1","command":"true","priority":"high"}'], "priority"),
    (["bad/id", "true"], "invalid job id 'bad/id'"),
    (['{"id":"has space","command":"true"}'], "invalid job id"),
    (["existing", "echo again"], "job 'existing' already exists"),
])
def test_enqueue_rejects_bad_input_with_one_error_line_and_stores_nothing(invoke, store, args, message):
    add(store, "existing", "echo first")
    before = [vars(j) for j in all_jobs(store)]
    error = one_error(invoke("enqueue", *args))
    assert message in error
    assert [vars(j) for j in all_jobs(store)] == before


@pytest.mark.parametrize("args", [
    [], ["a", "b", "c"], ["true", "--delay", "soon"], ["true", "--run-at", "tomorrow"],
    ["true", "--priority", "high"], ["true", "--max-retries", "-1"],
    ["true", "--delay", "5m", "--run-at", "2026-02-01T00:00:00Z"],
    ["true", "--id", "x" * 129], ["true", "--queue", "no queue"], ["true", "--queue", ""],
])
def test_enqueue_usage_mistakes_exit_2_with_one_error_line(invoke, store, args):
    one_error(invoke("enqueue", *args), code=2)
    assert all_jobs(store) == []


# -- enqueue --file ---------------------------------------------------------------
def test_enqueue_file_stores_valid_lines_and_reports_each_bad_line_by_number(invoke, store, tmp_path):
    path = tmp_path / "jobs.jsonl"
    path.write_text('{"id":"a","command":"true"}\n\n{"id":"b"}\n{"id":"c","command":"true"}\nnot json\n')
    result = invoke("enqueue", "--file", str(path))
    assert result.exit_code == 1
    assert error_lines(result) == [
        'Error: line 3: a job needs a non-empty "command" string',
        "Error: line 5: malformed job JSON: Expecting value at column 1"]
    assert result.stdout.splitlines()[-1] == "Enqueued 2 jobs; 2 lines rejected"
    assert sorted(j.id for j in all_jobs(store)) == ["a", "c"]


def test_enqueue_file_reports_a_line_that_is_not_utf8_and_goes_on(invoke, store):
    result = invoke("enqueue", "--file", "-", input=b'{"id":"a","command":"caf\xe9"}\n{"id":"b","command":"true"}\n')
    assert result.exit_code == 1
    assert error_lines(result) == ["Error: line 1: not UTF-8 text"]
    assert [j.id for j in all_jobs(store)] == ["b"]


def test_enqueue_file_reports_stored_and_repeated_ids_per_line(invoke, store):
    add(store, "old")
    lines = '{"id":"old","command":"x"}\n{"id":"new","command":"true"}\n{"id":"new","command":"y"}\n'
    result = invoke("enqueue", "--file", "-", input=lines)
    assert result.exit_code == 1
    assert error_lines(result) == ["Error: line 3: job 'new' repeats line 2",
                                   "Error: line 1: job 'old' already exists"]
    assert store.jobs.get("new").command == "true" and store.jobs.get("old").command == "true"
    assert result.stdout.strip() == "Enqueued 1 job; 2 lines rejected"


def test_enqueue_file_of_valid_lines_from_stdin_exits_0(invoke, store):
    result = invoke("enqueue", "--file", "-", input='{"command":"true"}\n{"id":"b","command":"true"}\n')
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == "Enqueued 2 jobs\n"
    assert len(all_jobs(store)) == 2


def test_enqueue_file_applies_the_options_to_every_line(invoke, store):
    invoke("enqueue", "--file", "-", "--queue", "bulk", input='{"id":"a","command":"true"}\n{"id":"b","command":"true"}\n')
    assert {store.jobs.get(i).queue for i in "ab"} == {"bulk"}


def test_enqueue_file_refuses_a_job_or_id_on_the_command_line(invoke, store):
    one_error(invoke("enqueue", "--file", "-", "--id", "x", input=""), code=2)
    one_error(invoke("enqueue", "--file", "-", "true", input=""), code=2)


def test_enqueue_file_that_does_not_exist_is_a_usage_error(invoke, tmp_path):
    one_error(invoke("enqueue", "--file", str(tmp_path / "missing.jsonl")), code=2)


def test_enqueue_file_stores_a_file_larger_than_one_batch(invoke, store):
    """The first commit holds 200 lines, the next ones 5,000: checks reach across them."""
    add(store, "j2050")
    lines = "".join(f'{{"id":"j{n}","command":"true"}}\n' for n in range(1, 2101)) + '{"id":"j150","command":"x"}\n'
    result = invoke("enqueue", "--file", "-", input=lines)
    assert error_lines(result) == ["Error: line 2101: job 'j150' repeats line 150",
                                   "Error: line 2050: job 'j2050' already exists"]
    assert result.stdout == "Enqueued 2099 jobs; 2 lines rejected\n"
    assert len(all_jobs(store)) == 2100 and store.jobs.get("j150").command == "true"
