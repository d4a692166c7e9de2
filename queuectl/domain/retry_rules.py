"""Exit-code retry rules (SPEC 9.3): which failures ``--retry-on`` / ``--no-retry-on`` match.

A rule LIST is comma-separated items: exit codes (0-255), ranges of them
(``64-78``) and the words ``timeout`` and ``lost``. It is stored with the job
in its normal form (``normal_list``: codes sorted, adjacent ones merged into
ranges, the words last), and ``decide`` says what a matching or non-matching
failure does:

- ``retry-on``: only a failure the list matches follows the retry policy;
  any other goes straight to ``dead``.
- ``no-retry-on``: a failure the list matches goes straight to ``dead``; any
  other follows the retry policy.

A failure is one of: an exit code (the command ran and ended non-zero, or was
killed by a signal: ``128 + N`` as the shell reports it; ``command not found``
is 127), ``timeout`` (the job's timeout killed it: only the word matches, not
the exit code the kill produced), ``lost`` (its worker vanished or its lease
ran out), or a failure with no exit code (the working directory is missing on
the worker's host, the shell could not start): no rule matches that one, so
under ``retry-on`` it goes dead and under ``no-retry-on`` it is retried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from .errors import InvalidJob
from .quoting import quoted

EXIT_CODE_MAX = 255
WORDS = ("timeout", "lost")
RETRY_ON = "retry-on"
NO_RETRY_ON = "no-retry-on"
_ITEM = re.compile(r"(\d{1,3})(?:-(\d{1,3}))?")
_ITEMS_MAX = 256  # items a list may have (more are never needed: 256 codes and 2 words)
_TEXT_MAX = 4096  # characters of a list as given


class FailureKind(str, Enum):
    EXIT = "exit"  # the command ended with ``exit_code``
    TIMEOUT = "timeout"
    LOST = "lost"
    OTHER = "other"  # no exit code: the command never ran (working directory missing, no shell)


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    exit_code: int | None = None

    @classmethod
    def of(cls, exit_code: int | None, timed_out: bool = False) -> "Failure":
        if timed_out:
            return cls(FailureKind.TIMEOUT, exit_code)
        return cls(FailureKind.EXIT, exit_code) if exit_code is not None else cls(FailureKind.OTHER)


LOST = Failure(FailureKind.LOST)


@dataclass(frozen=True)
class RuleList:
    """A parsed LIST: the exit codes and words it names."""

    codes: frozenset[int]
    words: frozenset[str]

    def matches(self, failure: Failure) -> bool:
        if failure.kind is FailureKind.EXIT:
            return failure.exit_code in self.codes
        return failure.kind.value in self.words

    def text(self) -> str:
        """The normal form: ``2,64-78,timeout``."""
        return ",".join([*_ranges(sorted(self.codes)), *(word for word in WORDS if word in self.words)])


def _ranges(codes: list[int]) -> Iterable[str]:
    start = previous = None
    for code in [*codes, None]:
        if previous is not None and code == previous + 1:
            previous = code
            continue
        if start is not None:
            yield str(start) if start == previous else f"{start}-{previous}"
        start = previous = code


def parse_list(value: object, option: str) -> RuleList:
    """A LIST given as a string (``"2,64-78,timeout"``) or as a JSON array of its items."""
    items = _items(value, option)
    if not items or len(items) > _ITEMS_MAX:
        raise InvalidJob(f"{option}: give 1 to {_ITEMS_MAX} exit codes, ranges (64-78), timeout or lost")
    codes: set[int] = set()
    words: set[str] = set()
    for item in items:
        if item in WORDS:
            words.add(item)
        else:
            codes.update(_codes(item, option))
    return RuleList(frozenset(codes), frozenset(words))


def _items(value: object, option: str) -> list[str]:
    if isinstance(value, str) and len(value) <= _TEXT_MAX:
        return [item.strip(" ").lower() for item in value.split(",")]
    if isinstance(value, list) and len(value) <= _ITEMS_MAX:
        return [_item_text(item, option) for item in value]
    raise InvalidJob(f"{option} must be a comma-separated list or an array of its items, got {quoted(value)}")


def _item_text(item: object, option: str) -> str:
    if isinstance(item, int) and not isinstance(item, bool):
        return str(item)
    if isinstance(item, str) and len(item) <= 16:
        return item.strip(" ").lower()
    raise InvalidJob(f"{option}: invalid item {quoted(item)}: use an exit code, a range (64-78), timeout or lost")


def _codes(item: str, option: str) -> range:
    match = _ITEM.fullmatch(item)
    low = int(match.group(1)) if match else -1
    high = int(match.group(2)) if match and match.group(2) else low
    if not match or not 0 <= low <= high <= EXIT_CODE_MAX:
        raise InvalidJob(f"{option}: invalid item {quoted(item)}: use an exit code 0-{EXIT_CODE_MAX}, "
                         "a range such as 64-78, timeout or lost")
    return range(low, high + 1)


def normal_list(value: object, option: str) -> str | None:
    """What a job stores for a LIST given as ``value`` (None: not given)."""
    return None if value is None else parse_list(value, option).text()


@dataclass(frozen=True)
class Verdict:
    """A rule decided: the failure goes straight to ``dead``; ``note`` is added to its error."""

    note: str


def decide(retry_on: str | None, no_retry_on: str | None, failure: Failure) -> Verdict | None:
    """``Verdict`` when a rule sends this failure straight to ``dead``; None: the retry policy decides."""
    if no_retry_on is not None and parse_list(no_retry_on, NO_RETRY_ON).matches(failure):
        return Verdict(f"{NO_RETRY_ON}: dead without retry")
    if retry_on is not None and not parse_list(retry_on, RETRY_ON).matches(failure):
        return Verdict(f"{RETRY_ON}: not listed, dead without retry")
    return None


def check_rules(retry_on: object, no_retry_on: object) -> tuple[str | None, str | None]:
    """Both rules in normal form; giving both is an error (one of them always says it all)."""
    if retry_on is not None and no_retry_on is not None:
        raise InvalidJob(f"give {RETRY_ON} or {NO_RETRY_ON}, not both")
    return normal_list(retry_on, RETRY_ON), normal_list(no_retry_on, NO_RETRY_ON)
