"""The shell runner gives each command the signal dispositions a shell would."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta, timezone

from queuectl.adapters import shell_runner
from queuectl.adapters.shell_runner import ShellRunner
from queuectl.domain.model import Job


def run(tmp_path, command: str):
    runner = ShellRunner(tmp_path / "home")
    now = datetime.now(timezone.utc)
    job = Job.new("j1", command, now)
    job.claim("w1", "host", "token", now, now + timedelta(seconds=30))
    handle = runner.start(job)
    try:
        result = None
        while result is None:
            result = handle.wait(60)
        return result
    finally:
        runner.close()


def test_every_signal_put_back_to_its_default_is_a_real_signal():
    assert set(shell_runner._DEFAULT_SIGNALS) == {signal.SIGPIPE, signal.SIGXFSZ}
    assert all(isinstance(sig, signal.Signals) for sig in shell_runner._DEFAULT_SIGNALS)


def test_a_command_past_its_file_size_limit_is_killed_by_sigxfsz_as_under_a_shell(tmp_path):
    # Python ignores SIGXFSZ, and an ignored signal stays ignored across exec: without the
    # runner putting it back, head would get EFBIG and exit 1 instead of being killed.
    (tmp_path / "home").mkdir()
    result = run(tmp_path, f"cd {tmp_path}; ulimit -f 1; head -c 4096 /dev/zero > big.bin")
    assert result.exit_code == 128 + signal.SIGXFSZ
