"""Changing jobs that exist: ``retry``, ``cancel`` and ``update`` (SPEC 9.2).

``retry`` and ``cancel`` take several ids, each handled on its own: one line
per job moved, one ``Error:`` line per job refused, exit 1 when any was. With
``--all`` they move every job in the chosen states (of one queue) and print
how many.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import click

from queuectl.domain.model import MOVES_FROM, UPDATABLE, JobState
from queuectl.domain.quoting import printable

from . import params
from .context import AppState, pass_app
from .locations import scrub

if TYPE_CHECKING:  # the services load when a command runs, not for --help
    from queuectl.domain.services import JobResult

RETRYABLE = [state.value for state in JobState if state in MOVES_FROM["retry"]]
CANCELLABLE = [state.value for state in JobState if state in MOVES_FROM["cancel"]]


def _jobs(count: int) -> str:
    return f"{count} job{'' if count == 1 else 's'}"


def _bulk_options(job_ids: Sequence[str], every: bool, states: Sequence[str], queue: str | None) -> None:
    """IDs or --all, not both; --state and --queue only with --all."""
    if (states or queue) and not every:
        raise click.UsageError("--state and --queue go with --all")
    if bool(job_ids) == every:
        raise click.UsageError("give job IDs or --all" + (", not both" if every else ""))


def _report(app: AppState, results: list[JobResult], verb: str) -> None:
    """One line per job moved (stdout), one ``Error:`` line per job refused (stderr); exit 1 if any was."""
    for result in results:
        if result.error is None:
            click.echo(f"{verb} {result.job_id}")
        else:
            click.echo(f"Error: {printable(scrub(str(result.error), app.url))}", err=True)
    if any(result.error is not None for result in results):
        click.get_current_context().exit(1)


@click.command("retry")
@click.argument("job_ids", metavar="[ID]...", nargs=-1, type=params.JOB_ID)
@click.option("--all", "every", is_flag=True, help="Every job in the --state states.")
@click.option("--state", "states", multiple=True, type=click.Choice(RETRYABLE, case_sensitive=False),
              help="With --all: jobs in this state (repeatable; default: dead).")
@click.option("--queue", type=params.QUEUE, metavar="NAME", help="With --all: only jobs of this queue.")
@pass_app
def retry(app: AppState, job_ids: tuple[str, ...], every: bool, states: tuple[str, ...], queue: str | None) -> None:
    """Run finished or failed jobs again, attempts reset to 0.

    \b
      queuectl retry build-42 build-43
      queuectl retry --all --state dead --state cancelled --queue nightly

    Each ID on its own: a line per job retried, an Error: line per job
    refused (exit 1 if any was).
    """
    _bulk_options(job_ids, every, states, queue)
    if every:
        chosen = {JobState.parse(state) for state in states} or {JobState.DEAD}
        click.echo(f"Retried {_jobs(app.jobs().retry_all(chosen, queue))}")
        return
    _report(app, app.jobs().retry(job_ids), "Retried")


@click.command("cancel")
@click.argument("job_ids", metavar="[ID]...", nargs=-1, type=params.JOB_ID)
@click.option("--all", "every", is_flag=True, help="Every waiting job (pending, failed, blocked), or those in --state.")
@click.option("--state", "states", multiple=True, type=click.Choice(CANCELLABLE, case_sensitive=False),
              help="With --all: jobs in this state (repeatable); processing kills running jobs.")
@click.option("--queue", type=params.QUEUE, metavar="NAME", help="With --all: only jobs of this queue.")
@pass_app
def cancel(app: AppState, job_ids: tuple[str, ...], every: bool, states: tuple[str, ...], queue: str | None) -> None:
    """Cancel waiting jobs, or kill and cancel running ones.

    \b
      queuectl cancel build-42 build-43
      queuectl cancel --all --queue nightly          (the waiting jobs)
      queuectl cancel --all --state processing       (kills the running ones)

    Each ID on its own: a line per job cancelled, an Error: line per job
    refused (exit 1 if any was).
    """
    _bulk_options(job_ids, every, states, queue)
    if every:
        chosen = {JobState.parse(state) for state in states} or None
        click.echo(f"Cancelled {_jobs(app.jobs().cancel_all(queue, chosen))}")
        return
    _report(app, app.jobs().cancel_many(job_ids), "Cancelled")


@click.command("update")
@click.argument("job_id", type=params.JOB_ID, metavar="ID")
@click.option("--priority", type=params.PRIORITY, metavar="N", help="Higher runs first.")
@click.option("--run-at", type=params.TIME, metavar="ISO8601", help="Do not run before this time (UTC if no offset).")
@click.option("--delay", type=params.DURATION, metavar="DURATION", help="Run this long from now: 30s, 5m, 2h, 1d.")
@click.option("--queue", type=params.QUEUE, metavar="NAME", help="Move it to this queue.")
@click.option("--max-retries", type=params.MAX_RETRIES, metavar="N", help="Retries after the first attempt.")
@click.option("--timeout", type=params.TIMEOUT, metavar="SECONDS", help="Kill after this long; 0 = none.")
@click.option("--json", "as_json", is_flag=True, help="Print the updated job as JSON.")
@pass_app
def update(app: AppState, job_id: str, as_json: bool, **options: Any) -> None:
    """Change a waiting job's priority, time, queue, retries or timeout."""
    from queuectl.domain.specs import changes_from_mapping

    from . import render

    given = {name: value for name, value in options.items() if value is not None}
    if not given:
        raise click.UsageError("nothing to update: give --priority, --run-at, --delay, --queue, "
                               "--max-retries or --timeout")
    if "run_at" in given and "delay" in given:
        raise click.UsageError("give --run-at or --delay, not both")
    job = app.jobs().update(job_id, changes_from_mapping(given))
    if as_json:
        click.echo(render.to_json(render.job_dict(job)))
        return
    shown = render.job_dict(job)
    changed = [name for name in UPDATABLE if name in given or (name == "run_at" and "delay" in given)]
    click.echo(f"Updated {job.id}: {', '.join(f'{name} {shown[name]}' for name in changed)}")


COMMANDS = [retry, cancel, update]
