"""Property: any text given as a job, and any arguments to ``Job.new``, make a valid job or an
``InvalidJob``; never another exception, never a job a worker or a JSON reader could choke on.

A quick run here, in every unit run; thousands more in tests/integration/test_fuzz_heavy.py.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queuectl.domain import defaults
from queuectl.domain.context import ENV_NAME, RESERVED_VARIABLES
from queuectl.domain.errors import InvalidJob
from queuectl.domain.model import Job, validate_id
from queuectl.domain.settings import Settings
from queuectl.domain.specs import spec_from_json, spec_from_mapping
from queuectl.entrypoints import render

from ..strategies import identifier, job_mappings, job_texts, json_values, text

NOW = datetime(2026, 1, 31, 12, tzinfo=timezone.utc)
QUICK = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_sound(job: Job) -> None:
    """Everything SPEC 9.4 promises about a stored job."""
    validate_id(job.id)
    validate_id(job.queue, "queue name")
    assert -defaults.PRIORITY_LIMIT <= job.priority <= defaults.PRIORITY_LIMIT
    assert 0 <= job.max_retries <= defaults.MAX_RETRIES_LIMIT
    assert math.isfinite(job.timeout) and 0 <= job.timeout <= defaults.TIMEOUT_LIMIT
    assert job.run_at.year <= defaults.LATEST_YEAR
    assert 0 < len(job.command.encode("utf-8")) <= defaults.COMMAND_MAX_BYTES and "\0" not in job.command
    assert job.cwd is None or (job.cwd.startswith("/") and "\0" not in job.cwd
                               and len(job.cwd.encode("utf-8")) <= defaults.CWD_MAX_BYTES)
    assert len(job.env) <= defaults.ENV_MAX_VARIABLES
    for name, value in job.env.items():
        assert ENV_NAME.fullmatch(name) and name not in RESERVED_VARIABLES
        assert isinstance(value, str) and "\0" not in value
        value.encode("utf-8")  # text every store keeps: no lone surrogate
    json.dumps(render.job_dict(job, history=True), allow_nan=False)


def made_or_refused(make) -> None:
    try:
        job = make()
    except InvalidJob as error:
        assert str(error)
        return
    assert_sound(job)


def check_text(text_: str) -> None:
    made_or_refused(lambda: spec_from_json(text_).to_job(NOW, Settings()))


def check_mapping(data: dict) -> None:
    made_or_refused(lambda: spec_from_mapping(data).to_job(NOW, Settings()))


job_new_arguments = st.fixed_dictionaries({
    "job_id": identifier, "command": st.one_of(text, st.just("true")),
    "queue": identifier,
    "priority": st.one_of(st.integers(-(10 ** 12), 10 ** 12), json_values),
    "max_retries": st.one_of(st.integers(-10, 10 ** 8), json_values),
    "timeout": st.one_of(st.floats(), st.integers(-(10 ** 400), 10 ** 400), json_values),
})


def check_job_new(arguments: dict) -> None:
    arguments = dict(arguments)
    made_or_refused(lambda: Job.new(arguments.pop("job_id"), arguments.pop("command"), NOW, **arguments))


@QUICK
@given(job_texts)
def test_any_job_text_makes_a_sound_job_or_an_invalid_job(text_):
    check_text(text_)


@QUICK
@given(job_mappings)
def test_any_job_object_makes_a_sound_job_or_an_invalid_job(data):
    check_mapping(data)


@QUICK
@given(job_new_arguments)
def test_job_new_makes_a_sound_job_or_refuses_with_invalid_job(arguments):
    check_job_new(arguments)

