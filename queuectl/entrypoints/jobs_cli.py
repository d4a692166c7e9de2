"""Reading jobs: ``list``, ``show``, ``status`` (``cancel`` is in ``control_cli``)."""

from __future__ import annotations

import click

from queuectl.domain import defaults
from queuectl.domain.model import JobState

from . import params
from .context import AppState, pass_app

STATES = [state.value for state in JobState]
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.command("list")
@click.option("--state", type=click.Choice(STATES, case_sensitive=False), help="Only jobs in this state.")
@click.option("--queue", type=params.QUEUE, metavar="NAME", help="Only jobs of this queue.")
@click.option("--limit", type=params.LIST_LIMIT, metavar="N", default=defaults.LIST_LIMIT, show_default=True,
              help="At most this many jobs; 0 = all.")
@json_option
@pass_app
def list_jobs(app: AppState, state: str | None, queue: str | None, limit: int, as_json: bool) -> None:
    """Jobs, newest first."""
    from queuectl.domain.ports import Page

    from . import render

    page = Page(state=JobState.parse(state) if state else None, queue=queue, limit=limit)
    service = app.jobs()
    jobs = service.list(page)
    click.echo(render.to_json([render.job_dict(j) for j in jobs]) if as_json else render.jobs_table(jobs))
    if not as_json and limit and len(jobs) == limit and (total := service.count(page)) > limit:
        click.echo(f"showing {limit:,} of {total:,}", err=True)  # the limit cut the list


@click.command("show")
@click.argument("job_id", type=params.JOB_ID, metavar="ID")
@json_option
@pass_app
def show(app: AppState, job_id: str, as_json: bool) -> None:
    """The whole job record with every attempt."""
    from . import render

    jobs = app.jobs()
    job = jobs.get(job_id)
    dependencies = jobs.dependency_states(job)
    if as_json:
        click.echo(render.to_json({**render.job_dict(job, history=True),
                                   "dependencies": render.dependencies_list(dependencies)}))
    else:
        click.echo(render.job_detail(job, dependencies))


@click.command("status")
@json_option
@pass_app
def status(app: AppState, as_json: bool) -> None:
    """Job counts per state and every live worker."""
    from . import render

    result = app.jobs().status()
    click.echo(render.to_json(render.status_dict(result)) if as_json else render.status_text(result))


COMMANDS = [list_jobs, show, status]
