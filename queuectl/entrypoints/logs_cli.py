"""``queuectl logs ID [--follow]``: each attempt's combined output, newest first."""

from __future__ import annotations

import codecs
import time
from pathlib import Path

import click

from .context import AppState, pass_app

FOLLOW_POLL_SECONDS = 0.2


def attempt_header(log) -> str:
    from queuectl.domain.timeutil import format_time

    attempt = log.attempt
    if attempt.finished_at is None:
        outcome = "running"
    elif attempt.error is None:  # succeeded, or an older attempt kept in summary (history_max)
        outcome = f"exit {attempt.exit_code}" if attempt.exit_code is not None else str(attempt.outcome)
    elif attempt.exit_code is None or attempt.error.startswith(("exit code", "command not")):
        outcome = attempt.error
    else:
        outcome = f"{attempt.error} (exit {attempt.exit_code})"
    return (f"=== attempt {attempt.attempt} · {outcome} · worker {attempt.worker} on {attempt.host}"
            f" · started {format_time(attempt.started_at)} ===")


def local_output(app: AppState, job) -> str:
    """The running attempt's output so far, when its file is on this host."""
    return app.container.outputs().tail(job, job.lease_token) if job.lease_token else ""


@click.command("logs")
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Stream output until the job reaches a final state.")
@pass_app
def logs_command(app: AppState, job_id: str, follow: bool) -> None:
    """Print JOB_ID's captured stdout+stderr, last attempt first."""
    service = app.jobs()
    entries = service.logs(job_id)
    if not follow:
        job = service.get(job_id) if entries and entries[0].attempt.finished_at is None else None
        for index, entry in enumerate(entries):
            click.echo(attempt_header(entry))
            text = entry.output or (local_output(app, job) if index == 0 and job else "")
            click.echo(text, nl=not text.endswith("\n") and bool(text))
        if not entries:
            click.echo(f"Job {job_id} has not run yet.")
        return
    _follow(app, job_id)


def _follow(app: AppState, job_id: str) -> None:
    """Print new output as it appears, attempt by attempt, until the job is final.

    A running attempt on this host is read from its output file, from where
    the last read stopped (whatever its size); an attempt that ran elsewhere
    shows the tail the store keeps, once it has finished.
    """
    from queuectl.domain.model import FINAL

    service, outputs = app.jobs(), app.container.outputs()
    streams: dict[int, _Stream] = {}  # history position -> what was printed of it
    while True:
        job = service.get(job_id)
        entries = service.logs(job_id)[::-1]  # oldest first while streaming
        for position, entry in enumerate(entries):
            stream = streams.get(position)
            if stream is None:
                click.echo(attempt_header(entry))
                running_here = entry.attempt.finished_at is None and job.lease_token
                path = Path(outputs.path(job, job.lease_token)) if running_here else None
                stream = streams[position] = _Stream(path)
            stream.show(entry.output if entry.attempt.finished_at is not None else None)
        if job.state in FINAL:
            return
        time.sleep(FOLLOW_POLL_SECONDS)


class _Stream:
    """One attempt's output as ``--follow`` prints it."""

    def __init__(self, path: Path | None) -> None:
        self.path, self.offset, self.done = path, 0, False
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # chunks may split a character

    def show(self, stored: str | None) -> None:
        """Print what is new; ``stored`` is the store's tail once the attempt has finished."""
        if self.done:
            return
        if self.path is not None:
            try:
                with open(self.path, "rb") as handle:
                    handle.seek(self.offset)
                    chunk = handle.read()
            except OSError:
                chunk = b""
            if chunk:
                click.echo(self.decoder.decode(chunk), nl=False)
                self.offset += len(chunk)
        if stored is not None:
            if self.offset == 0 and stored:  # ran elsewhere, or its file is gone
                click.echo(stored, nl=not stored.endswith("\n"))
            self.done = True


COMMANDS = [logs_command]
