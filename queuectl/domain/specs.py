"""What a user asks to enqueue, parsed and checked before anything is stored.

Every value is bounded here (SPEC 9.4): JSON ``NaN``/``Infinity`` and numbers
that overflow a float are refused, and so is JSON nested too deeply to read; a
bad job is always an ``InvalidJob`` with a one-line message.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from . import defaults
from .context import validate_cwd, validate_env
from .errors import InvalidJob
from .model import (DEFAULT_QUEUE, UPDATABLE, Job, validate_after, validate_command, validate_id, validate_timeout,
                    validate_unique_key)
from .quoting import quoted
from .retry_rules import check_rules
from .settings import Settings
from .timeutil import later, parse_duration, parse_time

# Record fields a user may paste back from ``show --json``; they are ignored.
_READ_ONLY = {"state", "attempts", "created_at", "updated_at", "started_at", "finished_at",
              "exit_code", "last_error", "worker", "history"}
_SETTINGS = {"max_retries", "priority", "run_at", "delay", "timeout", "queue"}  # what update may change too
_WORKFLOW = {"unique_key", "retry_on", "no_retry_on"}  # SPEC 9.3, set at enqueue only
_FIELDS = {"id", "command", "cwd", "env", "after", *_SETTINGS, *_WORKFLOW}
_BOUNDS = {"priority": (-defaults.PRIORITY_LIMIT, defaults.PRIORITY_LIMIT),
           "max_retries": (0, defaults.MAX_RETRIES_LIMIT)}


@dataclass(frozen=True)
class JobSpec:
    command: str
    id: str | None = None
    max_retries: int | None = None
    priority: int = 0
    run_at: datetime | None = None
    delay: timedelta | None = None
    timeout: float | None = None
    queue: str = DEFAULT_QUEUE
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    after: tuple[str, ...] = ()  # the ids of the jobs it waits for (SPEC 9.3)
    unique_key: str | None = None
    retry_on: str | None = None  # normal form (``retry_rules``)
    no_retry_on: str | None = None

    def to_job(self, now: datetime, settings: Settings) -> Job:
        """A new job; unset retries and timeout come from the configuration now."""
        run_at = self.run_at or (later(now, self.delay) if self.delay else now)
        return Job.new(
            self.id or new_job_id(), self.command, now, queue=self.queue, priority=self.priority,
            max_retries=settings.max_retries if self.max_retries is None else self.max_retries,
            timeout=settings.job_timeout if self.timeout is None else self.timeout, run_at=run_at,
            cwd=self.cwd, env=self.env, after=self.after, unique_key=self.unique_key, retry_on=self.retry_on,
            no_retry_on=self.no_retry_on)


@dataclass(frozen=True)
class JobChanges:
    """What ``update`` changes on a waiting job; None = unchanged. Checked as at enqueue."""

    priority: int | None = None
    run_at: datetime | None = None
    delay: timedelta | None = None
    queue: str | None = None
    max_retries: int | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.run_at is not None and self.delay is not None:
            raise InvalidJob("give run_at or delay, not both")

    def values(self, now: datetime) -> dict[str, Any]:
        """The changed fields for ``Job.update``; a delay counts from ``now``."""
        values = {name: getattr(self, name) for name in UPDATABLE if getattr(self, name) is not None}
        if self.delay is not None:
            values["run_at"] = later(now, self.delay)
        return values


def new_job_id() -> str:
    """16 random hex digits (64 bits): unique enough for any one queue's lifetime."""
    return os.urandom(8).hex()


def spec_from_json(text: str) -> JobSpec:
    return spec_from_mapping(job_object(text))


def job_object(text: str) -> dict[str, Any]:
    """The JSON object a job is given as, before its fields are checked."""
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InvalidJob(f"malformed job JSON: {exc.msg} at column {exc.colno}") from None
    except ValueError:  # an integer with more digits than Python converts (4300)
        raise InvalidJob("malformed job JSON: a number is too long") from None
    except RecursionError:
        raise InvalidJob("malformed job JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidJob("a job must be a JSON object such as {\"id\":\"job1\",\"command\":\"echo hi\"}")
    return data


def _no_constant(name: str) -> float:
    raise InvalidJob(f"malformed job JSON: {name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJob(f"malformed job JSON: the number {quoted(text)} is too large")
    return value


def spec_from_mapping(data: Mapping[str, Any]) -> JobSpec:
    unknown = set(data) - _FIELDS - _READ_ONLY
    if unknown:
        raise InvalidJob(f"unknown job field(s): {', '.join(quoted(name) for name in sorted(unknown))}")
    command = validate_command(data.get("command"))
    job_id = data.get("id")
    if job_id is not None:
        validate_id(job_id)
    after = tuple(validate_after(data["after"], job_id)) if data.get("after") is not None else ()
    retry_on, no_retry_on = check_rules(data.get("retry_on"), data.get("no_retry_on"))
    return JobSpec(command=command, id=job_id, cwd=validate_cwd(data.get("cwd")), env=validate_env(data.get("env")),
                   after=after, unique_key=validate_unique_key(data.get("unique_key")), retry_on=retry_on,
                   no_retry_on=no_retry_on, **_settings(data))


def changes_from_mapping(data: Mapping[str, Any]) -> JobChanges:
    """An ``update``'s changes (the settings ``enqueue`` takes), checked by the same rules."""
    unknown = set(data) - _SETTINGS
    if unknown:
        raise InvalidJob(f"cannot update {', '.join(quoted(name) for name in sorted(unknown))}")
    changes = JobChanges(**_settings(data))
    if changes == JobChanges():
        raise InvalidJob(f"nothing to update: change at least one of {', '.join(UPDATABLE)}")
    return changes


def _settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """The settings ``data`` gives (None = not given), each checked: one rule for enqueue and update."""
    checks = {"max_retries": lambda _: _optional_int(data, "max_retries"),
              "priority": lambda _: _optional_int(data, "priority"),
              "run_at": parse_time, "delay": parse_duration, "timeout": validate_timeout,
              "queue": lambda value: validate_id(value, "queue name")}
    found = {name: check(data[name]) for name, check in checks.items() if data.get(name) is not None}
    if "queue" in data and data["queue"] is None:
        validate_id(None, "queue name")  # a queue given as null is no queue name
    return found


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJob(f"\"{key}\" must be an integer, got {quoted(value)}")
    low, high = _BOUNDS[key]
    if not low <= value <= high:
        raise InvalidJob(f"\"{key}\" must be between {low} and {high}, got {quoted(value)}")
    return value
