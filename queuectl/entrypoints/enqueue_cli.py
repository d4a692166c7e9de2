"""``enqueue``: one job from JSON or positional words, or many from a file.

Options override the same field of the JSON job (``--id`` also overrides a
positional id; ``--env`` adds to its ``env``). Every job, however given,
becomes one mapping checked by ``spec_from_mapping``, so the rules and
messages are the domain's. A job without ``cwd`` gets the caller's directory.
After ``--`` every word is the command, joined with shell quoting.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Iterator

import click

from queuectl.domain import defaults
from queuectl.domain.errors import InvalidJob, QueuectlError
from queuectl.domain.quoting import printable

from . import params
from .context import AppState, pass_app

if TYPE_CHECKING:  # the specs and services load when a job is enqueued, not for --help
    from queuectl.domain.services import JobService
    from queuectl.domain.specs import JobSpec

BATCH_SIZE = 5000
# The first commit comes early, so idle workers start on the file's first jobs
# while the rest is still being read.
FIRST_BATCH_SIZE = 200
_AFTER_DASHES = "queuectl.enqueue.after_dashes"  # ctx.meta key: the words after ``--``


class EnqueueCommand(click.Command):
    """Keeps the words after ``--`` apart: they are the command, never ``ID COMMAND``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        split = _dashes_at(self, args)
        if split is not None:
            ctx.meta[_AFTER_DASHES] = args[split + 1:]
            args = args[:split]
        return super().parse_args(ctx, args)


def _dashes_at(command: click.Command, args: list[str]) -> int | None:
    """Where the first ``--`` that is not an option's value stands."""
    takes_value = {name for param in command.params if isinstance(param, click.Option) and not param.is_flag
                   for name in param.opts}
    skip = False
    for position, arg in enumerate(args):
        if skip:
            skip = False
        elif arg == "--":
            return position
        elif arg in takes_value:
            skip = True
    return None


@click.command("enqueue", cls=EnqueueCommand, short_help="Add a job (JSON, ID COMMAND, COMMAND, or --file).")
@click.argument("words", nargs=-1, metavar="[JOB_JSON | ID COMMAND | COMMAND | -- WORDS...]")
@click.option("--file", "-f", "source", type=click.File("rb"), metavar="FILE",
              help="Enqueue one JSON job per line of this file ('-' = stdin).")
@click.option("--id", "job_id", type=params.JOB_ID, metavar="ID", help="Job id (default: generated).")
@click.option("--max-retries", type=params.MAX_RETRIES, metavar="N",
              help="Retries after the first attempt (default: config).")
@click.option("--priority", type=params.PRIORITY, metavar="N", help="Higher runs first (default 0).")
@click.option("--run-at", type=params.TIME, metavar="ISO8601", help="Do not run before this time (UTC if no offset).")
@click.option("--delay", type=params.DURATION, metavar="DURATION", help="Run after this long: 30, 30s, 5m, 2h, 1d.")
@click.option("--timeout", type=params.TIMEOUT, metavar="SECONDS", help="Kill after this long; 0 = none.")
@click.option("--queue", type=params.QUEUE, metavar="NAME", help="Queue name (default: default).")
@click.option("--cwd", type=params.CWD, metavar="DIR", help="Run in this directory (default: the current one).")
@click.option("--env", type=params.ENV_ASSIGNMENT, metavar="KEY=VALUE", multiple=True,
              help="Add this variable to the job's environment (repeatable).")
@click.option("--after", type=params.JOB_ID, metavar="ID", multiple=True,
              help="Run only once job ID has completed (repeatable); cancelled if it ends dead or cancelled.")
@click.option("--unique-key", type=params.UNIQUE_KEY, metavar="KEY",
              help="Refuse the job while another job with this key is not finished.")
@click.option("--retry-on", type=params.RETRY_ON_LIST, metavar="LIST",
              help="Retry only these failures: exit codes, ranges (64-78), timeout, lost.")
@click.option("--no-retry-on", type=params.NO_RETRY_ON_LIST, metavar="LIST",
              help="Never retry these failures: they go straight to dead.")
@pass_app
def enqueue(app: AppState, words: tuple[str, ...], source: IO[bytes] | None, **options: Any) -> None:
    """Add a job, or many with --file. The id is printed.

    \b
      queuectl enqueue '{"id":"job1","command":"sleep 2"}'
      queuectl enqueue job1 'sleep 2'
      queuectl enqueue 'sleep 2' [--id job1]
      queuectl enqueue [--id job1] -- ls "my dir"   (every word after -- is the command)
      queuectl enqueue --file jobs.jsonl     (one JSON job a line; - = stdin)
      queuectl enqueue --id report --after build 'make report'   (blocked until build completes)

    An option wins over the same field of the JSON job. The job runs in the
    current directory unless --cwd (or JSON "cwd") names another.
    """
    dashed = click.get_current_context().meta.get(_AFTER_DASHES)
    if options["run_at"] and options["delay"]:
        raise click.UsageError("give --run-at or --delay, not both")
    if options["retry_on"] and options["no_retry_on"]:
        raise click.UsageError("give --retry-on or --no-retry-on, not both")
    options["env"] = _option_env(options["env"])
    if source is not None:
        if words or options["job_id"] or dashed is not None:
            raise click.UsageError("--file takes no JOB_JSON, ID, COMMAND, -- WORDS or --id")
        _enqueue_file(app, source, options)
        return
    from queuectl.domain.specs import spec_from_mapping

    fields = job_fields(words) if dashed is None else _dashed_fields(words, dashed)
    job = app.jobs().enqueue(spec_from_mapping(merge_options(fields, options)))
    waits = "" if job.state.value == "pending" else f" ({job.state.value}{': ' if job.last_error else ''}" \
        f"{printable(job.last_error or '')})"  # blocked, or cancelled by a dependency that ended badly
    click.echo(enqueued_line(job.id, job.command) + waits)


