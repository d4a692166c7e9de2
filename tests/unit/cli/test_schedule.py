"""``schedule add/list/remove/pause/resume``: what the user types and sees."""

from __future__ import annotations

import json
import os

import pytest

from .support import one_error


def test_add_stores_the_schedule_with_the_enqueue_options_and_prints_its_first_run(invoke, store):
    result = invoke("schedule", "add", "nightly", "*/5 * * * *", "--queue", "reports", "--priority", "7",
                    "--max-retries", "1", "--timeout", "60", "--env", "MODE=full", "--cwd", "/srv", "backup.sh")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Added schedule 'nightly': next run 2026-01-31T12:05:00.000Z\n"
    stored = store.schedules.get("nightly")
    assert (stored.cron, stored.tz, stored.paused) == ("*/5 * * * *", "UTC", False)
    assert stored.job == {"command": "backup.sh", "queue": "reports", "priority": 7, "max_retries": 1,
                          "timeout": 60.0, "cwd": "/srv", "env": {"MODE": "full"}}


def test_add_takes_every_word_after_dashes_as_the_command_and_the_caller_s_directory(invoke, store):
    assert invoke("schedule", "add", "report", "0 3 * * *", "--", "ls", "-l", "my dir").exit_code == 0
    assert store.schedules.get("report").job["command"] == "ls -l 'my dir'"
    assert store.schedules.get("report").job["cwd"] == os.getcwd()


def test_add_with_a_time_zone_reads_the_expression_there(invoke, store):
    assert invoke("schedule", "add", "paris", "0 9 * * *", "--tz", "Europe/Paris", "true").exit_code == 0
    assert store.schedules.get("paris").next_run.isoformat() == "2026-02-01T08:00:00+00:00"


def test_adding_a_name_that_exists_fails_and_changes_nothing(invoke, store):
    invoke("schedule", "add", "nightly", "0 3 * * *", "first")
    result = invoke("schedule", "add", "nightly", "0 4 * * *", "second")
    assert one_error(result, 1) == "Error: schedule 'nightly' already exists"
    assert (store.schedules.get("nightly").cron, store.schedules.get("nightly").job["command"]) == (
        "0 3 * * *", "first")


@pytest.mark.parametrize("args, where", [
    (("nightly", "61 * * * *", "x"), "'CRON'"),
    (("nightly", "* * * *", "x"), "'CRON'"),
    (("nightly", "0 0 31 2 *", "x"), "'CRON'"),
    (("nightly", "* * * * *", "--tz", "Mars/Olympus", "x"), "'--tz'"),
    (("night@ly", "* * * * *", "x"), "'NAME'"),
    (("n" * 114, "* * * * *", "x"), "'NAME'"),
    (("nightly", "* * * * *", "--priority", "high", "x"), "'--priority'"),
    (("nightly", "* * * * *", "--env", "NO_EQUALS", "x"), "'--env'"),
])
def test_a_bad_value_is_one_usage_error_and_nothing_is_stored(invoke, store, args, where):
    assert where in one_error(invoke("schedule", "add", *args), 2)
    assert store.schedules.list() == []


@pytest.mark.parametrize("args", [("nightly", "* * * * *"), ("nightly", "* * * * *", "a", "b"),
                                  ("nightly", "* * * * *", "a", "--"), ("nightly", "* * * * *", "--")])
def test_add_needs_exactly_one_command_argument_or_words_after_dashes(invoke, store, args):
    one_error(invoke("schedule", "add", *args), 2)
    assert store.schedules.list() == []


def test_list_shows_next_run_state_and_last_run_and_json_carries_them(invoke, store):
    assert invoke("schedule", "list").stdout == "No schedules.\n"
    invoke("schedule", "add", "nightly", "0 3 * * *", "--queue", "ops", "backup.sh")
    invoke("schedule", "add", "hourly", "0 * * * *", "true")
    invoke("schedule", "pause", "hourly")
    lines = invoke("schedule", "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "CRON", "TZ", "STATE", "NEXT_RUN", "LAST_RUN", "QUEUE", "COMMAND"]
    assert lines[1].split() == ["hourly", "0", "*", "*", "*", "*", "UTC", "paused", "2026-01-31T13:00:00.000Z",
                                "-", "default", "true"]
    assert lines[2].split()[0:9] == ["nightly", "0", "3", "*", "*", "*", "UTC", "active",
                                     "2026-02-01T03:00:00.000Z"]
    rows = json.loads(invoke("schedule", "list", "--json").stdout)
    assert [(r["name"], r["paused"], r["next_run"], r["last_run"]) for r in rows] == [
        ("hourly", True, "2026-01-31T13:00:00.000Z", None), ("nightly", False, "2026-02-01T03:00:00.000Z", None)]
    assert rows[1]["job"]["queue"] == "ops" and rows[1]["cron"] == "0 3 * * *" and rows[1]["tz"] == "UTC"


def test_resume_runs_from_the_next_tick_after_now(invoke, store, clock):
    invoke("schedule", "add", "nightly", "0 3 * * *", "backup.sh")
    assert invoke("schedule", "pause", "nightly").stdout == "Paused schedule 'nightly'\n"
    clock.advance(3 * 86400)
    result = invoke("schedule", "resume", "nightly")
    assert result.stdout == "Resumed schedule 'nightly': next run 2026-02-04T03:00:00.000Z\n"
    assert not store.schedules.get("nightly").paused


def test_remove_deletes_it_and_an_unknown_name_fails_for_remove_pause_and_resume(invoke, store):
    invoke("schedule", "add", "nightly", "0 3 * * *", "backup.sh")
    assert invoke("schedule", "remove", "nightly").stdout == "Removed schedule 'nightly'\n"
    assert store.schedules.list() == []
    for verb in ("remove", "pause", "resume"):
        assert one_error(invoke("schedule", verb, "nightly"), 1) == "Error: schedule 'nightly' not found"
    assert "'NAME'" in one_error(invoke("schedule", "pause", "bad name"), 2)


def test_a_run_s_id_is_a_job_id_that_show_and_cancel_take(invoke, store):
    from .support import add

    add(store, "nightly@20260201T0300Z")
    assert invoke("show", "nightly@20260201T0300Z", "--json").exit_code == 0
    assert invoke("cancel", "nightly@20260201T0300Z").exit_code == 0
    assert "invalid job id" in one_error(invoke("show", "nightly@2026"), 2)
