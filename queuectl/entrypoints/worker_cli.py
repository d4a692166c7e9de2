"""``queuectl worker run | start | stop``."""

from __future__ import annotations

import click

from .context import AppState, pass_app


@click.group("worker")
def worker_group() -> None:
    """Run, start and stop worker processes."""


queue_option = click.option("--queue", "queues", multiple=True, metavar="NAME",
                            help="Serve only this queue (repeatable); default: all queues.")


@worker_group.command("run")
@queue_option
@pass_app
def run_command(app: AppState, queues: tuple[str, ...]) -> None:
    """Run one worker in the foreground (Ctrl-C / SIGTERM: graceful stop; twice: stop now)."""
    from .worker import run_worker

    _check_queues(queues)
    app.home  # created before the worker needs it for output files
    run_worker(app.container, queues)


@worker_group.command("start")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 256), help="How many workers.")
@queue_option
@pass_app
def start_command(app: AppState, count: int, queues: tuple[str, ...]) -> None:
    """Start COUNT detached workers that outlive this command; prints their PIDs."""
    from .worker_admin import start_workers

    _check_queues(queues)
    for pid, log_path in start_workers(app.container, app.home, app.locations.url, count, queues):
        click.echo(f"Started worker PID {pid} (log: {log_path})")


@worker_group.command("stop")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, metavar="S",
              help="Kill jobs still running after S seconds and put them back to pending.")
@pass_app
def stop_command(app: AppState, timeout: float | None) -> None:
    """Stop every worker gracefully: each finishes its current job, then exits."""
    from .worker_admin import stop_workers

    stop_workers(app.container, timeout, click.echo)


def _check_queues(queues: tuple[str, ...]) -> None:
    from queuectl.domain.model import validate_id

    for queue in queues:
        validate_id(queue, "queue name")


COMMANDS = [worker_group]