def enqueued_line(job_id: str, command: str) -> str:
    """``Enqueued job 'ID': COMMAND``: both, so that ``enqueue echo hello`` (id ``echo``) shows at once."""
    shown = printable(command)
    if len(shown) > defaults.QUOTE_WIDTH:
        shown = shown[: defaults.QUOTE_WIDTH - 3] + "..."
    return f"Enqueued job '{job_id}': {shown}"


def _dashed_fields(words: tuple[str, ...], after: list[str]) -> dict[str, Any]:
    if words:
        raise click.UsageError("after --, every word is the command: give the id as --id ID")
    if not after:
        raise click.UsageError("nothing after --: give the command's words")
    return {"command": shlex.join(after)}


def _option_env(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The ``--env`` variables, within the bounds of a job's ``env`` (else a usage error)."""
    from queuectl.domain.context import validate_env

    try:
        return validate_env(dict(pairs))
    except InvalidJob as exc:
        raise click.BadParameter(str(exc), param_hint="'--env'") from None


def job_fields(words: tuple[str, ...]) -> dict[str, Any]:
    """The fields a one-job command line gives, before options."""
    if len(words) == 1 and words[0].lstrip().startswith("{"):
        return _json_object(words[0])
    if len(words) == 1:
        return {"command": words[0]}
    if len(words) == 2:
        return {"id": words[0], "command": words[1]}
    if not words:
        raise click.UsageError("nothing to enqueue: give JOB_JSON, ID COMMAND, COMMAND or --file")
    raise click.UsageError(f"expected at most ID and COMMAND, got {len(words)} words: quote the command")


def _json_object(text: str) -> dict[str, Any]:
    from queuectl.domain.specs import job_object

    return job_object(text)  # the domain's check and message for malformed JSON


def merge_options(fields: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with every given option replacing its field; --run-at and --delay replace each other;
    ``--env`` adds to the JSON ``env``; no ``cwd`` at all means the caller's directory."""
    from queuectl.domain.context import merged_env

    merged = dict(fields)
    if options.get("run_at") or options.get("delay"):
        merged.pop("run_at", None)
        merged.pop("delay", None)
    renamed = {"job_id": "id"}
    for name, value in options.items():
        if value is not None and name != "env" and value != ():  # () : --after not given
            merged[renamed.get(name, name)] = value
    if options.get("env"):
        merged["env"] = merged_env(merged.get("env"), options["env"])
    if "cwd" not in merged:
        merged["cwd"] = _caller_directory()
    return merged


def _caller_directory() -> str:
    try:
        return os.getcwd()
    except FileNotFoundError:
        raise InvalidJob("the current directory no longer exists: give --cwd DIR") from None


@dataclass
class _Tally:
    stored: int = 0
    rejected: int = 0

    def summary(self) -> str:
        text = f"Enqueued {self.stored} job{'' if self.stored == 1 else 's'}"
        if self.rejected:
            text += f"; {self.rejected} line{'' if self.rejected == 1 else 's'} rejected"
        return text


def _enqueue_file(app: AppState, source: IO[bytes], options: dict[str, Any]) -> None:
    """Store every valid line; report each bad one as ``Error: line N: ...``; exit 1 if any was bad."""
    jobs, tally = app.jobs(), _Tally()
    batch: list[tuple[int, JobSpec]] = []
    limit = FIRST_BATCH_SIZE
    for number, spec in _specs(source, options):
        if spec is None:
            tally.rejected += 1
            continue
        batch.append((number, spec))
        if len(batch) >= limit:
            _store(jobs, batch, tally)
            batch, limit = [], BATCH_SIZE
    _store(jobs, batch, tally)
    click.echo(tally.summary())
    if tally.rejected:
        click.get_current_context().exit(1)


def _specs(source: IO[bytes], options: dict[str, Any]) -> Iterator[tuple[int, JobSpec | None]]:
    """(line number, spec) for each non-blank line; None after reporting a bad or repeated line."""
    from queuectl.domain.specs import spec_from_mapping

    first_line: dict[str, int] = {}
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            spec = spec_from_mapping(merge_options(_json_object(_decode(raw)), options))
        except QueuectlError as exc:
            _reject(number, str(exc))
            yield number, None
            continue
        if spec.id is not None and spec.id in first_line:
            _reject(number, f"job '{spec.id}' repeats line {first_line[spec.id]}")
            yield number, None
            continue
        if spec.id is not None:
            first_line[spec.id] = number
        yield number, spec


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # a BOM (from some editors) is not part of the JSON
    except UnicodeDecodeError:
        raise InvalidJob("not UTF-8 text") from None


def _store(jobs: JobService, batch: list[tuple[int, JobSpec]], tally: _Tally) -> None:
    """One ``enqueue_many`` call; each id the store already had is reported on its line."""
    if not batch:
        return
    result = jobs.enqueue_many([spec for _, spec in batch])
    duplicates = set(result.duplicates)
    for position, (number, spec) in enumerate(batch):
        if position in result.invalid:
            _reject(number, result.invalid[position])
        elif spec.id in duplicates:
            _reject(number, f"job '{spec.id}' already exists")
    tally.stored += len(result.stored)
    tally.rejected += len(duplicates) + len(result.invalid)


def _reject(number: int, reason: str) -> None:
    click.echo(f"Error: line {number}: {printable(reason)}", err=True)


COMMANDS = [enqueue]
