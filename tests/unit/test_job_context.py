"""A job's context in the domain (SPEC 9.1): ``cwd`` and ``env`` parsed, bounded and refused."""

from __future__ import annotations

import pytest

from queuectl.domain import defaults
from queuectl.domain.context import RESERVED_VARIABLES, parse_assignment, validate_cwd, validate_env
from queuectl.domain.errors import InvalidJob
from queuectl.domain.settings import Settings
from queuectl.domain.specs import spec_from_json, spec_from_mapping
from queuectl.domain.urls import STORE_URL_VARIABLES

from .cli.support import NOW


def test_a_json_job_keeps_its_cwd_and_env_on_the_job():
    spec = spec_from_json('{"id": "j", "command": "make", "cwd": "/srv/app", "env": {"CI": "1", "E": ""}}')
    job = spec.to_job(NOW, Settings())
    assert (job.cwd, job.env) == ("/srv/app", {"CI": "1", "E": ""})


def test_a_job_given_no_context_has_no_cwd_and_an_empty_env():
    job = spec_from_mapping({"command": "true"}).to_job(NOW, Settings())
    assert (job.cwd, job.env) == (None, {})


@pytest.mark.parametrize("cwd, message", [
    ("relative/dir", "must be an absolute path"), ("", "must be an absolute path"), (7, "must be an absolute path"),
    ("/a\0b", "NUL"), ("/" + "a" * defaults.CWD_MAX_BYTES, "at most 4096"), ("/\udcff", "not valid UTF-8"),
])
def test_a_bad_cwd_is_refused_with_a_clear_message(cwd, message):
    with pytest.raises(InvalidJob, match=message):
        spec_from_mapping({"command": "true", "cwd": cwd})


def test_a_cwd_of_exactly_the_bound_is_kept_as_given():
    longest = "/" + "a" * (defaults.CWD_MAX_BYTES - 1)
    assert validate_cwd(longest) == longest and validate_cwd("/a/../b/") == "/a/../b/"


@pytest.mark.parametrize("name", ["1A", "A-B", "A B", "", "A\n", "É", "A=B"])
def test_a_variable_name_a_shell_would_not_take_is_refused(name):
    with pytest.raises(InvalidJob, match="invalid environment variable name"):
        validate_env({name: "x"})


@pytest.mark.parametrize("name", sorted(RESERVED_VARIABLES))
def test_the_variables_the_worker_sets_and_the_store_urls_cannot_be_set_by_a_job(name):
    with pytest.raises(InvalidJob, match=f"a job cannot set {name}"):
        validate_env({name: "x"})


def test_every_store_url_variable_is_reserved():
    assert set(STORE_URL_VARIABLES) <= RESERVED_VARIABLES
    assert {"QUEUECTL_JOB_ID", "QUEUECTL_ATTEMPT", "QUEUECTL_QUEUE", "QUEUECTL_DB", "MONGO_URI"} <= RESERVED_VARIABLES


@pytest.mark.parametrize("env, message", [
    ({"A": 1}, "must be a string, got 1"), ({"A": None}, "must be a string, got null"),
    ({"A": "x\0y"}, "NUL"), (["A=1"], "must be an object of strings"), ("A=1", "must be an object of strings"),
    ({f"V{n}": "" for n in range(defaults.ENV_MAX_VARIABLES + 1)}, "at most 100"),
    ({"A": "x" * defaults.ENV_MAX_BYTES}, "at most 65536"),
])
def test_a_bad_env_is_refused_with_a_clear_message(env, message):
    with pytest.raises(InvalidJob, match=message):
        spec_from_mapping({"command": "true", "env": env})


def test_an_env_at_its_bounds_is_accepted():
    many = {f"V{n}": "" for n in range(defaults.ENV_MAX_VARIABLES)}
    assert validate_env(many) == many
    assert validate_env({"A": "x" * (defaults.ENV_MAX_BYTES - 2)}) == {"A": "x" * (defaults.ENV_MAX_BYTES - 2)}


@pytest.mark.parametrize("text, pair", [("A=1", ("A", "1")), ("A=", ("A", "")), ("_x=b=c", ("_x", "b=c"))])
def test_an_assignment_splits_at_its_first_equals_sign(text, pair):
    assert parse_assignment(text) == pair


@pytest.mark.parametrize("text", ["A", "=x", "1=x", "QUEUECTL_ATTEMPT=3", "A=x\0"])
def test_a_bad_assignment_is_refused(text):
    with pytest.raises(InvalidJob):
        parse_assignment(text)
