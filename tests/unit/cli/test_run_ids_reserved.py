"""A schedule run's id (NAME@tick) is its exactly-once guard: a user cannot take one by hand."""

from __future__ import annotations

from .support import all_jobs, error_lines, one_error


def test_enqueue_refuses_a_run_id_and_stores_nothing(invoke, store):
    error = one_error(invoke("enqueue", "--id", "nightly@20261202T0300Z", "true"))
    assert "nightly@20261202T0300Z" in error and "reserved" in error
    assert all_jobs(store) == []


def test_a_bulk_line_with_a_run_id_is_reported_and_the_rest_stored(invoke, store):
    lines = '{"id": "a@20261202T0300Z", "command": "true"}\n{"id": "b", "command": "true"}\n'
    result = invoke("enqueue", "--file", "-", input=lines)
    assert result.exit_code == 1
    assert any(line.startswith("Error: line 1:") and "reserved" in line for line in error_lines(result))
    assert [job.id for job in all_jobs(store)] == ["b"]


def test_show_and_cancel_still_take_a_run_id(invoke, store):
    assert one_error(invoke("show", "nightly@20261202T0300Z")).endswith("not found")
