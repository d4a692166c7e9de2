"""Deleting finished jobs and their output: ``remove`` and ``prune``."""

from __future__ import annotations

from typing import Any

import click

from queuectl.domain import defaults
from queuectl.domain.model import FINAL, JobState

from . import params
from .context import AppState, pass_app

FINAL_STATES = sorted(state.value for state in FINAL)


class Age(click.ParamType):
    """A duration: seconds, or a number with s, m, h or d (``7d``), bounded like ``retention``."""

    name = "age"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        from queuectl.domain.errors import InvalidSetting
        from queuectl.domain.settings import parse_value

        if isinstance(value, float):
            return value
        try:
            if str(value) != str(value).strip():  # the whole value, nothing around it
                raise InvalidSetting(value)
            return float(parse_value("retention", value))
        except InvalidSetting:
            self.fail(f"invalid age '{value}': use seconds or a number with s, m, h or d, "
                      f"at most {defaults.RETENTION_LIMIT // defaults.DAY_SECONDS}d", param, ctx)


def _jobs(count: int) -> str:
    return f"{count} job{'' if count == 1 else 's'}"


@click.command("remove")
@click.argument("job_ids", metavar="ID...", nargs=-1, required=True, type=params.JOB_ID)
@pass_app
def remove(app: AppState, job_ids: tuple[str, ...]) -> None:
    """Delete finished jobs (completed, dead, cancelled) and their output."""
    removed = app.jobs().remove(job_ids)
    click.echo(f"Removed {_jobs(len(removed))}: {', '.join(job.id for job in removed)}")


@click.command("prune")
@click.option("--older-than", type=Age(), default=f"{defaults.PRUNE_OLDER_THAN // defaults.DAY_SECONDS}d",
              show_default=True, metavar="AGE",
              help="Only jobs that finished longer ago than this: 30m, 12h, 7d.")
@click.option("--state", "states", multiple=True, type=click.Choice(FINAL_STATES, case_sensitive=False),
              help="Only jobs in this final state (repeatable; default: all three).")
@pass_app
def prune(app: AppState, older_than: float, states: tuple[str, ...]) -> None:
    """Delete finished jobs older than AGE (default 7d) and their output."""
    chosen = {JobState.parse(state) for state in states} or set(FINAL)
    count = app.jobs().prune(older_than, chosen)
    click.echo(f"Pruned {_jobs(count)}")


COMMANDS = [remove, prune]
