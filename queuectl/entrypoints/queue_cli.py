"""``queue list`` and ``queue limit NAME N``: every known queue, and how many of its jobs may run at once.

``pause`` and ``resume`` stay top-level commands (``pause_cli.py``); ``queue
list`` shows what they did. A bad NAME or N is a usage error (exit 2) and
nothing is stored.
"""

from __future__ import annotations

import click

from queuectl.domain import defaults

from . import params
from .context import AppState, pass_app

LIMIT = params.BoundedInt(0, defaults.QUEUE_LIMIT_MAX)


@click.group("queue")
def queue() -> None:
    """Queues: list them with their counts, limit how many of a queue's jobs run at once."""


@queue.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def queue_list(app: AppState, as_json: bool) -> None:
    """Every known queue: jobs per state, its limit and whether it is paused."""
    from . import render, render_queues

    summaries = app.queues().summaries()
    click.echo(render.to_json([render_queues.queue_dict(s) for s in summaries]) if as_json
               else render_queues.queues_table(summaries))


@queue.command("limit")
@click.argument("name", type=params.QUEUE)
@click.argument("n", type=LIMIT)
@pass_app
def queue_limit(app: AppState, name: str, n: int) -> None:
    """At most N jobs of queue NAME run at once, across every worker and host (0 removes the limit).

    \b
      queuectl queue limit deploys 1     # one deploy at a time
      queuectl queue limit deploys 0     # no limit again
    """
    app.queues().set_limit(name, n)
    click.echo(f"Queue '{name}': at most {n} running job{'s' if n != 1 else ''}" if n
               else f"Queue '{name}': limit removed")


COMMANDS = [queue]
