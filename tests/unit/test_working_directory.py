"""Entering a job's directory around a spawn, and what an attempt says when this host has none."""

from __future__ import annotations

import os

import pytest

from queuectl.adapters.working_directory import DirectoryUnusable, WorkingDirectories, unusable_message


def test_the_worker_is_back_in_its_own_directory_after_a_jobs_spawn(tmp_path):
    directories, before = WorkingDirectories(), os.getcwd()
    try:
        with directories.entered(str(tmp_path), "host-a"):
            assert os.getcwd() == str(tmp_path)
        assert os.getcwd() == before
    finally:
        directories.close()


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: (p / "file").touch() or p / "file"])
def test_a_missing_directory_or_a_file_is_not_found_on_this_host(tmp_path, make):
    target, directories, before = str(make(tmp_path)), WorkingDirectories(), os.getcwd()
    try:
        with pytest.raises(DirectoryUnusable) as raised:
            with directories.entered(target, "host-a"):
                pytest.fail("entered a directory that is not there")
        assert str(raised.value) == f"working directory '{target}' not found on host-a"
        assert os.getcwd() == before
    finally:
        directories.close()


def test_a_directory_that_cannot_be_entered_says_permission_denied():
    assert unusable_message("/root/x", "h", PermissionError(13, "Permission denied")) == (
        "working directory '/root/x' not accessible on h (permission denied)")


def test_a_stored_context_the_domain_would_refuse_fails_the_attempt_instead_of_the_worker(tmp_path):
    from datetime import datetime, timezone

    from queuectl.adapters.shell_runner import ShellRunner
    from queuectl.domain.model import Job

    runner = ShellRunner(tmp_path / "home")
    try:
        for corrupt in ({"env": {"A": "x\0y"}}, {"env": {"A": 1}}, {"cwd": "/a\0b"}):
            job = Job.new("j", "true", datetime.now(timezone.utc))
            job.attempts, job.lease_token = 1, "t"
            for name, value in corrupt.items():
                setattr(job, name, value)  # as a row written by other means would read back
            result = runner.start(job).wait(5)
            assert result.exit_code is None and result.error.startswith("could not start /bin/sh: "), corrupt
    finally:
        runner.close()
