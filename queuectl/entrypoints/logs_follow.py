"""``queuectl logs ID --follow``: stream each attempt's output until the job is final.

While the job waits (pending, or failed with a retry due) one line says so and
when it is due. A running attempt on this host is streamed from its output file
as it is written (read every ``TICK`` seconds); one that ran elsewhere shows the
tail the store keeps, once it has finished. The store is read at most every
``poll_interval``, and at once when this host reports the job final (the
``wait`` sockets). The last line says how the job ended; the exit status is 0
when it completed, 1 when it ended dead or was cancelled.
"""

from __future__ import annotations

import codecs
import time
from pathlib import Path

import click

from .context import AppState

TICK = 0.2  # seconds between reads of a running attempt's local output file


def follow(app: AppState, job_id: str) -> int:
    """Follow ``job_id`` to its end; the exit status."""
    from .wait_cli import final_line

    service = app.jobs()
    follower = _Follower(app, job_id, service.settings().poll_interval)
    waiter = app.container.outcome_waiter()
    try:
        job = follower.read()
        while job is None:
            job = follower.idle(waiter) or follower.read()
    except KeyboardInterrupt:
        return 130
    finally:
        waiter.close()
    click.echo(final_line(job))
    return 0 if job.state.value == "completed" else 1


class _Follower:
    def __init__(self, app: AppState, job_id: str, poll: float) -> None:
        self.service, self.outputs = app.jobs(), app.container.outputs()
        self.job_id, self.poll = job_id, poll
        self.streams: dict[int, _Stream] = {}  # history position -> what was printed of it
        self.waiting_shown: tuple | None = None
        self.next_read = 0.0

    def read(self):
        """One look at the store: print what is new; the job once it is final, else None."""
        from queuectl.domain.model import FINAL, WAITING

        self.next_read = time.monotonic() + self.poll
        job = self.service.get(self.job_id)
        for position, entry in enumerate(self.service.logs(self.job_id)[::-1]):  # oldest first
            self._show(position, entry, job)
        if job.state in WAITING and (job.state, job.attempts, job.run_at) != self.waiting_shown:
            self.waiting_shown = (job.state, job.attempts, job.run_at)
            click.echo(_waiting_line(job, self.service.clock.now()))
        return job if job.state in FINAL else None

    def _show(self, position: int, entry, job) -> None:
        from .logs_cli import attempt_header

        stream = self.streams.get(position)
        if stream is None:
            click.echo(attempt_header(entry))
            running_here = entry.attempt.finished_at is None and job.lease_token
            path = Path(self.outputs.path(job, job.lease_token)) if running_here else None
            stream = self.streams[position] = _Stream(path)
        stream.show(entry.output if entry.attempt.finished_at is not None else None)

    def idle(self, waiter) -> None:
        """Until the next store read: stream local output every tick; end early on a report of the job."""
        while (left := self.next_read - time.monotonic()) > 0:
            reports = waiter.wait(min(TICK, left))
            if any(r.job_id in (self.job_id, "") for r in reports):
                return None
            for stream in self.streams.values():
                stream.show(None)
        return None


def _waiting_line(job, now) -> str:
    from queuectl.domain.quoting import quoted
    from queuectl.domain.timeutil import format_time

    from .render import elapsed_text

    due = (job.run_at - now).total_seconds()
    when = f"due {format_time(job.run_at)}" + (f" (in {elapsed_text(due)})" if due >= 1 else " (now)")
    if job.attempts:
        return f"job {quoted(job.id)} failed: attempt {job.attempts + 1} of {job.max_retries + 1} {when}"
    return f"job {quoted(job.id)} is pending, waiting for a worker: {when}"


class _Stream:
    """One attempt's output as ``--follow`` prints it."""

    def __init__(self, path: Path | None) -> None:
        self.path, self.offset, self.done, self.at_line_start = path, 0, False, True
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
                self.at_line_start = chunk.endswith(b"\n")
        if stored is not None:
            if self.offset == 0 and stored:  # ran elsewhere, or its file is gone
                click.echo(stored, nl=not stored.endswith("\n"))
            elif not self.at_line_start:  # what follows starts on a line of its own
                click.echo()
            self.done = True
