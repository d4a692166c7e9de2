"""``queuectl worker run | start | list | stop``."""

from __future__ import annotations

import click

from queuectl.domain import defaults

from . import params
from .context import AppState, pass_app
from .locations import scrub


@click.group("worker")
def worker_group() -> None:
    """Run, start, list and stop worker processes."""


queue_option = click.option("--queue", "queues", multiple=True, metavar="NAME",
                            help="Serve only this queue (repeatable); default: all queues.")
concurrency_option = click.option("--concurrency", default=1, show_default=True,
                                  type=params.BoundedInt(1, defaults.SLOTS_MAX), metavar="M",
                                  help=f"Jobs each worker process runs at once (1-{defaults.SLOTS_MAX}).")


@worker_group.command("run")
@queue_option
@concurrency_option
@pass_app
def run_command(app: AppState, queues: tuple[str, ...], concurrency: int) -> None:
    """Run one worker in the foreground (Ctrl-C / SIGTERM: graceful stop; twice: stop now)."""
    from queuectl.container import take_handed_url

    from .worker import run_worker

    _check_queues(queues)
    handed = take_handed_url()  # a worker that ``worker start`` launched: its store URL, by pipe
    if handed:
        app.db_option = handed
    app.home  # created before the worker needs it for output files
    if concurrency > 1:  # its slots share one SQLite connection (the store is built below)
        app.container.config.one_connection.from_value(True)
    app.container.store().create()  # a worker writes: its store is created if missing
    run_worker(app.container, queues, concurrency)


@worker_group.command("start")
@click.option("--count", default=1, show_default=True, type=params.BoundedInt(1, 256), help="How many workers.")
@queue_option
@concurrency_option
@pass_app
def start_command(app: AppState, count: int, queues: tuple[str, ...], concurrency: int) -> None:
    """Start COUNT detached workers that outlive this command; prints their PIDs."""
    from queuectl.domain.errors import QueuectlError

    _check_queues(queues)
    app.container.store().create()  # before the workers: each would race to create it
    launched = app.container.worker_admin().start(app.locations.url, count, queues, concurrency)
    for worker in launched:
        if worker.error is None:
            click.echo(f"Started worker PID {worker.pid} (log: {worker.log_path})")
        else:
            click.echo(scrub(f"Worker PID {worker.pid} failed: {worker.error} (log: {worker.log_path})",
                             app.url), err=True)
    failed = sum(1 for worker in launched if worker.error is not None)
    if failed:
        raise QueuectlError(f"{failed} of {count} workers failed to start")


@worker_group.command("stop")
@click.option("--timeout", type=params.TIMEOUT, default=None, metavar="S",
              help="Kill jobs still running after S seconds and put them back to pending.")
@pass_app
def stop_command(app: AppState, timeout: float | None) -> None:
    """Stop every worker gracefully: each finishes its running jobs, then exits."""
    app.container.worker_admin().stop(timeout, click.echo)


@worker_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def list_command(app: AppState, as_json: bool) -> None:
    """Every live worker: host, PID, queues, slots (busy/total), a current job, last heartbeat."""
    from . import render

    workers = app.jobs().live_workers()
    if as_json:
        click.echo(render.to_json([render.worker_dict(worker) for worker in workers]))
    else:
        click.echo(render.workers_table(workers) if workers else "No live workers.")


def _check_queues(queues: tuple[str, ...]) -> None:
    from queuectl.domain.model import validate_id

    for queue in queues:
        validate_id(queue, "queue name")


COMMANDS = [worker_group]
