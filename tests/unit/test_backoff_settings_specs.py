import json
from datetime import timedelta

import pytest

from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import InvalidJob, InvalidSetting
from queuectl.domain.settings import Settings, normalise_key, parse_value
from queuectl.domain.specs import spec_from_json
from queuectl.domain.timeutil import format_time, parse_duration, parse_time

from .fakes import T0


@pytest.mark.parametrize("attempt, seconds", [(1, 2), (2, 4), (3, 8), (10, 1024)])
def test_backoff_is_base_to_the_number_of_failed_attempts(attempt, seconds):
    assert BackoffPolicy(base=2, maximum=3600).delay(attempt) == timedelta(seconds=seconds)


def test_backoff_is_capped_even_when_the_power_overflows():
    assert BackoffPolicy(base=2, maximum=60).delay(7) == timedelta(seconds=60)
    assert BackoffPolicy(base=10, maximum=60).delay(10_000) == timedelta(seconds=60)


def test_dash_and_underscore_spellings_name_the_same_key():
    assert normalise_key("max-retries") == normalise_key("MAX_RETRIES") == "max_retries"


@pytest.mark.parametrize("key, raw", [("max_retries", "-1"), ("max_retries", "1.5"), ("backoff_base", "0.5"),
                                      ("lease_seconds", "0"), ("poll_interval", "0"), ("job_timeout", "nan"),
                                      ("backoff_max", "lots"), ("lease_seconds", "1e308"),
                                      ("poll_interval", "1e9"), ("poll_interval", "0.001"),
                                      ("job_timeout", "inf"), ("job_timeout", "2592001"),
                                      ("backoff_max", "1e400"), ("backoff_base", "Infinity"),
                                      ("max_retries", "99999999999999999999"), ("output_max", "1e9"),
                                      ("output_max", "2TiB"), ("output_max", "12"), ("retention", "-1d"),
                                      ("retention", "nan"), ("history_max", "0")])
def test_invalid_values_are_rejected_with_the_rule(key, raw):
    with pytest.raises(InvalidSetting, match=f"invalid value '{raw}' for {key}: expected"):
        parse_value(key, raw)


@pytest.mark.parametrize("key, raw, value", [("output_max", "64MiB", 64 * 1024 ** 2), ("output_max", "2048", 2048),
                                             ("retention", "30d", 30 * 86400.0), ("retention", "0", 0.0),
                                             ("history_max", "10", 10), ("lease_seconds", "3600", 3600.0)])
def test_sizes_and_durations_take_units(key, raw, value):
    assert parse_value(key, raw) == value


def test_stored_values_out_of_bounds_fall_back_to_the_default_rather_than_stop_a_worker():
    settings = Settings.from_stored({"lease_seconds": 1e308, "poll_interval": 1e9, "job_timeout": float("inf")})
    assert (settings.lease_seconds, settings.poll_interval, settings.job_timeout) == (30.0, 0.5, 0.0)


def test_unknown_keys_are_rejected_naming_the_known_ones():
    with pytest.raises(InvalidSetting, match="unknown config key 'colour'.*max_retries"):
        normalise_key("colour")


def test_stored_settings_override_defaults_and_junk_is_ignored():
    settings = Settings.from_stored({"max_retries": 5, "poll_interval": "junk", "nonsense": 1})
    assert settings.max_retries == 5 and settings.poll_interval == 0.5


def test_a_json_spec_resolves_retries_and_timeout_from_the_configuration():
    job = spec_from_json('{"id":"job1","command":"sleep 2"}').to_job(T0, Settings(max_retries=7, job_timeout=9))
    assert (job.id, job.command, job.max_retries, job.timeout, job.run_at) == ("job1", "sleep 2", 7, 9.0, T0)


def test_a_json_spec_keeps_its_own_fields():
    spec = spec_from_json(json.dumps({"command": "x", "max_retries": 0, "priority": 5, "queue": "q1",
                                      "run_at": "2026-01-01T13:00:00Z", "timeout": 1.5}))
    job = spec.to_job(T0, Settings())
    assert (job.max_retries, job.priority, job.queue, job.timeout) == (0, 5, "q1", 1.5)
    assert job.run_at == T0 + timedelta(hours=1) and len(job.id) == 16


@pytest.mark.parametrize("text, message", [
    ('{"id":"a"', "malformed job JSON"),
    ('[1]', "must be a JSON object"),
    ('{"id":"a"}', "non-empty \"command\""),
    ('{"command":"x","priority":"high"}', "\"priority\" must be an integer"),
    ('{"command":"x","max_retries":-1}', "\"max_retries\" must be between 0 and"),
    ('{"command":"x","id":"bad id"}', "invalid job id"),
    ('{"command":"x","colour":"red"}', "unknown job field"),
    ('{"command":"x","run_at":"tomorrow"}', "invalid time"),
])
def test_bad_job_json_is_rejected_with_a_reason(text, message):
    with pytest.raises(InvalidJob, match=message):
        spec_from_json(text)


def test_times_print_in_utc_with_milliseconds_and_z():
    assert format_time(parse_time("2026-01-01T13:00:00.123456+01:00")) == "2026-01-01T12:00:00.123Z"


@pytest.mark.parametrize("text, seconds", [("30", 30), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400),
                                           ("1.5m", 90)])
def test_durations_take_plain_seconds_or_a_unit(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_a_duration_with_an_unknown_unit_is_rejected():
    with pytest.raises(InvalidJob, match="invalid duration '5w'"):
        parse_duration("5w")
