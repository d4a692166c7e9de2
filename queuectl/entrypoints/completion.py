"""Tab completion in the interactive shell: commands, options, choices, and values from the store.

What a word can be is read from the click commands themselves, so a new
command completes without an edit here: an argument of type ``params.JOB_ID``
(or named ``job_id``/``job_ids``) completes job ids from the store, newest
first; an argument named ``key`` the configuration keys; an option of type
``params.QUEUE`` the queue names the store tells cheaply; a ``click.Choice`` its
choices. Store lookups run on a thread of their own and are given up after
``defaults.COMPLETION_SECONDS``: a slow or unreachable store offers nothing,
and never a traceback.
"""

from __future__ import annotations

import logging
import queue
import shlex
import threading
from typing import Any, Callable, Iterable, Protocol

import click

from queuectl.domain import defaults
from queuectl.domain.settings import KEYS

from . import params

log = logging.getLogger(__name__)

ID_ARGUMENT_NAMES = frozenset({"job_id", "job_ids"})  # an id argument declared without the JOB_ID type
KEY_ARGUMENT_NAMES = frozenset({"key"})


class Values(Protocol):
    """Where completion finds the values the store holds."""

    def job_ids(self, prefix: str) -> list[str]: ...

    def queues(self) -> list[str]: ...


class NoValues:
    def job_ids(self, prefix: str) -> list[str]:
        return []

    def queues(self) -> list[str]:
        return []


class StoreValues:
    """Values read through the services, each lookup given up after ``seconds``.

    Lookups run one at a time on one daemon thread (which keeps its store
    connection): while one still waits on the store, the next offers nothing
    at once instead of queueing behind a hung connection.
    """

    def __init__(self, jobs: Callable[[], Any], queues: Callable[[], Iterable[str]] | None = None,
                 seconds: float = defaults.COMPLETION_SECONDS) -> None:
        self._jobs, self._queues, self._seconds = jobs, queues, seconds
        self._idle = threading.Lock()
        self._asked: queue.SimpleQueue[_Lookup] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def job_ids(self, prefix: str) -> list[str]:
        return self._ask(lambda: self._jobs().ids_starting(prefix))

    def queues(self) -> list[str]:
        queues = self._queues
        return self._ask(lambda: sorted(queues())) if queues is not None else []

    def warm(self) -> None:
        """Open the store and load what lookups use, in the background, before the first Tab."""
        queues = self._queues
        self._ask(lambda: [*self._jobs().ids_starting(""), *(queues() if queues is not None else ())], 0)

    def _ask(self, call: Callable[[], list[str]], seconds: float | None = None) -> list[str]:
        if not self._idle.acquire(blocking=False):
            return []
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="queuectl-completion", daemon=True)
            self._thread.start()
        lookup = _Lookup(call)
        self._asked.put(lookup)
        return list(lookup.answer) if lookup.done.wait(self._seconds if seconds is None else seconds) else []

    def _serve(self) -> None:
        while True:
            lookup = self._asked.get()
            try:
                lookup.answer.extend(lookup.call())
            except Exception:  # an unreachable store, say: completion offers nothing
                log.debug("completion lookup failed", exc_info=True)
            finally:
                lookup.done.set()
                self._idle.release()


class _Lookup:
    def __init__(self, call: Callable[[], list[str]]) -> None:
        self.call = call
        self.answer: list[str] = []
        self.done = threading.Event()


def shell_values(state: Any, seconds: float = defaults.COMPLETION_SECONDS) -> StoreValues:
    """The values of the shell's session (an ``AppState``), read through its services."""
    return StoreValues(state.jobs, queues=lambda: known_queues(state.jobs(), state.queues()), seconds=seconds)


def known_queues(jobs: Any, queues: Any) -> set[str]:
    """The queue names the store tells cheaply (no pass over the jobs): the default queue, the
    queues paused or resumed by name, the limited ones, and those live workers serve."""
    paused = queues.paused()
    names = {defaults.DEFAULT_QUEUE} | paused.queues | paused.resumed | set(queues.limits())
    for worker in jobs.live_workers():
        names.update(worker.queues)
    return names


