"""``queuectl wait [ID...] [--queue Q] [--timeout S]``: block until jobs reach a final state.

Exit 0 when every job waited for completed; 1 when any ended dead or was
cancelled (one ``Error:`` line each on stderr), when the timeout expired (one
``Error:`` line with how many were unfinished), or for an unknown id; 130 on Ctrl-C.
"""

from __future__ import annotations

import click

from queuectl.domain.model import JobState
from queuectl.domain.quoting import printable, quoted

from . import params
from .context import AppState, pass_app

EXIT_INTERRUPTED = 130


def final_line(job) -> str:
    """How a final job ended, in one line: ``job 'x' completed (exit 0)``, ``job 'x' ended dead: ...``."""
    name = f"job {quoted(job.id)}"
    if job.state is JobState.COMPLETED:
        return f"{name} completed (exit {job.exit_code if job.exit_code is not None else 0})"
    if job.state is JobState.CANCELLED:
        return f"{name} was cancelled"
    return f"{name} ended {job.state.value}: {printable(job.last_error or 'no error recorded')}"


def wait_dict(job) -> dict:
    return {"id": job.id, "state": job.state.value, "exit_code": job.exit_code, "last_error": job.last_error}


@click.command("wait")
@click.argument("job_ids", nargs=-1, type=params.JOB_ID, metavar="[ID]...")
@click.option("--queue", type=params.QUEUE, metavar="NAME", help="Every job of this queue (no IDs).")
@click.option("--timeout", type=params.TIMEOUT, metavar="S", help="Give up after S seconds (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the final jobs as JSON.")
@pass_app
@click.pass_context
def wait_command(ctx: click.Context, app: AppState, job_ids: tuple[str, ...], queue: str | None,
                 timeout: float | None, as_json: bool) -> None:
    """Block until jobs (all jobs without IDs) reach a final state; exit 0 only if all completed."""
    if job_ids and queue:
        raise click.UsageError("give job IDs or --queue, not both")
    try:
        result = app.jobs().wait(job_ids, queue, timeout)
    except KeyboardInterrupt:
        ctx.exit(EXIT_INTERRUPTED)
    _show(result, bool(job_ids), as_json)
    for job in result.failed:
        click.echo(f"Error: {final_line(job)}", err=True)
    if result.timed_out:
        from queuectl.domain.timeutil import duration_text

        unfinished = f"{result.unfinished} job{'s' if result.unfinished != 1 else ''}"
        click.echo(f"Error: timed out after {duration_text(timeout or 0)}: {unfinished} still unfinished", err=True)
    ctx.exit(0 if result.ok else 1)


def _show(result, named: bool, as_json: bool) -> None:
    from . import render

    completed = [job for job in result.jobs if job.state is JobState.COMPLETED]
    if as_json:
        click.echo(render.to_json([wait_dict(job) for job in result.jobs]))
    elif named:
        for job in completed:
            click.echo(final_line(job))
    elif not result.jobs and not result.timed_out:
        click.echo("No unfinished jobs.")
    elif completed or not result.timed_out:
        click.echo(f"{len(completed):,} job{'s' if len(completed) != 1 else ''} completed")


COMMANDS = [wait_command]
