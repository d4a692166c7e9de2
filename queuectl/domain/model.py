"""The job, its states and every allowed move between them.

Nothing outside this module assigns ``job.state``: adapters persist what these
methods decide. A move that is not allowed raises ``InvalidTransition``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from types import MappingProxyType
from typing import Any, ClassVar, Mapping, Sequence

from . import defaults
from .backoff import BackoffPolicy
from .context import validate_cwd, validate_env
from .errors import InvalidJob, InvalidTransition
from .quoting import quoted
from .retry_rules import LOST, Failure, check_rules, decide

ID_PATTERN = re.compile(rf"[A-Za-z0-9._:-]{{1,{defaults.ID_MAX_LENGTH}}}")  # always fullmatch: no trailing newline
# A schedule's run (SPEC 9.3): NAME@<tick, ISO-8601 basic>, within the same length (``schedules.py``).
RUN_ID_SUFFIX_LENGTH = len("@20261201T1000Z")
RUN_ID_PATTERN = re.compile(rf"[A-Za-z0-9._:-]{{1,{defaults.ID_MAX_LENGTH - RUN_ID_SUFFIX_LENGTH}}}"
                            r"@[0-9]{8}T[0-9]{4}Z")
UNIQUE_KEY_PATTERN = re.compile(rf"[A-Za-z0-9._:/@=+-]{{1,{defaults.UNIQUE_KEY_MAX_LENGTH}}}")  # fullmatch too
DEFAULT_QUEUE = defaults.DEFAULT_QUEUE
WORKER_LOST = "worker lost (lease expired)"
PRIORITY_LIMIT = defaults.PRIORITY_LIMIT
MAX_RETRIES_LIMIT = defaults.MAX_RETRIES_LIMIT
# What an attempt loses once it is older than the newest ``history_max`` of its job (SPEC 9.4):
# its error text, and the captured output the stores keep beside it. Its summary stays: attempt
# number, worker, host, times, exit code, outcome. The stores derive their trimming from this.
BULKY_PARTS = ("error", "output")
CLIP_MARKER = " [... {n} more characters cut]"


class JobState(str, Enum):
    PENDING = "pending"
    BLOCKED = "blocked"  # waiting for its dependencies (``after``) to complete (SPEC 9.3)
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: str) -> "JobState":
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            names = ", ".join(state.value for state in cls)
            raise InvalidJob(f"unknown state {quoted(text)} (one of: {names})") from None


WAITING = frozenset({JobState.PENDING, JobState.FAILED})
FINAL = frozenset({JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED})
_RUNNING = frozenset({JobState.PROCESSING})
_BLOCKED = frozenset({JobState.BLOCKED})
QUEUED = WAITING | _BLOCKED  # not started yet: what ``cancel --all`` takes by default
# What ``update`` may change on a waiting job; each value is checked as at enqueue (``check_settings``).
UPDATABLE = ("priority", "run_at", "queue", "max_retries", "timeout")
SETTINGS = tuple(name for name in UPDATABLE if name != "run_at")  # changed by ``update`` alone

# Which states allow which move: each move checks its entry, and whatever else
# needs the rule (the dashboard's cancel button, tests) reads it from here.
MOVES_FROM: Mapping[str, frozenset[JobState]] = MappingProxyType({
    "claim": WAITING,
    "renew": _RUNNING,
    "succeed": _RUNNING,
    "fail": _RUNNING,
    "lose_lease": _RUNNING,
    "release": _RUNNING,
    "cancel": QUEUED | _RUNNING,
    "retry": FINAL | {JobState.FAILED},
    "update": QUEUED,
    "unblock": _BLOCKED,  # its last dependency completed
    "cascade": _BLOCKED,  # a dependency ended dead or cancelled
    "refuse": frozenset(JobState) - {JobState.CANCELLED},  # the store refused its outcome for good
    "remove": FINAL,  # remove, prune, retention
})
# How a refused move reads in "job 'x' is <state>: cannot <action>".
_ACTIONS = {"renew": "renew its lease", "succeed": "complete", "lose_lease": "fail",
            "retry": "retry it (only completed, failed, dead and cancelled jobs can)",
            "update": "update it (only pending, failed and blocked jobs can)", "refuse": "be closed dead",
            "remove": "remove it (only completed, dead and cancelled jobs can be removed)"}


@dataclass(frozen=True)
class Attempt:
    """One run of a job's command, open (no ``finished_at``) while it runs.

    ``outcome`` is the state the job moved to when the attempt closed
    (completed, failed, dead, pending for a release, cancelled). Attempts are
    never rewritten afterwards, so counting them by outcome gives totals that
    only grow: the metrics' counters.
    """

    attempt: int
    worker: str
    host: str
    started_at: datetime
    finished_at: datetime | None = None
    exit_code: int | None = None
    error: str | None = None
    outcome: JobState | None = None

    def summary(self) -> "Attempt":
        """This attempt without its bulky parts."""
        bulky = {f.name: None for f in fields(self) if f.name in BULKY_PARTS and getattr(self, f.name) is not None}
        return Attempt(**{**self.__dict__, **bulky}) if bulky else self


def trim_history(history: list[Attempt], history_max: int) -> list[Attempt]:
    """The history as stored: the newest ``history_max`` attempts in full, the older ones in summary."""
    cut = len(history) - history_max
    return [attempt.summary() if position < cut else attempt for position, attempt in enumerate(history)]


def clip(text: str, limit: int = defaults.ERROR_MAX) -> str:
    """``text`` cut to at most ``limit`` characters, with a marker saying how much went."""
    if len(text) <= limit:
        return text
    kept = limit - len(CLIP_MARKER.format(n=len(text)))
    return text[:kept] + CLIP_MARKER.format(n=len(text) - kept)


def _check_range(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJob(f"\"{name}\" must be an integer, got {quoted(value)}")
    if not low <= value <= high:
        raise InvalidJob(f"\"{name}\" must be between {low} and {high}, got {quoted(value)}")


def validate_id(value: object, what: str = "job id") -> str:
    """The id (or queue name) itself, if all of it matches ``ID_PATTERN`` (a job id: or ``RUN_ID_PATTERN``)."""
    if isinstance(value, str) and what == "job id" and RUN_ID_PATTERN.fullmatch(value):
        return value
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidJob(f"invalid {what} {quoted(value)}: use 1-{defaults.ID_MAX_LENGTH} characters "
                         "of A-Z a-z 0-9 . _ : -")
    return value


def validate_after(value: object, job_id: str | None = None) -> list[str]:
    """A job's dependencies: a list of job ids (not its own), at most ``DEPENDENCIES_MAX``, repeats dropped."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidJob(f"\"after\" must be a list of job ids, got {quoted(value)}")
    ids = list(dict.fromkeys(validate_id(item, "dependency id") for item in value))
    if len(ids) > defaults.DEPENDENCIES_MAX:
        raise InvalidJob(f"a job may wait for at most {defaults.DEPENDENCIES_MAX} jobs, got {len(ids)}")
    if job_id is not None and job_id in ids:
        raise InvalidJob(f"job {quoted(job_id)} cannot wait for itself")
    return ids


