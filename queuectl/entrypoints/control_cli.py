"""Changing jobs that exist: ``retry``, ``cancel`` and ``update`` (SPEC 9.2).

``retry`` and ``cancel`` take several ids, each handled on its own: one line
per job moved, one ``Error:`` line per job refused, exit 1 when any was. With
``--all`` they move every job in the chosen states (of one queue) and print
how many.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

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


def _bulk_command(name: str, states: list[str], all_help: str, state_help: str) -> Callable[[Callable], click.Command]:
    """``NAME [ID]...`` or ``NAME --all [--state S]... [--queue Q]``: the command line retry and cancel share."""
    def decorate(function: Callable) -> click.Command:
        for option in (pass_app,
                       click.option("--queue", type=params.QUEUE, metavar="NAME",
                                    help="With --all: only jobs of this queue."),
                       click.option("--state", "states", multiple=True,
                                    type=click.Choice(states, case_sensitive=False), help=state_help),
                       click.option("--all", "every", is_flag=True, help=all_help),
                       click.argument("job_ids", metavar="[ID]...", nargs=-1, type=params.JOB_ID)):
            function = option(function)
        return click.command(name)(function)

    return decorate


def _move(app: AppState, verb: str, job_ids: Sequence[str], every: bool, states: Sequence[str],
          queue: str | None, move_all: Callable[[set[JobState]], int],
          move_each: Callable[[Sequence[str]], list[JobResult]]) -> None:
    """With --all: ``move_all`` the jobs in the --state states (empty: the command's default) and say how
    many moved; else ``move_each`` of the IDs, reported one by one."""
    _bulk_options(job_ids, every, states, queue)
    if every:
        click.echo(f"{verb} {_jobs(move_all({JobState.parse(state) for state in states}))}")
        return
    _report(app, move_each(job_ids), verb)


@_bulk_command("retry", RETRYABLE, all_help="Every job in the --state states.",
               state_help="With --all: jobs in this state (repeatable; default: dead).")
def retry(app: AppState, job_ids: tuple[str, ...], every: bool, states: tuple[str, ...], queue: str | None) -> None:
    """Run finished or failed jobs again, attempts reset to 0.

    \b
      queuectl retry build-42 build-43
      queuectl retry --all --state dead --state cancelled --queue nightly

    Each ID on its own: a line per job retried, an Error: line per job
    refused (exit 1 if any was).
    """
    _move(app, "Retried", job_ids, every, states, queue,
          lambda chosen: app.jobs().retry_all(chosen or {JobState.DEAD}, queue), lambda ids: app.jobs().retry(ids))


@_bulk_command("cancel", CANCELLABLE, all_help="Every waiting job (pending, failed, blocked), or those in --state.",
               state_help="With --all: jobs in this state (repeatable); processing kills running jobs.")
def cancel(app: AppState, job_ids: tuple[str, ...], every: bool, states: tuple[str, ...], queue: str | None) -> None:
    """Cancel waiting jobs, or kill and cancel running ones.

    \b
      queuectl cancel build-42 build-43
      queuectl cancel --all --queue nightly          (the waiting jobs)
      queuectl cancel --all --state processing       (kills the running ones)

    Each ID on its own: a line per job cancelled, an Error: line per job
    refused (exit 1 if any was).
    """
    _move(app, "Cancelled", job_ids, every, states, queue,
          lambda chosen: app.jobs().cancel_all(queue, chosen or None), lambda ids: app.jobs().cancel_many(ids))


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
