"""Readiness of descriptors at and above select's FD_SETSIZE: a worker with many slots holds such."""

import os
import resource

import pytest

from queuectl.adapters.readiness import FD_SETSIZE, readable


@pytest.fixture
def high_pipe():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= FD_SETSIZE + 10:
        pytest.skip("the hard limit of open files keeps descriptors below FD_SETSIZE")
    if soft != resource.RLIM_INFINITY and soft <= FD_SETSIZE + 10:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_SETSIZE + 20, hard))
    r, w = os.pipe()
    high_r, high_w = os.dup2(r, FD_SETSIZE + 5), os.dup2(w, FD_SETSIZE + 6)
    os.close(r)
    os.close(w)
    yield high_r, high_w
    os.close(high_r)
    os.close(high_w)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_descriptor_above_fd_setsize_is_waited_on_and_seen_readable(high_pipe):
    r, w = high_pipe
    low_r, low_w = os.pipe()
    try:
        assert readable([low_r, r], 0.01) == []
        os.write(w, b"x")
        assert readable([low_r, r], 1.0) == [r]
        os.write(low_w, b"y")
        assert sorted(readable([low_r, r], 1.0)) == sorted([low_r, r])
    finally:
        os.close(low_r)
        os.close(low_w)


def test_below_fd_setsize_it_is_a_plain_select():
    r, w = os.pipe()
    try:
        assert readable([r], 0) == []
        os.write(w, b"x")
        assert readable([r], 0) == [r]
    finally:
        os.close(r)
        os.close(w)