def validate_unique_key(value: object) -> str | None:
    """A unique key (SPEC 9.3), if all of it matches ``UNIQUE_KEY_PATTERN``; None: no key."""
    if value is not None and (not isinstance(value, str) or not UNIQUE_KEY_PATTERN.fullmatch(value)):
        raise InvalidJob(f"invalid unique key {quoted(value)}: use 1-{defaults.UNIQUE_KEY_MAX_LENGTH} characters "
                         "of A-Z a-z 0-9 . _ : - / @ = +")
    return value


def validate_command(command: object) -> str:
    """A command ``/bin/sh -c`` can take: UTF-8 text, not blank, no NUL, at most 128 KiB."""
    if not isinstance(command, str) or not command.strip():
        raise InvalidJob("a job needs a non-empty \"command\" string")
    try:
        size = len(command.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidJob("the command is not valid UTF-8 text") from None
    if size > defaults.COMMAND_MAX_BYTES:
        raise InvalidJob(f"the command is {size} bytes long; at most {defaults.COMMAND_MAX_BYTES} are allowed")
    if "\0" in command:
        raise InvalidJob("the command contains a NUL character")
    return command


def validate_timeout(value: object) -> float:
    """Seconds from 0 (none) to ``defaults.TIMEOUT_LIMIT``; never NaN or infinite."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
        if math.isfinite(seconds) and 0 <= seconds <= defaults.TIMEOUT_LIMIT:
            return seconds
    raise InvalidJob(f"\"timeout\" must be a number of seconds from 0 to {defaults.TIMEOUT_LIMIT}, "
                     f"got {quoted(value)}")


def _check_time(value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidJob(f"\"run_at\" must be a time with a time zone, got {quoted(value)}")
    return value


def _ranged(name: str, low: int, high: int) -> Any:
    def check(value: object) -> int:
        _check_range(name, value, low, high)
        return value  # type: ignore[return-value]
    return check


# The one check of each setting a job is enqueued or updated with.
_SETTING_CHECKS = {
    "priority": _ranged("priority", -PRIORITY_LIMIT, PRIORITY_LIMIT),
    "run_at": _check_time,
    "queue": lambda value: validate_id(value, "queue name"),
    "max_retries": _ranged("max_retries", 0, MAX_RETRIES_LIMIT),
    "timeout": validate_timeout,
}


def check_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """``values`` (names from ``UPDATABLE``), each checked and normalised; an unknown name is an error."""
    unknown = sorted(set(values) - set(UPDATABLE))
    if unknown:
        raise InvalidJob(f"cannot change {', '.join(quoted(name) for name in unknown)}: "
                         f"only {', '.join(UPDATABLE)}")
    return {name: _SETTING_CHECKS[name](value) for name, value in values.items()}


@dataclass
class Job:
    id: str
    command: str
    created_at: datetime
    run_at: datetime
    updated_at: datetime
    queue: str = DEFAULT_QUEUE
    priority: int = 0
    max_retries: int = defaults.MAX_RETRIES
    timeout: float = defaults.JOB_TIMEOUT
    state: JobState = JobState.PENDING
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    last_error: str | None = None
    worker: str | None = None
    lease_token: str | None = None
    lease_until: datetime | None = None
    history: list[Attempt] = field(default_factory=list)
    # Where and with which variables the command runs (SPEC 9.1): set at enqueue, never moved.
    cwd: str | None = None  # None: where the worker runs (jobs stored before 9.1)
    env: dict[str, str] = field(default_factory=dict)
    # The jobs this one waits for (SPEC 9.3), in the order given: set at enqueue, never moved.
    after: list[str] = field(default_factory=list)
    # Workflow rules (SPEC 9.3), set at enqueue, never moved: a unique key (held while the job is not
    # final: ``held_key``) and the exit-code retry rules, each in ``retry_rules``' normal form.
    unique_key: str | None = None
    retry_on: str | None = None
    no_retry_on: str | None = None

    # The fields any move may change, besides ``history`` (which moves only
    # append to and close the last entry of). Stores write back exactly these,
    # in this order (the SQLite column lists follow it).
    MUTABLE_FIELDS: ClassVar[tuple[str, ...]] = (
        "state", "attempts", "run_at", "updated_at", "started_at", "finished_at",
        "exit_code", "last_error", "worker", "lease_token", "lease_until", *SETTINGS)
    # What a worker's writes (claim, outcome, burial) carry: all but the settings, which only
    # ``update`` changes, and only while the job waits: a worker never writes back a stale copy.
    WORKER_FIELDS: ClassVar[tuple[str, ...]] = MUTABLE_FIELDS[:-len(SETTINGS)]
    MOVES_FROM: ClassVar[Mapping[str, frozenset[JobState]]] = MOVES_FROM

    @classmethod
    def new(cls, job_id: str, command: str, now: datetime, *, queue: str = DEFAULT_QUEUE,
            priority: int = 0, max_retries: int = defaults.MAX_RETRIES, timeout: float = defaults.JOB_TIMEOUT,
            run_at: datetime | None = None, cwd: str | None = None,
            env: Mapping[str, str] | None = None, after: Sequence[str] = (), unique_key: str | None = None,
            retry_on: object = None, no_retry_on: object = None) -> "Job":
        validate_id(job_id)
        validate_command(command)
        settings = check_settings({"queue": queue, "priority": priority, "max_retries": max_retries,
                                   "timeout": timeout, "run_at": run_at or now})
        after = validate_after(after, job_id)
        retry_on, no_retry_on = check_rules(retry_on, no_retry_on)
        return cls(id=job_id, command=command, created_at=now, updated_at=now, cwd=validate_cwd(cwd),
                   env=validate_env(env), after=after, state=JobState.BLOCKED if after else JobState.PENDING,
                   unique_key=validate_unique_key(unique_key), retry_on=retry_on, no_retry_on=no_retry_on,
                   **settings)

    @property
    def held_key(self) -> str | None:
        """The unique key this job holds: its key while it is not final (every store indexes this)."""
        return self.unique_key if self.state not in FINAL else None

    # -- moves ------------------------------------------------------------
    def _require(self, move: str) -> None:
        if self.state not in MOVES_FROM[move]:
            raise InvalidTransition(self.id, self.state.value, _ACTIONS.get(move, move))

    def claim(self, worker: str, host: str, token: str, now: datetime, lease_until: datetime) -> None:
        """A worker takes the job for a new attempt; ``token`` fences its writes."""
        self._require("claim")
        self.state = JobState.PROCESSING
        self.attempts += 1
        self.worker = worker
        self.lease_token = token
        self.lease_until = lease_until
        self.started_at = now
        self.finished_at = None
        self.exit_code = None
        self.updated_at = now
        self.history.append(Attempt(self.attempts, worker, host, now))

    def renew(self, until: datetime) -> None:
        self._require("renew")
        self.lease_until = until

    def succeed(self, now: datetime, exit_code: int = 0) -> None:
        self._require("succeed")
        self.state = JobState.COMPLETED
        self._close_attempt(now, exit_code, None)
        self.last_error = None

    def fail(self, now: datetime, error: str, backoff: BackoffPolicy, exit_code: int | None = None,
             failure: Failure | None = None) -> None:
        """The attempt failed: retry later (``failed``) or give up (``dead``): when the retries are
        spent, or at once when an exit-code rule says so (its note ends the error)."""
        self._require("fail")
        verdict = decide(self.retry_on, self.no_retry_on, failure or Failure.of(exit_code))
        if verdict is None:
            error = clip(error)
        else:
            note = f" ({verdict.note})"
            error = clip(error, defaults.ERROR_MAX - len(note)) + note
        self.last_error = error
        if verdict is not None or self.attempts > self.max_retries:
            self.state = JobState.DEAD
        else:
            self.state = JobState.FAILED
            self.run_at = now + backoff.delay(self.attempts)
        self._close_attempt(now, exit_code, error)

    def lose_lease(self, now: datetime, backoff: BackoffPolicy) -> None:
        """The worker vanished and its lease ran out: the attempt counts as failed."""
        self._require("lose_lease")
        self.fail(now, WORKER_LOST, backoff, failure=LOST)

    def release(self, now: datetime, reason: str = "released: worker stopped") -> None:
        """Give the job back unrun; the attempt does not count and the job keeps its place."""
        self._require("release")
        self.attempts -= 1
        self.state = JobState.PENDING
        self._close_attempt(now, None, reason)

    def refuse(self, now: datetime, reason: str, *, ran: bool = True) -> None:
        """The store refused for good to record this job's outcome (``ran``) or its claim: it ends ``dead``.

        Follows whatever move the worker made, which the store never recorded. The attempt that
        ran, if any, is closed ``dead`` with the same error.
        """
        self._require("refuse")
        self.state = JobState.DEAD
        self.last_error = clip(f"outcome not recorded: {reason}")
        self.lease_token = None
        self.lease_until = None
        self.finished_at = now
        self.updated_at = now
        if ran and self.history:
            last = self.history[-1]
            self.history[-1] = Attempt(last.attempt, last.worker, last.host, last.started_at,
                                       last.finished_at or now, last.exit_code, self.last_error, JobState.DEAD)

    def cancel(self, now: datetime) -> None:
        self._require("cancel")
        running = self.state is JobState.PROCESSING
        self.state = JobState.CANCELLED
        if running:
            self._close_attempt(now, None, "cancelled")
        self.lease_token = None
        self.lease_until = None
        self.finished_at = now
        self.updated_at = now

    def unblock(self, now: datetime) -> None:
        """Every dependency completed: the job waits for its ``run_at`` like any pending job."""
        self._require("unblock")
        self.state = JobState.PENDING
        self.updated_at = now

    def cascade(self, now: datetime, dependency: str, ended: JobState) -> None:
        """A dependency ended ``dead`` or ``cancelled``: so does this job's chance to run."""
        self._require("cascade")
        self.state = JobState.CANCELLED
        self.last_error = clip(f"dependency {quoted(dependency)} ended {ended.value}")
        self.finished_at = now
        self.updated_at = now

    def check_removable(self) -> None:
        """Only a final job may be deleted (``remove``, ``prune``, ``retention``)."""
        self._require("remove")

    def retry(self, now: datetime, only_dead: bool = False) -> None:
        """Run it again: back to pending, due now, with a fresh retry budget; history and
        ``last_error`` kept. ``only_dead``: out of the DLQ only (``dlq retry``)."""
        self._require("retry")
        if only_dead and self.state is not JobState.DEAD:
            raise InvalidTransition(self.id, self.state.value, "retry from the DLQ (only dead jobs can)")
        self.state = JobState.PENDING
        self.attempts = 0
        self.run_at = now
        self.updated_at = now

    def update(self, now: datetime, changes: Mapping[str, object]) -> None:
        """Change a waiting job's settings (names from ``UPDATABLE``), each checked as at enqueue."""
        self._require("update")
        checked = check_settings(changes)
        if not checked:
            raise InvalidJob(f"nothing to update: change at least one of {', '.join(UPDATABLE)}")
        for name, value in checked.items():
            setattr(self, name, value)
        self.updated_at = now

    def _close_attempt(self, now: datetime, exit_code: int | None, error: str | None) -> None:
        """End the open attempt; call it after ``state`` is set: that is its outcome."""
        self.finished_at = now
        self.updated_at = now
        self.exit_code = exit_code
        self.lease_token = None
        self.lease_until = None
        if self.history and self.history[-1].finished_at is None:
            # built directly: dataclasses.replace cost ~15 us, paid on every outcome
            opened = self.history[-1]
            self.history[-1] = Attempt(attempt=opened.attempt, worker=opened.worker, host=opened.host,
                                       started_at=opened.started_at, finished_at=now, exit_code=exit_code,
                                       error=error, outcome=self.state)
