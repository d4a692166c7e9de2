"""How ``worker start`` hands a worker its store URL: a pipe read once, never argv or the environment."""

from __future__ import annotations

import os

import pytest

from queuectl.adapters.processes import URL_FD_ENV, _url_pipe, take_handed_url
from queuectl.domain.errors import QueuectlError


def test_the_url_is_read_once_and_the_descriptor_and_its_variable_are_gone():
    fd = _url_pipe("mongodb://ann:s3cret@db/q")
    environ = {URL_FD_ENV: str(fd), "PATH": "/bin"}
    assert take_handed_url(environ) == "mongodb://ann:s3cret@db/q"
    assert environ == {"PATH": "/bin"}
    with pytest.raises(OSError):
        os.fstat(fd)


def test_a_worker_started_any_other_way_resolves_its_store_as_usual():
    assert take_handed_url({"QUEUECTL_DB": "sqlite:///q.db"}) is None


@pytest.mark.parametrize("value", ["three", "-1", "99999", "3\n"])
def test_a_variable_that_names_no_descriptor_is_an_error(value):
    with pytest.raises(QueuectlError, match=URL_FD_ENV):
        take_handed_url({URL_FD_ENV: value})


def test_a_descriptor_that_is_not_the_launchers_pipe_is_refused(tmp_path):
    fd = os.open(tmp_path / "file", os.O_RDWR | os.O_CREAT)
    with pytest.raises(QueuectlError, match="is not the launcher's pipe"):
        take_handed_url({URL_FD_ENV: str(fd)})


def test_a_url_too_long_for_the_pipe_is_refused_before_any_worker_starts():
    with pytest.raises(QueuectlError, match="longer than"):
        _url_pipe("sqlite:///" + "x" * 20_000)
