"""Pausing and resuming queues: ``pause [--queue Q]...`` and ``resume [--queue Q]...``."""

from __future__ import annotations

import click

from . import params
from .context import AppState, pass_app

queue_option = click.option("--queue", "queues", multiple=True, type=params.QUEUE, metavar="NAME",
                            help="Only this queue (repeatable; default: every queue).")


def _which(queues: tuple[str, ...]) -> str:
    if not queues:
        return "every queue"
    names = sorted(set(queues))
    return f"queue{'s' if len(names) > 1 else ''} {', '.join(names)}"


@click.command("pause")
@queue_option
@pass_app
def pause(app: AppState, queues: tuple[str, ...]) -> None:
    """Claim no new job from these queues (default: all); running jobs go on."""
    app.queues().pause(queues or None)
    suffix = ", also queues first used later" if not queues else ""
    click.echo(f"Paused {_which(queues)}{suffix} (running jobs go on)")


@click.command("resume")
@queue_option
@pass_app
def resume(app: AppState, queues: tuple[str, ...]) -> None:
    """Let workers claim from paused queues again (default: all)."""
    paused = app.queues().resume(queues or None)
    still = "; every other queue stays paused" if paused.all else ""
    click.echo(f"Resumed {_which(queues)}{still}")


COMMANDS = [pause, resume]
