"""``schedule add/list/remove/pause/resume``: jobs enqueued on a cron schedule (SPEC 9.3).

``add`` takes the enqueue command's own options (the same click options, so
the same checks and messages) and, like ``enqueue``, every word after ``--``
as the command. A bad NAME, CRON or --tz is a usage error (exit 2); a name
already taken is a failed operation (exit 1) that changes nothing.
"""

from __future__ import annotations

import shlex
from typing import Any, Callable

import click

from queuectl.domain.errors import InvalidSchedule
from queuectl.domain.schedules import UTC, check_cron_shape, validate_name, validate_zone

from . import params
from .context import AppState, pass_app
from .enqueue_cli import _AFTER_DASHES, EnqueueCommand, _option_env, enqueue, merge_options

NAME = params.Checked("name", validate_name)
CRON = params.Checked("cron", check_cron_shape, keep_text=False)
ZONE = params.Checked("zone", validate_zone)
_JOB_OPTIONS = ("queue", "priority", "max_retries", "timeout", "cwd", "env")  # enqueue's, reused as they are


@click.group("schedule")
def schedule() -> None:
    """Enqueue a job on a cron schedule: add, list, remove, pause, resume."""


@schedule.command("add", cls=EnqueueCommand)
@click.argument("name", type=NAME)
@click.argument("cron", type=CRON)
@click.argument("words", nargs=-1, metavar="[COMMAND | -- WORDS...]")
@click.option("--tz", type=ZONE, default=UTC, show_default=True, metavar="ZONE",
              help="The time zone CRON is read in (an IANA name such as Europe/Paris).")
@pass_app
def schedule_add(app: AppState, name: str, cron: str, words: tuple[str, ...], tz: str, **options: Any) -> None:
    """Enqueue COMMAND at every tick of CRON (five fields: minute hour day month weekday).

    \b
      queuectl schedule add nightly '0 3 * * *' 'backup.sh --full'
      queuectl schedule add report '*/15 9-17 * * 1-5' --queue reports -- ./report.sh "Q4 sales"
      queuectl schedule add paris-9am '0 9 * * *' --tz Europe/Paris 'send-digest'

    Each run is job NAME@<tick in UTC, e.g. 20261201T1000Z>, enqueued once by a
    running worker. Runs missed while no worker ran are enqueued once. Like
    enqueue, the job runs in the current directory unless --cwd names another.
    """
    service = app.schedules()
    try:
        service.calendar.validate(cron, tz)
    except InvalidSchedule as exc:
        raise click.BadParameter(str(exc), param_hint="'CRON'") from None
    options["env"] = _option_env(options["env"])
    schedule_ = service.add(name, cron, merge_options({"command": _command(words)}, options), tz)
    click.echo(f"Added schedule '{schedule_.name}': next run {_time(schedule_.next_run)}")


schedule_add.params.extend(option for option in enqueue.params if option.name in _JOB_OPTIONS)


def _command(words: tuple[str, ...]) -> str:
    after = click.get_current_context().meta.get(_AFTER_DASHES)
    if after is not None:
        if words:
            raise click.UsageError("after --, every word is the command: quote it or give it after -- alone")
        if not after:
            raise click.UsageError("nothing after --: give the command's words")
        return shlex.join(after)
    if len(words) != 1:
        raise click.UsageError("give the command as one quoted argument, or its words after --")
    return words[0]


def _time(value: Any) -> str:
    from queuectl.domain.timeutil import format_time

    return format_time(value) or "-"


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def schedule_list(app: AppState, as_json: bool) -> None:
    """Every schedule with its next run, whether it is paused, and its last run."""
    from . import render
    from .render_schedules import schedule_dict, schedules_table

    schedules = app.schedules().list()
    click.echo(render.to_json([schedule_dict(s) for s in schedules]) if as_json else schedules_table(schedules))


def _one_schedule_command(command: str, summary: str, act: Callable[[Any, str], Any],
                          said: Callable[[str, Any], str]) -> None:
    """``schedule COMMAND NAME``: ``act(service, NAME)``, then print ``said(NAME, the schedule it returned)``."""
    @schedule.command(command, help=summary)
    @click.argument("name", type=NAME)
    @pass_app
    def run(app: AppState, name: str) -> None:
        click.echo(said(name, act(app.schedules(), name)))


_one_schedule_command("remove", "Delete a schedule; runs already enqueued stay.",
                      lambda service, name: service.remove(name), lambda name, _: f"Removed schedule '{name}'")
_one_schedule_command("pause", "Enqueue no run of NAME until it is resumed.",
                      lambda service, name: service.pause(name), lambda name, _: f"Paused schedule '{name}'")
_one_schedule_command("resume", "Run NAME again from its next tick (ticks missed while paused are not run).",
                      lambda service, name: service.resume(name),
                      lambda name, resumed: f"Resumed schedule '{name}': next run {_time(resumed.next_run)}")


COMMANDS = [schedule]
