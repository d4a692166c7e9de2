"""``enqueue``'s context (SPEC 9.1): the caller's directory, ``--cwd``, ``--env``, ``-- WORDS``,
and a success line naming both id and command."""

from __future__ import annotations

import json
import os

from .support import all_jobs, enqueued_id, one_error


def test_the_words_after_dashes_are_the_command_joined_with_shell_quoting(invoke, store):
    result = invoke("enqueue", "--", "ls", "my dir", "$HOME")
    job = store.jobs.get(enqueued_id(result.stdout))
    assert job.command == "ls 'my dir' '$HOME'"
    assert result.stdout.endswith(": ls 'my dir' '$HOME'\n")


def test_the_success_line_shows_the_id_command_trap_at_once(invoke, store):
    assert invoke("enqueue", "echo", "hello").stdout == "Enqueued job 'echo': hello\n"
    assert invoke("enqueue", "--id", "greet", "--", "echo", "hello").stdout == "Enqueued job 'greet': echo hello\n"


def test_a_long_or_multi_line_command_is_shown_on_one_cut_line(invoke, store):
    line = invoke("enqueue", "--id", "long", "echo a\n" + "x" * 200).stdout
    assert line.startswith("Enqueued job 'long': echo a\\nxxx") and line.endswith("...\n") and len(line) < 120


def test_options_before_dashes_still_apply_and_a_dashes_option_value_is_not_the_split(invoke, store):
    invoke("enqueue", "--cwd", "--", "--queue", "q1", "--", "pwd", "--queue")
    [job] = all_jobs(store)
    assert (job.command, job.queue, job.cwd) == ("pwd --queue", "q1", os.path.join(os.getcwd(), "--"))


def test_an_id_word_before_dashes_or_nothing_after_them_is_a_usage_error(invoke, store):
    assert "give the id as --id ID" in one_error(invoke("enqueue", "job1", "--", "ls"), code=2)
    assert "nothing after --" in one_error(invoke("enqueue", "--"), code=2)
    assert all_jobs(store) == []


def test_a_job_runs_in_the_callers_directory_unless_told_otherwise(invoke, store, tmp_path):
    invoke("enqueue", "--id", "here", "pwd")
    invoke("enqueue", "--id", "json", '{"command": "pwd"}')
    invoke("enqueue", "--id", "rel", "--cwd", "sub/dir", "pwd")
    invoke("enqueue", '{"id": "chosen", "command": "pwd", "cwd": "/srv/app"}')
    invoke("enqueue", "--id", "override", "--cwd", str(tmp_path), '{"command": "pwd", "cwd": "/srv/app"}')
    invoke("enqueue", '{"id": "worker", "command": "pwd", "cwd": null}')
    cwds = {job.id: job.cwd for job in all_jobs(store)}
    assert cwds == {"here": os.getcwd(), "json": os.getcwd(), "rel": os.path.join(os.getcwd(), "sub/dir"),
                    "chosen": "/srv/app", "override": str(tmp_path), "worker": None}


def test_env_options_add_to_the_json_env_and_win_over_its_names(invoke, store):
    invoke("enqueue", "--env", "A=1", "--env", "B=x=y", "--env", "A=2", '{"id": "j", "command": "env",'
           ' "env": {"B": "json", "C": "json"}}')
    assert store.jobs.get("j").env == {"B": "x=y", "C": "json", "A": "2"}


def test_file_lines_get_the_callers_directory_and_the_env_options(invoke, store):
    lines = "\n".join(json.dumps(job) for job in [{"id": "a", "command": "pwd"},
                                                   {"id": "b", "command": "pwd", "cwd": "/b", "env": {"X": "1"}}])
    invoke("enqueue", "--file", "-", "--env", "Y=2", input=lines + "\n")
    a, b = store.jobs.get("a"), store.jobs.get("b")
    assert (a.cwd, a.env, b.cwd, b.env) == (os.getcwd(), {"Y": "2"}, "/b", {"X": "1", "Y": "2"})


def test_bad_env_options_are_one_error_exit_2_and_store_nothing(invoke, store):
    assert "invalid environment variable name '1A'" in one_error(invoke("enqueue", "--env", "1A=x", "true"), code=2)
    assert "expected KEY=VALUE" in one_error(invoke("enqueue", "--env", "A", "true"), code=2)
    assert "a job cannot set MONGO_URI" in one_error(invoke("enqueue", "--env", "MONGO_URI=m", "true"), code=2)
    many = [arg for n in range(101) for arg in ("--env", f"V{n}=1")]
    assert "at most 100" in one_error(invoke("enqueue", *many, "true"), code=2)
    assert "give --cwd a directory" in one_error(invoke("enqueue", "--cwd", "", "true"), code=2)
    assert all_jobs(store) == []


def test_show_and_json_carry_cwd_and_env(invoke, store):
    invoke("enqueue", "--id", "j", "--cwd", "/srv/my app", "--env", "CI=1", "--env", "NAME=two words", "true")
    shown = invoke("show", "j").stdout.splitlines()
    assert "cwd          /srv/my app" in shown and "env          CI=1 NAME='two words'" in shown
    data = json.loads(invoke("show", "j", "--json").stdout)
    assert (data["cwd"], data["env"]) == ("/srv/my app", {"CI": "1", "NAME": "two words"})
    [listed] = json.loads(invoke("list", "--json").stdout)
    assert (listed["cwd"], listed["env"]) == ("/srv/my app", {"CI": "1", "NAME": "two words"})
