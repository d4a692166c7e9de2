"""The ``queuectl`` command: a click group, its global options and the one error boundary.

Every failure a user can cause ends here as exactly one ``Error: ...`` line:
``QueuectlGroup.invoke`` turns a ``QueuectlError`` (exit 1) or an unexpected
exception (``internal error``, exit 1, traceback only with QUEUECTL_DEBUG=1)
into a click exception, and ``run`` shows click's exceptions (usage errors
exit 2, Ctrl-C exits 130). The interactive shell calls ``run`` once per line.

Imports stay light: each command's module is imported only when that command
runs (``--help`` reads the one-line summaries from ``COMMANDS``), and the
container, the store drivers and prompt_toolkit only when a command needs
them, so ``queuectl --help`` is fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Sequence

import click

from queuectl import __version__
from queuectl.domain.errors import QueuectlError
from queuectl.domain.quoting import printable, quoted

from .context import AppState
from .locations import scrub

DEBUG_ENV = "QUEUECTL_DEBUG"
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

# Each module contributes its commands (its ``COMMANDS`` list); a new command is
# one line here: its name, its module, and its one-line summary for --help (a
# test holds each summary to the command's own docstring).
COMMANDS = {
    "enqueue": ("enqueue_cli", "Add a job (JSON, ID COMMAND, COMMAND, or --file)."),
    "list": ("jobs_cli", "Jobs, newest first."),
    "show": ("jobs_cli", "The whole job record with every attempt."),
    "cancel": ("control_cli", "Cancel waiting jobs, or kill and cancel running ones."),
    "retry": ("control_cli", "Run finished or failed jobs again, attempts reset to 0."),
    "update": ("control_cli", "Change a waiting job's priority, time, queue, retries or timeout."),
    "status": ("jobs_cli", "Job counts per state and every live worker."),
    "dlq": ("dlq_cli", "Jobs whose retries ran out (state dead)."),
    "config": ("config_cli", "Settings every worker on every host shares."),
    "worker": ("worker_cli", "Run, start, list and stop worker processes."),
    "logs": ("logs_cli", "Print job ID's captured stdout+stderr, last attempt first."),
    "remove": ("prune_cli", "Delete finished jobs (completed, dead, cancelled) and their output."),
    "prune": ("prune_cli", "Delete finished jobs older than AGE (default 7d) and their output."),
    "stats": ("stats_cli", "Throughput, success rate, durations, depth."),
    "pause": ("pause_cli", "Claim no new job from these queues (default: all); running jobs go on."),
    "resume": ("pause_cli", "Let workers claim from paused queues again (default: all)."),
    "queue": ("queue_cli", "Queues: list them with their counts, limit how many of a queue's jobs run at once."),
    "schedule": ("schedule_cli", "Enqueue a job on a cron schedule: add, list, remove, pause, resume."),
    "dashboard": ("dashboard_cli", "Serve the web dashboard, /metrics and the JSON API."),
    "wait": ("wait_cli", "Block until jobs (all jobs without IDs) reach a final state; exit 0 only if all completed."),
}


class OperationFailed(click.ClickException):
    """A failed operation, shown by click as ``Error: <message>``; exit 1."""

    exit_code = 1


class QueuectlGroup(click.Group):
    """The root group: loads each command on first use, and translates every
    non-click exception into ``OperationFailed``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            module = importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")
            for command in module.COMMANDS:
                self.add_command(command)
        return self.commands.get(name)

    def load_all(self) -> dict[str, click.Command]:
        """Every command, loaded (the interactive shell completes from them)."""
        for name in COMMANDS:
            self.get_command(click.Context(self), name)
        return self.commands

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the summaries, without importing a command module."""
        rows = [(name, summary) for name, (_module, summary) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        """The root context; an argument that is not UTF-8 (``$'\\xff'``) is a usage error here."""
        for arg in args:
            if not _is_utf8(arg):
                raise click.UsageError(f"argument {quoted(arg)} is not valid UTF-8 text")
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:
            raise _escaped(exc)
        except BrokenPipeError:  # --help into a closed pipe
            raise _reader_gone() from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            raise _escaped(exc)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            raise _reader_gone() from None
        except QueuectlError as exc:
            raise OperationFailed(printable(_scrub(ctx, str(exc)))) from None
        except Exception as exc:
            if os.environ.get(DEBUG_ENV) == "1":
                import traceback  # only here: 3 ms of every start-up otherwise

                traceback.print_exc(file=sys.stderr)
            raise OperationFailed(printable(_scrub(ctx, f"internal error: {exc!r}"))) from None


def _is_utf8(arg: str) -> bool:
    try:
        arg.encode("utf-8")  # Python keeps undecodable bytes as lone surrogates, which cannot be encoded
    except UnicodeEncodeError:
        return False
    return True


def _reader_gone() -> click.exceptions.Exit:
    """stdout's reader went away (``queuectl list | head``): end quietly with SIGPIPE's status.

    Raised before click's own handler of EPIPE would exit 1."""
    _silence_stdout()
    return click.exceptions.Exit(EXIT_BROKEN_PIPE)


# click 8.2+ raises this for a group given no subcommand (8.1 printed the help and exited 0).
_HELP_ERRORS = tuple(error for error in [getattr(click.exceptions, "NoArgsIsHelpError", None)] if error is not None)


def _escaped(exc: click.ClickException) -> click.ClickException:
    """The same error, its message one printable line whatever the user typed into it.

    A group given no subcommand (``queuectl queue``) shows click's help of that group, which holds
    nothing the user typed: its lines stay lines."""
    if not isinstance(exc, _HELP_ERRORS):
        exc.message = printable(exc.message)
    return exc


def _scrub(ctx: click.Context, message: str) -> str:
    """Never print the store URL's password, whatever the message quotes."""
    state = ctx.find_object(AppState)
    return scrub(message, state.url if state else None)


@click.group("queuectl", cls=QueuectlGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", metavar="DIR", help="Queue home (default: $QUEUECTL_HOME or ~/.local/share/queuectl).")
@click.option("--db", metavar="URL", help="Store URL (default: $QUEUECTL_DB, $MONGO_URI or sqlite:///HOME/queue.db).")
@click.version_option(__version__, "-V", "--version", prog_name="queuectl")
@click.pass_context
def cli(ctx: click.Context, home: str | None, db: str | None) -> None:
    """A background job queue for shell commands.

    With no command, opens the interactive shell.
    """
    state = ctx.ensure_object(AppState)
    if state.in_shell:
        if home or db:
            raise click.UsageError("--home and --db are chosen when the shell starts: queuectl --db URL")
        return
    state.home_option = home or state.home_option
    state.db_option = db or state.db_option
    if ctx.invoked_subcommand is None:
        from .shell import run_shell

        ctx.exit(run_shell(state))



def run(args: Sequence[str], state: AppState) -> int:
    """Run one command line against ``state``; return its exit code. Never raises."""
    try:
        result = cli.main(list(args), prog_name="queuectl", obj=state, standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            return EXIT_INTERRUPTED
        click.echo("Aborted!", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo(err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    return result if isinstance(result, int) else 0


def _silence_stdout() -> None:
    """The reader went away (``queuectl list | head``): drop what is left quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: ``queuectl`` alone opens the shell."""
    state = AppState()
    try:
        code = run(sys.argv[1:] if argv is None else argv, state)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    finally:
        try:
            state.close()
        except Exception:  # closing must never turn a result into a traceback
            pass
    sys.exit(code)
