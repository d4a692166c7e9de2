"""Click types for every option value a user types: bounded, finite, full-matched.

A value that does not fit is a usage error (exit 2) with one ``Error:`` line
quoting it escaped. The checks are the domain's (``validate_id``,
``parse_duration``, ``parse_time``); these types only put them at the edge.
"""

from __future__ import annotations

import math
import os
import re
from datetime import timedelta
from typing import Any, Callable

import click

from queuectl.domain import defaults
from queuectl.domain.context import parse_assignment, validate_cwd
from queuectl.domain.errors import InvalidJob, QueuectlError
from queuectl.domain.model import validate_id, validate_unique_key
from queuectl.domain.retry_rules import NO_RETRY_ON, RETRY_ON, normal_list
from queuectl.domain.quoting import quoted
from queuectl.domain.timeutil import duration_text, parse_duration, parse_time

_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")
_NUMBER = re.compile(r"[+]?[0-9]{1,30}(?:\.[0-9]{1,30})?")


class BoundedInt(click.ParamType):
    """An integer from ``low`` to ``high``."""

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            number = int(value.strip())
        else:
            self.fail(f"{quoted(value)} is not an integer", param, ctx)
        if not self.low <= number <= self.high:
            self.fail(f"{quoted(value)} is not between {self.low} and {self.high}", param, ctx)
        return number


class Seconds(click.ParamType):
    """A finite number of seconds from 0 to ``limit``."""

    name = "seconds"

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            seconds = float(value.strip())
        else:
            self.fail(f"{quoted(value)} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or not 0 <= seconds <= self.limit:
            self.fail(f"{quoted(value)} is not from 0 to {self.limit:.0f} seconds ({duration_text(self.limit)})",
                      param, ctx)
        return seconds


class Checked(click.ParamType):
    """Text that a domain check accepts; the check's message is the error.

    The value stays the text (the job's fields are parsed again, with the JSON
    ones, by the domain) unless ``keep_text`` is False: then it is the check's result.
    """

    def __init__(self, name: str, check: Callable[[Any], Any], keep_text: bool = True) -> None:
        self.name = name
        self._check = check
        self._keep_text = keep_text

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # already converted (a default, or a value given in Python)
        try:
            result = self._check(value)
        except QueuectlError as exc:
            self.fail(str(exc), param, ctx)
        return value if self._keep_text else result


def _window(text: str) -> timedelta:
    window = parse_duration(text)
    if window <= timedelta(0):
        raise InvalidJob(f"the window must be longer than 0, got {quoted(text)}")
    return window


def _absolute_cwd(text: str) -> str:
    """``--cwd DIR``: made absolute against the caller's directory; it need not exist here
    (the worker's host is the one that must have it)."""
    if not text:
        raise InvalidJob("give --cwd a directory")
    try:
        return validate_cwd(os.path.abspath(text))
    except FileNotFoundError:  # a relative DIR, and the current directory was deleted
        raise InvalidJob(f"the current directory no longer exists: give --cwd an absolute path, "
                         f"not {quoted(text)}") from None


JOB_ID = Checked("id", lambda text: validate_id(text, "job id"))
QUEUE = Checked("queue", lambda text: validate_id(text, "queue name"))
DURATION = Checked("duration", parse_duration)
TIME = Checked("time", parse_time)
WINDOW = Checked("duration", _window, keep_text=False)
PRIORITY = BoundedInt(-defaults.PRIORITY_LIMIT, defaults.PRIORITY_LIMIT)
MAX_RETRIES = BoundedInt(0, defaults.MAX_RETRIES_LIMIT)
LIST_LIMIT = BoundedInt(0, defaults.LIST_LIMIT_MAX)
TIMEOUT = Seconds(defaults.TIMEOUT_LIMIT)
CWD = Checked("directory", _absolute_cwd, keep_text=False)
ENV_ASSIGNMENT = Checked("KEY=VALUE", parse_assignment, keep_text=False)
UNIQUE_KEY = Checked("key", validate_unique_key)
RETRY_ON_LIST = Checked("list", lambda text: normal_list(text, RETRY_ON))
NO_RETRY_ON_LIST = Checked("list", lambda text: normal_list(text, NO_RETRY_ON))
