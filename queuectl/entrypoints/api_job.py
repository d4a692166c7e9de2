"""What the Python API hands back and takes: a frozen job, and ``enqueue``'s options.

``Job`` is a read-only copy of the stored record (SPEC 5, 9.1): changing it
changes nothing in the store; the client's methods do that. The store's
internals (the lease token and its expiry) are left out.

``enqueue``'s options are the fields of the JSON job form (``queuectl enqueue
'{...}'``), checked by the same domain function (``spec_from_mapping``), so the
rules and the error messages are the CLI's; Python values that JSON has no word
for (``datetime``, ``timedelta``, ``pathlib.Path``) are turned into the text the
CLI's options take first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Mapping, Sequence, TypedDict

from queuectl.domain.errors import InvalidJob
from queuectl.domain.model import Attempt, JobState
from queuectl.domain.model import Job as StoredJob

# Fields of the domain's Job that a user never sees (the worker's fencing).
INTERNAL_FIELDS = frozenset({"lease_token", "lease_until"})


@dataclass(frozen=True)
class Job:
    """A job as the store held it when the call returned (a copy: re-read it with ``get``).

    ``state`` is a ``JobState``, a ``str`` enum: ``job.state == "completed"`` works.
    Times are timezone-aware UTC ``datetime``s to the millisecond (what every store
    keeps, so a job reads the same on each); ``timeout`` is seconds (0 = none);
    ``history`` holds one ``Attempt`` per run (empty in what ``list`` returns).
    """

    id: str
    command: str
    state: JobState
    queue: str
    priority: int
    attempts: int
    max_retries: int
    timeout: float
    run_at: datetime
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    last_error: str | None
    worker: str | None
    cwd: str | None
    env: Mapping[str, str]
    after: tuple[str, ...]  # the ids of the jobs it waits for (``blocked`` until they complete)
    unique_key: str | None
    retry_on: str | None
    no_retry_on: str | None
    history: tuple[Attempt, ...]

    @classmethod
    def of(cls, job: StoredJob) -> "Job":
        """The public copy of a domain job."""
        values = {name.name: _ms(getattr(job, name.name)) for name in fields(cls)}
        values["env"] = MappingProxyType(dict(job.env))
        values["after"] = tuple(job.after)
        values["history"] = tuple(replace(attempt, started_at=_ms(attempt.started_at),
                                          finished_at=_ms(attempt.finished_at)) for attempt in job.history)
        return cls(**values)


def _ms(value: Any) -> Any:
    """A time floored to the millisecond, as MongoDB keeps it; anything else unchanged."""
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond - value.microsecond % 1000)
    return value


class EnqueueOptions(TypedDict, total=False):
    """``enqueue``'s keyword options: the CLI's enqueue options, by their JSON names."""

    id: str
    queue: str
    priority: int
    max_retries: int
    timeout: float
    run_at: datetime | str
    delay: timedelta | float | str
    cwd: str | os.PathLike[str]
    env: Mapping[str, str]
    after: Sequence[str]
    unique_key: str
    retry_on: str | Sequence[str | int]
    no_retry_on: str | Sequence[str | int]


def job_mapping(command: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON job these arguments describe, for ``spec_from_mapping``.

    An option given as None counts as not given (as a CLI option left out);
    ``run_at`` and ``delay`` exclude each other; no ``cwd`` means the caller's
    directory and a relative one is taken from it, as ``--cwd`` does.
    """
    given = {name: value for name, value in options.items() if value is not None}
    if "run_at" in given and "delay" in given:
        raise InvalidJob("give run_at or delay, not both")
    if isinstance(given.get("run_at"), datetime):
        given["run_at"] = given["run_at"].isoformat()  # no offset: UTC, the CLI's rule
    if isinstance(given.get("delay"), timedelta):
        given["delay"] = given["delay"].total_seconds()
    given["cwd"] = _directory(given.get("cwd"))
    if isinstance(given.get("env"), Mapping):
        given["env"] = dict(given["env"])
    return {"command": command, **given}


def _directory(value: object) -> object:
    """An absolute directory: the caller's when none is given, a relative one made absolute."""
    try:
        if value is None:
            return os.getcwd()
        if isinstance(value, (str, os.PathLike)):
            path = os.fspath(value)
            return os.path.abspath(path) if isinstance(path, str) and path else path
    except FileNotFoundError:
        raise InvalidJob("the current directory no longer exists: give cwd an absolute path") from None
    return value  # not a path at all: the domain's check says so
