"""SPEC 9.4 at the CLI: a bad value is one escaped ``Error:`` line, exit 2 for an option
(1 for a bad job JSON), and nothing stored changes."""

from __future__ import annotations

import json

import pytest

from queuectl.domain import defaults

from .support import add, all_jobs, error_lines, one_error


def snapshot(store):
    return [vars(job) for job in all_jobs(store)]


@pytest.mark.parametrize("args, message", [
    (["echo", "--timeout", "inf"], "'--timeout'"),
    (["echo", "--timeout", "1e400"], "'--timeout'"),
    (["echo", "--timeout", "1e300"], "'--timeout'"),
    (["echo", "--timeout", "nan"], "'nan' is not a number of seconds"),
    (["echo", "--timeout", "2592001"], "is not from 0 to 2592000 seconds"),
    (["echo", "--priority", "99999999999999999999"], "is not between -1000000000 and 1000000000"),
    (["echo", "--priority", "1.5"], "'1.5' is not an integer"),
    (["echo", "--max-retries", "1000001"], "is not between 0 and 1000000"),
    (["echo", "--queue", ""], "invalid queue name ''"),
    (["echo", "--queue", "tgt\n"], r"invalid queue name 'tgt\n'"),
    (["echo", "--id", "tgt\n"], r"invalid job id 'tgt\n'"),
    (["true", "--delay", "999999999d"], "invalid duration '999999999d'"),
    (["true", "--delay", "99999999999999d"], "invalid duration"),
    (["true", "--run-at", "9999-12-31T23:59:59-14:00"], "outside years 1-9999"),
])
def test_an_option_value_out_of_bounds_exits_2_and_stores_nothing(invoke, store, args, message):
    add(store, "tgt")
    before = snapshot(store)
    assert message in one_error(invoke("enqueue", *args), code=2)
    assert snapshot(store) == before


@pytest.mark.parametrize("text, message", [
    ('{"id":"n1","command":"x","timeout":Infinity}', "Infinity is not a number JSON allows"),
    ('{"id":"n1","command":"x","timeout":NaN}', "NaN is not a number JSON allows"),
    ('{"id":"n1","command":"x","timeout":1e400}', "too large"),
    ('{"id":"tgt\\n","command":"x"}', r"invalid job id 'tgt\n'"),
])
def test_a_job_json_out_of_bounds_exits_1_and_stores_nothing(invoke, store, text, message):
    add(store, "tgt")
    before = snapshot(store)
    assert message in one_error(invoke("enqueue", text))
    assert snapshot(store) == before


def test_a_delay_landing_after_year_9999_is_one_error_and_stores_nothing(invoke, store):
    assert "lands after year 9999" in one_error(invoke("enqueue", "true", "--delay", "3000000d"))
    assert all_jobs(store) == []


@pytest.mark.parametrize("args, message", [
    (["list", "--limit", "9223372036854775808"], "is not between 0 and 1000000"),
    (["list", "--limit", str(defaults.LIST_LIMIT_MAX + 1)], "'--limit'"),
    (["list", "--queue", "a b"], "invalid queue name 'a b'"),
    (["dlq", "list", "--limit", "-1"], "'--limit'"),
    (["stats", "--since", "99999999999d"], "invalid duration"),
    (["show", "tgt\n"], r"invalid job id 'tgt\n'"),
    (["cancel", "tgt\n"], r"invalid job id 'tgt\n'"),
    (["dlq", "retry", "tgt\n"], r"invalid job id 'tgt\n'"),
    (["logs", "tgt\n"], r"invalid job id 'tgt\n'"),
    (["logs", "--follow", "x" * 100_000], "invalid job id 'xxx"),
    (["remove", "tgt\n"], r"invalid job id 'tgt\n'"),
    (["show", "\udcff"], r"argument '\xff' is not valid UTF-8 text"),
    (["config", "set", "max_retries", "\udcff"], r"argument '\xff' is not valid UTF-8 text"),
])
def test_a_bad_argument_of_any_command_exits_2_with_one_error_line(invoke, store, args, message):
    add(store, "tgt")
    before = snapshot(store)
    assert message in one_error(invoke(*args), code=2)
    assert snapshot(store) == before


def test_a_huge_stats_window_reaches_back_to_year_1_instead_of_overflowing(invoke):
    result = invoke("stats", "--since", "3000000d", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["since"] == "0001-01-01T00:00:00.000Z"


@pytest.mark.parametrize("args", [["fo\x1b[2Jo"], ["enqueue", "true", "--id", "a\x1b]0;pwned\x07"],
                                  ["list", "--sta\nte", "x"], ["show", "a\rb"]])
def test_an_error_line_never_prints_a_control_character_the_user_typed(invoke, args):
    result = invoke(*args)
    assert result.exit_code == 2
    assert len(error_lines(result)) == 1
    assert not any(ord(char) < 32 for line in result.stderr.splitlines() for char in line)


def test_enqueue_file_reports_deep_and_overflowing_lines_and_stores_the_valid_ones(invoke, store):
    lines = [
        '{"id":"a","command":"true"}',
        '{"id":"deep","command":"true","history":' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"id":"big","command":"true","timeout":1e400}',
        '{"id":"far","command":"true","delay":"3000000d"}',
        '{"id":"ctl\\u001b","command":"true"}',
        '{"id":"b","command":"true"}',
    ]
    result = invoke("enqueue", "--file", "-", input="\n".join(lines) + "\n")
    assert result.exit_code == 1
    assert error_lines(result) == [
        "Error: line 2: malformed job JSON: nested too deeply",
        "Error: line 3: malformed job JSON: the number '1e400' is too large",
        r"Error: line 5: invalid job id 'ctl\x1b': use 1-128 characters of A-Z a-z 0-9 . _ : -",
        "Error: line 4: a delay of 3000000d lands after year 9999",
    ]
    assert result.stdout == "Enqueued 2 jobs; 4 lines rejected\n"
    assert sorted(job.id for job in all_jobs(store)) == ["a", "b"]


def test_every_json_output_is_strict_json(invoke, store):
    add(store, "a", timeout=float(defaults.TIMEOUT_LIMIT), priority=defaults.PRIORITY_LIMIT)
    for args in (["show", "a", "--json"], ["list", "--json"], ["dlq", "list", "--json"], ["status", "--json"],
                 ["stats", "--json"], ["config", "show", "--json"], ["config", "get", "job_timeout", "--json"]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        json.loads(result.stdout, parse_constant=pytest.fail)
