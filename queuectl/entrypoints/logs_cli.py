"""``queuectl logs ID [--follow]``: each attempt's combined output, newest first."""

from __future__ import annotations

import click

from .context import AppState, pass_app


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
@click.option("--follow", "-f", is_flag=True,
              help="Stream output until the job reaches a final state; exit 1 if it ended dead or cancelled.")
@pass_app
@click.pass_context
def logs_command(ctx: click.Context, app: AppState, job_id: str, follow: bool) -> None:
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
    from .logs_follow import follow as follow_job

    ctx.exit(follow_job(app, job_id))


COMMANDS = [logs_command]
