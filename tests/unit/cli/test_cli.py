"""The read commands, ``cancel``, ``dlq``, ``config`` and the one error boundary, in memory."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from dependency_injector import providers

from queuectl.domain.errors import QueuectlError
from queuectl.domain.model import JobState
from queuectl.domain.ports import WorkerRef
from queuectl.entrypoints import cli as cli_module
from queuectl.entrypoints.context import AppState

from .support import JOB_FIELDS, NOW, add, all_jobs, make_dead, one_error, register_worker


# -- list ---------------------------------------------------------------------------
def test_list_shows_jobs_newest_first_in_a_table(invoke, store):
    for job_id in ("first", "second", "third"):
        add(store, job_id, f"echo {job_id}")
    lines = invoke("list").stdout.splitlines()
    assert lines[0].split() == ["ID", "STATE", "ATTEMPTS", "PRIORITY", "QUEUE", "RUN_AT/UPDATED", "COMMAND"]
    assert [line.split()[0] for line in lines[1:]] == ["third", "second", "first"]
    assert "2026-01-31T12:00:00.250Z" in lines[1]


def test_list_truncates_long_commands(invoke, store):
    add(store, "long", "echo " + "x" * 200)
    row = invoke("list").stdout.splitlines()[1]
    assert row.endswith("...") and len(row) < 150


def test_list_shows_at_most_limit_jobs_and_100_by_default(invoke, store):
    for n in range(105):
        add(store, f"j{n}")
    assert len(json.loads(invoke("list", "--json").stdout)) == 100
    assert [j["id"] for j in json.loads(invoke("list", "--limit", "2", "--json").stdout)] == ["j104", "j103"]
    assert len(json.loads(invoke("list", "--limit", "0", "--json").stdout)) == 105


def test_list_filters_by_state_and_queue(invoke, store):
    add(store, "a", queue="mail")
    add(store, "b")
    make_dead(store, "c")
    assert [j["id"] for j in json.loads(invoke("list", "--state", "dead", "--json").stdout)] == ["c"]
    assert [j["id"] for j in json.loads(invoke("list", "--state", "PENDING", "--json").stdout)] == ["b", "a"]
    assert [j["id"] for j in json.loads(invoke("list", "--queue", "mail", "--json").stdout)] == ["a"]


def test_list_json_is_an_array_of_job_objects_with_the_spec_fields(invoke, store):
    add(store, "a", "echo a", priority=3)
    [job] = json.loads(invoke("list", "--json").stdout)
    assert list(job) == JOB_FIELDS
    assert job["state"] == "pending" and job["priority"] == 3 and job["timeout"] == 0
    assert job["created_at"] == "2026-01-31T12:00:00.250Z" and job["started_at"] is None


def test_list_with_an_unknown_state_is_an_error(invoke):
    assert "'--state'" in one_error(invoke("list", "--state", "sleeping"), code=2)


def test_list_of_an_empty_queue_says_so(invoke):
    assert invoke("list").stdout == "No jobs.\n"
    assert invoke("list", "--json").stdout == "[]\n"


# -- show / cancel ------------------------------------------------------------------
def test_show_json_is_the_whole_record_with_every_attempt(invoke, store):
    make_dead(store, "d")
    job = json.loads(invoke("show", "d", "--json").stdout)
    assert list(job) == JOB_FIELDS + ["history", "dependencies"]
    assert (job["state"], job["attempts"], job["last_error"], job["worker"]) == ("dead", 1, "exit code 3", "w1")
    assert job["history"] == [{"attempt": 1, "worker": "w1", "host": "host1",
                               "started_at": "2026-01-31T12:00:00.250Z", "finished_at": "2026-01-31T12:00:01.250Z",
                               "exit_code": 3, "error": "exit code 3"}]


def test_show_prints_every_field_and_an_attempt_table(invoke, store):
    make_dead(store, "d")
    out = invoke("show", "d").stdout
    assert "state        dead" in out and "last_error   exit code 3" in out
    assert "ATTEMPT" in out and "host1" in out


def test_cancel_turns_a_waiting_job_cancelled(invoke, store):
    add(store, "a")
    result = invoke("cancel", "a")
    assert result.exit_code == 0 and result.stdout == "Cancelled a\n"
    assert store.jobs.get("a").state is JobState.CANCELLED


def test_cancel_of_a_finished_job_is_an_error_and_changes_nothing(invoke, store):
    make_dead(store, "d")
    before = vars(store.jobs.get("d"))
    assert "job 'd' is dead: cannot cancel" in one_error(invoke("cancel", "d"))
    assert vars(store.jobs.get("d")) == before


@pytest.mark.parametrize("args", [["show", "nope"], ["show", "nope", "--json"], ["cancel", "nope"],
                                  ["dlq", "retry", "nope"]])
def test_an_unknown_job_id_is_one_error_line_naming_it(invoke, store, args):
    add(store, "a")
    assert one_error(invoke(*args)) == "Error: job 'nope' not found"
    assert store.jobs.get("a").state is JobState.PENDING

def test_status_json_has_every_state_and_the_live_workers(invoke, store):
    add(store, "a")
    make_dead(store, "d")
    register_worker(store, NOW - timedelta(seconds=5))
    register_worker(store, NOW - timedelta(hours=1), worker_id="gone")
    data = json.loads(invoke("status", "--json").stdout)
    assert data["jobs"] == {"pending": 1, "blocked": 0, "processing": 0, "completed": 0, "failed": 0, "dead": 1, "cancelled": 0}
    assert data["workers"] == [{"id": "w1", "host": "host1", "pid": 4242, "queues": ["default"], "current_job": None,
                                "slots": 1, "busy": 0, "started_at": "2026-01-31T11:59:00.250Z",
                                "last_heartbeat": "2026-01-31T11:59:55.250Z"}]


def test_status_prints_counts_and_a_worker_table(invoke, store):
    add(store, "a")
    register_worker(store, NOW)
    out = invoke("status").stdout.splitlines()
    assert out[0].split() == ["PENDING", "BLOCKED", "PROCESSING", "COMPLETED", "FAILED", "DEAD", "CANCELLED"]
    assert out[1].split() == ["1", "0", "0", "0", "0", "0", "0"]
    assert out[3].split() == ["WORKER", "HOST", "PID", "QUEUES", "SLOTS", "CURRENT_JOB", "LAST_HEARTBEAT"]
    assert out[4].split()[:5] == ["w1", "host1", "4242", "default", "0/1"]


def test_status_without_workers_says_so(invoke):
    assert invoke("status").stdout.endswith("No live workers.\n")


# -- dlq ----------------------------------------------------------------------------
def test_dlq_list_shows_dead_jobs_with_their_last_error(invoke, store):
    add(store, "alive")
    make_dead(store, "d", error="exit code 3: boom")
    lines = invoke("dlq", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "ATTEMPTS", "DIED_AT", "LAST_ERROR", "COMMAND"]
    assert len(lines) == 2 and lines[1].startswith("d ") and "exit code 3: boom" in lines[1]
    assert [j["id"] for j in json.loads(invoke("dlq", "list", "--json").stdout)] == ["d"]


def test_dlq_list_of_an_empty_dlq_says_so(invoke):
    assert invoke("dlq", "list").stdout == "The DLQ is empty.\n"


def test_dlq_retry_puts_a_dead_job_back_to_pending_with_attempts_reset(invoke, store):
    make_dead(store, "d")
    result = invoke("dlq", "retry", "d")
    assert result.exit_code == 0 and result.stdout == "Retried d: pending\n"
    job = store.jobs.get("d")
    assert (job.state, job.attempts) == (JobState.PENDING, 0)


def test_dlq_retry_all_retries_every_dead_job(invoke, store):
    make_dead(store, "d1")
    make_dead(store, "d2")
    add(store, "p")
    assert invoke("dlq", "retry", "--all").stdout == "Retried 2 dead jobs\n"
    assert {j.state for j in all_jobs(store)} == {JobState.PENDING}


def test_dlq_retry_of_a_job_that_is_not_dead_is_an_error(invoke, store):
    add(store, "p")
    assert "job 'p' is pending" in one_error(invoke("dlq", "retry", "p"))


@pytest.mark.parametrize("args", [[], ["d", "--all"]])
def test_dlq_retry_needs_exactly_one_of_an_id_or_all(invoke, store, args):
    make_dead(store, "d")
    one_error(invoke("dlq", "retry", *args), code=2)
    assert store.jobs.get("d").state is JobState.DEAD


@pytest.mark.parametrize("command", ["retry", "cancel"])
@pytest.mark.parametrize("args, message", [
    ([], "Error: give job IDs or --all"),
    (["d", "--all"], "Error: give job IDs or --all, not both"),
])
def test_retry_and_cancel_say_whether_ids_and_all_were_both_given_or_neither(invoke, store, command, args, message):
    make_dead(store, "d")
    result = invoke(command, *args)
    assert result.exit_code == 2 and message in result.stderr.splitlines()
    assert store.jobs.get("d").state is JobState.DEAD


# -- config -------------------------------------------------------------------------
def test_config_show_lists_every_key_with_natural_numbers(invoke):
    assert json.loads(invoke("config", "show", "--json").stdout) == {
        "max_retries": 3, "backoff_base": 2, "backoff_max": 3600, "backoff_jitter": 0, "job_timeout": 0,
        "lease_seconds": 30, "poll_interval": 0.5, "output_max": 67108864, "retention": 0,
        "history_max": 100}
    assert "backoff_base    2\nbackoff_max     3600\nbackoff_jitter  0\n" in invoke("config", "show").stdout


def test_config_set_then_get_with_either_spelling_of_the_key(invoke):
    assert invoke("config", "set", "max-retries", "5").stdout == "max_retries = 5\n"
    assert invoke("config", "get", "max_retries").stdout == "5\n"
    assert json.loads(invoke("config", "get", "max-retries", "--json").stdout) == {"max_retries": 5}
    assert invoke("config", "set", "poll_interval", "0.25").stdout == "poll_interval = 0.25\n"


@pytest.mark.parametrize("key, value, message", [
    ("max_retries", "-1", "invalid value '-1' for max_retries"),
    ("max_retries", "2.5", "expected an integer from 0 to"),
    ("poll_interval", "0", "poll_interval"),
    ("colour", "red", "unknown config key 'colour'"),
])
def test_config_set_rejects_bad_keys_and_values_and_keeps_the_stored_value(invoke, key, value, message):
    invoke("config", "set", "max_retries", "4")
    assert message in one_error(invoke("config", "set", key, value))
    assert invoke("config", "get", "max_retries").stdout == "4\n"


def test_config_set_backoff_jitter_then_get_it(invoke):
    assert invoke("config", "set", "backoff_jitter", "0.2").stdout == "backoff_jitter = 0.2\n"
    assert invoke("config", "get", "backoff-jitter").stdout == "0.2\n"
    assert json.loads(invoke("config", "get", "backoff_jitter", "--json").stdout) == {"backoff_jitter": 0.2}


@pytest.mark.parametrize("value", ["-0.1", "1.5", "nan", "inf", "abc"])
def test_config_set_refuses_a_backoff_jitter_outside_0_to_1_and_keeps_the_stored_one(invoke, value):
    invoke("config", "set", "backoff_jitter", "0.3")
    error = one_error(invoke("config", "set", "backoff_jitter", value))
    assert error == f"Error: invalid value '{value}' for backoff_jitter: expected a number from 0 to 1 (e.g. 0.2)"
    assert invoke("config", "get", "backoff_jitter").stdout == "0.3\n"


def test_config_get_of_an_unknown_key_is_an_error(invoke):
    assert "unknown config key 'nope'" in one_error(invoke("config", "get", "nope"))


# -- the error boundary ------------------------------------------------------------
class BrokenJobs:
    def list(self, page):
        raise RuntimeError("disk on fire")


class BrokenStore:
    jobs = BrokenJobs()


def test_an_unexpected_exception_is_one_internal_error_line_without_traceback(invoke, container):
    container.store.override(providers.Object(BrokenStore()))
    assert one_error(invoke("list")) == "Error: internal error: RuntimeError('disk on fire')"


def test_debug_mode_adds_the_traceback(invoke, container):
    container.store.override(providers.Object(BrokenStore()))
    result = invoke("list", env={"QUEUECTL_DEBUG": "1"})
    assert result.exit_code == 1 and "Traceback" in result.stderr and "disk on fire" in result.stderr


def test_an_error_never_prints_the_store_password(container, capsys):
    url = "mongodb://admin:s3cret@db.example:27017/q"

    def unreachable():
        raise QueuectlError(f"cannot reach {url} (admin:s3cret@db.example)")

    container.store.override(providers.Callable(unreachable))
    code = cli_module.run(["--db", url, "list"], AppState(container=container))
    err = capsys.readouterr().err
    assert code == 1 and "s3cret" not in err
    assert "mongodb://admin:****@db.example:27017/q" in err


def test_ctrl_c_during_a_command_exits_130(container, capsys):
    def interrupted():
        raise KeyboardInterrupt

    container.store.override(providers.Callable(interrupted))
    assert cli_module.run(["list"], AppState(container=container)) == 130


def test_main_exits_1_with_one_error_line_for_an_unknown_store_scheme(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["--home", str(tmp_path), "--db", "redis://x", "list"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert err.startswith("Error: unsupported store URL scheme 'redis'") and err.count("\n") == 1


def test_each_help_summary_is_its_commands_own_and_every_command_is_listed():
    import importlib

    loaded = {}
    for module in {module for module, _summary in cli_module.COMMANDS.values()}:
        for command in importlib.import_module(f"queuectl.entrypoints.{module}").COMMANDS:
            loaded[command.name] = (module, command.get_short_help_str(limit=200))
    assert loaded == cli_module.COMMANDS


def test_main_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["--help"])
    assert exit_info.value.code == 0 and "enqueue" in capsys.readouterr().out


# -- worker --concurrency (SPEC 9.7) --------------------------------------------------
@pytest.mark.parametrize("command", [["worker", "run"], ["worker", "start"]])
@pytest.mark.parametrize("value", ["0", "257", "abc", "1.5", "-1", "", "\u0663", "1_0", "1e2", "\u0664", "\uff14",
                                   "4\u0664", "0x10"])
def test_a_concurrency_outside_1_to_256_is_a_usage_error_and_starts_nothing(invoke, store, command, value):
    error = one_error(invoke(*command, "--concurrency", value), code=2)
    assert error.startswith("Error: Invalid value for '--concurrency'")
    assert store.workers.workers() == []


@pytest.mark.parametrize("value", ["0", "257", "\u0664", "\uff14", "1e2"])
def test_a_worker_count_outside_1_to_256_or_not_ascii_digits_is_a_usage_error(invoke, store, value):
    error = one_error(invoke("worker", "start", "--count", value), code=2)
    assert error.startswith("Error: Invalid value for '--count'")
    assert store.workers.workers() == []


def test_worker_list_shows_each_live_workers_busy_and_total_slots(invoke, store):
    register_worker(store, NOW, slots=4)
    register_worker(store, NOW - timedelta(hours=1), worker_id="gone")
    add(store, "a")
    add(store, "b")
    add(store, "c")
    for _ in range(2):
        assert store.jobs.claim_next(WorkerRef("w1", "host1"), NOW, NOW + timedelta(seconds=30)) is not None
    out = invoke("worker", "list").stdout.splitlines()
    assert out[0].split() == ["WORKER", "HOST", "PID", "QUEUES", "SLOTS", "CURRENT_JOB", "LAST_HEARTBEAT"]
    assert out[1].split()[:5] == ["w1", "host1", "4242", "default", "2/4"] and len(out) == 2
    [worker] = json.loads(invoke("worker", "list", "--json").stdout)
    assert (worker["id"], worker["slots"], worker["busy"]) == ("w1", 4, 2)
    assert json.loads(invoke("status", "--json").stdout)["workers"] == [worker]


def test_worker_list_without_workers_says_so(invoke):
    assert invoke("worker", "list").stdout == "No live workers.\n"
    assert json.loads(invoke("worker", "list", "--json").stdout) == []


@pytest.mark.parametrize("group", ["queue", "config", "dlq", "schedule", "worker"])
def test_a_command_group_without_its_subcommand_shows_its_help_as_lines(group, capsys):
    with pytest.raises(SystemExit):
        cli_module.main([group])
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "\\n" not in text  # not one escaped line
    assert "\nCommands:\n" in text and text.startswith(f"Usage: queuectl {group} ")


def test_dashboard_help_names_the_queue_limit_among_the_actions_read_only_removes(invoke):
    text = " ".join(invoke("dashboard", "--help").stdout.split())
    assert "--read-only No retry, cancel, pause, resume or queue limit" in text
    assert "its actions (retry, cancel, pause, resume, queue limit)" in text


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e999", "\u0664", "abc"])
def test_a_stop_timeout_that_is_not_a_finite_number_of_seconds_is_a_usage_error(invoke, value):
    error = one_error(invoke("worker", "stop", "--timeout", value), code=2)
    assert error.startswith("Error: Invalid value for '--timeout'")
