"""``enqueue``: one job from JSON or positional words, or many from a file.

Options override the same field of the JSON job (``--id`` also overrides a
positional id). Every job, however given, becomes one mapping checked by
``spec_from_mapping``, so the rules and messages are the domain's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Iterator

import click

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


@click.command("enqueue", short_help="Add a job (JSON, ID COMMAND, COMMAND, or --file).")
@click.argument("words", nargs=-1, metavar="[JOB_JSON | ID COMMAND | COMMAND]")
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
@pass_app
def enqueue(app: AppState, words: tuple[str, ...], source: IO[bytes] | None, **options: Any) -> None:
    """Add a job, or many with --file. The id is printed.

    \b
      queuectl enqueue '{"id":"job1","command":"sleep 2"}'
      queuectl enqueue job1 'sleep 2'
      queuectl enqueue 'sleep 2' [--id job1]
      queuectl enqueue --file jobs.jsonl     (one JSON job a line; - = stdin)

    An option wins over the same field of the JSON job.
    """
    if options["run_at"] and options["delay"]:
        raise click.UsageError("give --run-at or --delay, not both")
    if source is not None:
        if words or options["job_id"]:
            raise click.UsageError("--file takes no JOB_JSON, ID, COMMAND or --id")
        _enqueue_file(app, source, options)
        return
    from queuectl.domain.specs import spec_from_mapping

    job = app.jobs().enqueue(spec_from_mapping(merge_options(job_fields(words), options)))
    click.echo(f"Enqueued {job.id}")


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
    """``fields`` with every given option replacing its field; --run-at and --delay replace each other."""
    merged = dict(fields)
    if options.get("run_at") or options.get("delay"):
        merged.pop("run_at", None)
        merged.pop("delay", None)
    renamed = {"job_id": "id"}
    for name, value in options.items():
        if value is not None:
            merged[renamed.get(name, name)] = value
    return merged


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
