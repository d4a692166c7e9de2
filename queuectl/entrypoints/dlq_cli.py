"""The dead letter queue: ``dlq list`` and ``dlq retry``."""

from __future__ import annotations

import click

from . import params
from .context import AppState, pass_app


@click.group("dlq")
def dlq() -> None:
    """Jobs whose retries ran out (state dead)."""


@dlq.command("list")
@click.option("--limit", type=params.LIST_LIMIT, metavar="N", default=0, show_default=True,
              help="At most this many jobs; 0 = all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def dlq_list(app: AppState, limit: int, as_json: bool) -> None:
    """Dead jobs with their last error, newest first."""
    from . import render

    jobs = app.jobs().dead_letters(limit)
    click.echo(render.to_json([render.job_dict(j) for j in jobs]) if as_json else render.dead_table(jobs))


@dlq.command("retry")
@click.argument("job_id", type=params.JOB_ID, metavar="ID", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead job.")
@pass_app
def dlq_retry(app: AppState, job_id: str | None, retry_all: bool) -> None:
    """Put a dead job (or --all) back to pending with attempts reset to 0."""
    if bool(job_id) == retry_all:
        raise click.UsageError("give one job ID or --all")
    if retry_all:
        count = app.jobs().retry_all_dead()
        click.echo(f"Retried {count} dead job{'' if count == 1 else 's'}")
        return
    job = app.jobs().retry_dead(job_id)
    click.echo(f"Retried {job.id}: {job.state.value}")


COMMANDS = [dlq]
