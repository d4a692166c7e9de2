"""The fuzz properties of the unit suite, with thousands of examples (``fault``: CI runs them).

The properties themselves live beside their quick runs in ``tests/unit``; see there.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from ..strategies import job_mappings, job_texts
from ..unit.cli.test_fuzz_cli import check_command, check_file, command_lines, file_inputs
from ..unit.test_fuzz_specs import check_job_new, check_mapping, check_text, job_new_arguments

pytestmark = [pytest.mark.fault, pytest.mark.long]


def heavy(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@heavy(1500)
@given(job_texts)
def test_thousands_of_job_texts_make_sound_jobs_or_invalid_jobs(text_):
    check_text(text_)


@heavy(1500)
@given(job_mappings)
def test_thousands_of_job_objects_make_sound_jobs_or_invalid_jobs(data):
    check_mapping(data)


@heavy(1000)
@given(job_new_arguments)
def test_thousands_of_job_new_calls_make_sound_jobs_or_invalid_jobs(arguments):
    check_job_new(arguments)


@heavy(4000)
@given(command_lines)
def test_thousands_of_command_lines_exit_0_1_or_2_and_failed_ones_change_nothing(args):
    check_command(args)


@heavy(1000)
@given(file_inputs)
def test_a_thousand_enqueue_files_store_exactly_the_lines_they_count(content):
    check_file(content)
