"""SPEC 9.4 in the domain: every value a job is made of is finite, bounded and full-matched."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from queuectl.adapters.memory import InMemoryStore
from queuectl.domain import defaults
from queuectl.domain.errors import InvalidJob
from queuectl.domain.model import Job, JobState, validate_id
from queuectl.domain.quoting import printable, quoted
from queuectl.domain.services import JobService
from queuectl.domain.settings import Settings
from queuectl.domain.specs import JobSpec, spec_from_json
from queuectl.domain.timeutil import bounded_seconds, from_epoch, parse_duration, parse_time

from .fakes import FakeClock, Script, ScriptedRunner
from .test_execution import make_worker, step

NOW = datetime(2026, 1, 31, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, message", [
    ('{"command":"x","timeout":Infinity}', "Infinity is not a number JSON allows"),
    ('{"command":"x","timeout":-Infinity}', "-Infinity is not a number JSON allows"),
    ('{"command":"x","timeout":NaN}', "NaN is not a number JSON allows"),
    ('{"command":"x","timeout":1e400}', "the number '1e400' is too large"),
    ('{"command":"x","timeout":1e300}', '"timeout" must be a number of seconds from 0 to 2592000'),
    ('{"command":"x","timeout":2592001}', '"timeout" must be a number of seconds'),
    ('{"command":"x","priority":' + "9" * 5000 + "}", "a number is too long"),
    ('{"command":"x","priority":1000000001}', '"priority" must be between'),
    ('{"command":"x","max_retries":1000001}', '"max_retries" must be between 0 and 1000000'),
    ('{"command":"x","delay":"99999999999999d"}', "invalid duration"),
    ('{"command":"x","run_at":"9999-12-31T23:59:59-14:00"}', "outside years 1-9999"),
    ('{"command":"x","run_at":12}', "invalid time"),
    ('{"id":"tgt\\n","command":"x"}', r"invalid job id 'tgt\\n'"),
    ('{"queue":"q\\n","command":"x"}', r"invalid queue name 'q\\n'"),
    ('{"command":"echo \\u0000"}', "NUL"),
    ('{"command":"' + "x" * (defaults.COMMAND_MAX_BYTES + 1) + '"}', f"at most {defaults.COMMAND_MAX_BYTES}"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"command":"x","history":' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
])
def test_a_job_with_a_value_out_of_bounds_is_an_invalid_job(text, message):
    with pytest.raises(InvalidJob, match=message):
        spec_from_json(text)


def test_a_command_that_fits_in_sh_c_is_accepted_and_one_byte_more_is_not():
    fits = "é" * (defaults.COMMAND_MAX_BYTES // 2) + "x"  # 131,071 bytes: 128 KiB with the closing NUL
    assert len(fits.encode()) == defaults.COMMAND_MAX_BYTES == 128 * 1024 - 1
    assert Job.new("j", fits, NOW).command == fits
    with pytest.raises(InvalidJob, match="131072 bytes"):
        Job.new("j", fits + "x", NOW)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59.99999", "9999-12-31T23:59:59.9999999Z",
                                  "9999-12-31T23:59:59.999001Z"])
def test_an_instant_past_the_last_millisecond_of_9999_is_refused_as_its_epoch_could_round_into_10000(text):
    with pytest.raises(InvalidJob, match="outside years 1-9999"):
        parse_time(text)


def test_a_stored_time_past_9999_from_an_older_version_reads_as_the_last_millisecond():
    assert from_epoch(253402300800.0).year == 9999  # not a ValueError: list and show still work


def test_a_command_holding_bytes_that_were_not_utf8_is_refused():
    with pytest.raises(InvalidJob, match="not valid UTF-8"):
        Job.new("j", "echo \udcff", NOW)


@pytest.mark.parametrize("value", ["job1\n", "\njob1", "job1\x00", "", "x" * 129, "jöb"])
def test_an_id_must_match_in_full(value):
    with pytest.raises(InvalidJob):
        validate_id(value)


@pytest.mark.parametrize("timeout", [math.inf, math.nan, -1.0, 1e300, defaults.TIMEOUT_LIMIT + 1])
def test_a_job_cannot_be_made_with_a_timeout_out_of_bounds(timeout):
    with pytest.raises(InvalidJob, match="timeout"):
        Job.new("j", "true", NOW, timeout=timeout)


def test_a_delay_that_lands_after_year_9999_is_refused_when_the_job_is_made():
    spec = JobSpec(command="true", delay=parse_duration("3000000d"))
    with pytest.raises(InvalidJob, match="lands after year 9999"):
        spec.to_job(NOW, Settings())


def test_run_at_may_be_the_last_millisecond_of_year_9999():
    assert parse_time("9999-12-31T23:59:59.999Z").year == 9999


def test_a_duration_is_finite_and_at_most_the_whole_calendar():
    assert parse_duration("3652058d") == timedelta(days=3652058)
    for text in ("3652059d", "1e400", "nan", "inf", float("inf"), float("nan"), -1, "5w", "٣"):
        with pytest.raises(InvalidJob):
            parse_duration(text)


def test_enqueue_many_reports_the_one_spec_that_cannot_be_made_and_stores_the_others():
    store, clock = InMemoryStore(), FakeClock(NOW)
    specs = [JobSpec("true", id="a"), JobSpec("true", id="far", delay=timedelta(days=3_000_000)),
             JobSpec("true", id="b")]
    result = JobService(store, clock).enqueue_many(specs)
    assert [job.id for job in result.stored] == ["a", "b"]
    assert list(result.invalid) == [1] and "lands after year 9999" in result.invalid[1]


@pytest.mark.parametrize("stored, used", [(math.inf, defaults.TIMEOUT_LIMIT), (math.nan, defaults.TIMEOUT_LIMIT),
                                          (-5.0, 0.0), (None, 0.0), (12.5, 12.5), ("junk", defaults.TIMEOUT_LIMIT)])
def test_a_stored_timeout_is_bounded_when_read(stored, used):
    assert bounded_seconds(stored) == used


@pytest.mark.parametrize("timeout", [math.inf, math.nan, 1e300])
def test_a_worker_runs_a_job_stored_with_an_unbounded_timeout_instead_of_dying(timeout):
    """A row from before the bounds: made directly, as an old version stored it."""
    clock = FakeClock(NOW)
    store, runner = InMemoryStore(), ScriptedRunner(clock)
    store.jobs.add(Job(id="old", command="true", created_at=NOW, run_at=NOW, updated_at=NOW, timeout=timeout))
    runner.scripts["old"] = [Script(duration=5)]
    step(make_worker(store, clock, runner))
    assert store.jobs.get("old").state is JobState.COMPLETED


@pytest.mark.parametrize("text, shown", [
    ("a\nb", r"a\nb"), ("\x1b[31m", r"\x1b[31m"), ("\udcff", r"\xff"), ("tab\there", r"tab\there"),
    ("\u2028", r"\u2028"), ("plain é ✓", "plain é ✓"),
])
def test_a_users_value_is_shown_escaped_on_one_line(text, shown):
    assert printable(text) == shown


def test_a_long_or_structured_value_is_quoted_short_and_never_walked():
    assert quoted("x" * 500) == "'" + "x" * 77 + "...'"
    deep = json.loads("[" * 500 + "]" * 500)
    assert (quoted(deep), quoted({"a": 1}), quoted(None), quoted(2.5), quoted(10 ** 5000)) == \
        ("an array", "an object", "null", "2.5", "a huge integer")
