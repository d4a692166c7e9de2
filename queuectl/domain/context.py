"""A job's context (SPEC 9.1): the directory it runs in and the variables it adds.

Both are set at enqueue and never changed by a move. Checked here, before
anything is stored: the working directory is an absolute path, and the
variables are names a shell accepts holding text, within ``defaults``' bounds,
never one the worker sets itself nor one that names the store.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from . import defaults
from .errors import InvalidJob
from .quoting import quoted
from .urls import STORE_URL_VARIABLES

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # always fullmatch
# What the worker sets for every attempt (``job_variables``).
JOB_ID_VARIABLE, ATTEMPT_VARIABLE, QUEUE_VARIABLE = "QUEUECTL_JOB_ID", "QUEUECTL_ATTEMPT", "QUEUECTL_QUEUE"
RESERVED_VARIABLES = frozenset({JOB_ID_VARIABLE, ATTEMPT_VARIABLE, QUEUE_VARIABLE, *STORE_URL_VARIABLES})


def job_variables(job_id: str, attempt: int, queue: str) -> dict[str, str]:
    """The variables every attempt gets: ``QUEUECTL_JOB_ID``, ``QUEUECTL_ATTEMPT`` (1-based), ``QUEUECTL_QUEUE``."""
    return {JOB_ID_VARIABLE: job_id, ATTEMPT_VARIABLE: str(attempt), QUEUE_VARIABLE: queue}


def _utf8_size(text: str, what: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidJob(f"{what} is not valid UTF-8 text") from None


def validate_cwd(value: object) -> str | None:
    """An absolute path, kept as given, or None: where the worker runs."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/"):
        raise InvalidJob(f"\"cwd\" must be an absolute path, got {quoted(value)}")
    if "\0" in value:
        raise InvalidJob("\"cwd\" contains a NUL character")
    size = _utf8_size(value, "\"cwd\"")
    if size > defaults.CWD_MAX_BYTES:
        raise InvalidJob(f"\"cwd\" is {size} bytes long; at most {defaults.CWD_MAX_BYTES} are allowed")
    return value


def validate_env_name(name: object) -> str:
    """A variable name a shell accepts that neither the worker sets nor names the store."""
    if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
        raise InvalidJob(f"invalid environment variable name {quoted(name)}: "
                         "use letters, digits and _, not starting with a digit")
    if name in RESERVED_VARIABLES:
        raise InvalidJob(f"a job cannot set {name}: the worker sets it"
                         if name not in STORE_URL_VARIABLES else
                         f"a job cannot set {name}: a job never receives the store URL")
    return name


def validate_env_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidJob(f"environment variable {name} must be a string, got {quoted(value)}")
    if "\0" in value:
        raise InvalidJob(f"environment variable {name} contains a NUL character")
    _utf8_size(value, f"environment variable {name}")
    return value


def validate_env(value: object) -> dict[str, str]:
    """At most ``ENV_MAX_VARIABLES`` checked variables, ``ENV_MAX_BYTES`` as ``NAME=VALUE`` in all."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidJob(f"\"env\" must be an object of strings, got {quoted(value)}")
    if len(value) > defaults.ENV_MAX_VARIABLES:
        raise InvalidJob(f"\"env\" has {len(value)} variables; at most {defaults.ENV_MAX_VARIABLES} are allowed")
    env: dict[str, str] = {}
    size = 0
    for name, text in value.items():
        env[validate_env_name(name)] = validate_env_value(name, text)
        size += len(name) + 1 + len(text.encode("utf-8"))
    if size > defaults.ENV_MAX_BYTES:
        raise InvalidJob(f"\"env\" is {size} bytes long; at most {defaults.ENV_MAX_BYTES} are allowed")
    return env


def parse_assignment(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (as ``--env`` takes it) -> (KEY, VALUE); the value may be empty or hold ``=``."""
    name, equals, value = text.partition("=")
    if not equals:
        raise InvalidJob(f"expected KEY=VALUE, got {quoted(text)}")
    return validate_env_name(name), validate_env_value(name, value)


def merged_env(base: Mapping[str, Any] | None, extra: Mapping[str, str]) -> Any:
    """``base`` (a JSON job's ``env``, unchecked) with ``extra`` on top; ``base`` as given when nothing is added."""
    if not extra:
        return base
    if base is not None and not isinstance(base, Mapping):
        return base  # validate_env names the mistake
    return {**(base or {}), **extra}