def make_completer(group: click.Group, values: Values) -> Any:
    """The prompt_toolkit completer of the shell, run off the prompt's thread."""
    from prompt_toolkit.completion import Completer, Completion, ThreadedCompleter

    class ShellCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Iterable[Completion]:
            try:
                words, partial = candidates(group, document.text_before_cursor, values)
            except Exception:  # completion never breaks the shell
                log.debug("completion failed", exc_info=True)
                return
            for word in words:
                yield Completion(word, start_position=-len(partial))

    return ThreadedCompleter(ShellCompleter())


def candidates(group: click.Group, before_cursor: str, values: Values | None = None) -> tuple[list[str], str]:
    """The words that can complete the last (partial) word of ``before_cursor``, and that word."""
    try:
        words = shlex.split(before_cursor)
    except ValueError:  # an open quote: nothing sensible to offer
        return [], ""
    partial = words.pop() if words and not before_cursor[-1:].isspace() else ""
    in_help = words[:1] == ["help"]
    if in_help:
        words = words[1:]
    elif not words:
        from .shell import SHELL_WORDS

        return _matching([*_subcommands(group), *SHELL_WORDS], partial), partial
    command, rest = _command_for(group, words)
    previous = _option(command, words[-1]) if words else None
    if previous is not None and not previous.is_flag and not previous.count:
        return _option_values(previous, partial, values or NoValues()), partial
    if partial.startswith("-"):
        return _matching(_options(command, top=command is group), partial), partial
    if in_help or isinstance(command, click.Group):
        return _matching(_subcommands(command), partial), partial
    return _argument_values(_argument_at(command, rest), partial, values or NoValues()), partial


def _option_values(option: click.Option, partial: str, values: Values) -> list[str]:
    if isinstance(option.type, click.Choice):
        return _matching(list(option.type.choices), partial)
    if option.type is params.QUEUE:
        return _matching(values.queues(), partial)
    return []


def _argument_values(argument: click.Argument | None, partial: str, values: Values) -> list[str]:
    if argument is None:
        return []
    if argument.type is params.JOB_ID or argument.name in ID_ARGUMENT_NAMES:
        return [job_id for job_id in values.job_ids(partial) if job_id.startswith(partial)]  # newest first
    if isinstance(argument.type, click.Choice):
        return _matching(list(argument.type.choices), partial)
    if argument.type is params.QUEUE:  # queue limit NAME
        return _matching(values.queues(), partial)
    if argument.name in KEY_ARGUMENT_NAMES:
        return _matching(list(KEYS), partial)
    return []


def _command_for(group: click.Group, words: list[str]) -> tuple[click.Command, list[str]]:
    """The (sub)command the words name, and the words after its name."""
    command: click.Command = group
    rest: list[str] = []
    for word in words:
        children = _children(command)
        if not rest and word in children:
            command = children[word]
        else:
            rest.append(word)
    return command, rest


def _argument_at(command: click.Command, rest: list[str]) -> click.Argument | None:
    """The argument the next positional word fills, counting past options and their values."""
    position, takes_value = 0, False
    for word in rest:
        if takes_value:
            takes_value = False
        elif word.startswith("-") and len(word) > 1 and word != "--":
            option = _option(command, word)
            takes_value = option is not None and not option.is_flag and not option.count
        else:
            position += 1
    for argument in (p for p in command.params if isinstance(p, click.Argument)):
        if argument.nargs < 0 or position < argument.nargs:
            return argument
        position -= argument.nargs
    return None


def _subcommands(command: click.Command) -> list[str]:
    return [name for name, sub in _children(command).items() if not sub.hidden]


def _children(command: click.Command) -> dict[str, click.Command]:
    """A group's commands; the root group loads its lazily imported ones first."""
    if not isinstance(command, click.Group):
        return {}
    load_all = getattr(command, "load_all", None)
    return load_all() if load_all else command.commands


def _options(command: click.Command, top: bool) -> list[str]:
    names = ["--help"]
    if not top:  # the global options are fixed when the shell starts
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                names += [name for name in param.opts if name.startswith("--")]
    return names


def _option(command: click.Command, word: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and word in param.opts:
            return param
    return None


def _matching(words: list[str], partial: str) -> list[str]:
    return sorted(word for word in set(words) if word.startswith(partial))
