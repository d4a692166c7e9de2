"""``queuectl stats [--since 1h] [--json]``: throughput, success rate, durations, depth."""

from __future__ import annotations

from datetime import timedelta

import click

from queuectl.domain import defaults

from . import params
from .context import AppState, pass_app


@click.command("stats")
@click.option("--since", "window", type=params.WINDOW, default=f"{defaults.STATS_WINDOW_SECONDS / 3600:g}h",
              show_default=True,
              help="Look back this far for throughput and durations (30s, 15m, 1h, 7d).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_app
def stats(app: AppState, window: timedelta, as_json: bool) -> None:
    """Throughput, success rate, durations, depth.

    Counts per state, completed and failed attempts per minute, the success rate
    and run-time percentiles over the window, waiting jobs per queue, the oldest
    waiting job, scheduled retries and the DLQ size, all computed in the store.
    """
    from . import render

    result = app.stats().stats(window)
    click.echo(render.to_json(render.stats_dict(result)) if as_json else render.stats_text(result))


COMMANDS = [stats]
