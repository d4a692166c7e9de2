"""``queuectl`` with no command: the interactive shell.

Each line is split like a POSIX shell and run by the same click group through
the same error boundary (``cli.run``), with one ``AppState`` and so one store
connection for the whole session. On a terminal it uses prompt_toolkit
(history in the queue home, tab completion from the click group); with piped
input it prints no prompt and ends with exit 0 at end of input.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import IO, Any, Iterable

import click

from .context import AppState
from .locations import redact_url

PROMPT = "queuectl > "
HISTORY_FILE = "shell_history"
EXIT_WORDS = ("exit", "quit")
SHELL_WORDS = ("help", *EXIT_WORDS)
SHELL_HELP = "Shell: help [COMMAND], exit or quit (or Ctrl-D). Global options are set when the shell starts."


def run_shell(state: AppState) -> int:
    state.in_shell = True
    try:
        if sys.stdin is None:  # started with standard input closed: nothing to read
            return 0
        if sys.stdin.isatty() and sys.stdout.isatty():
            _interactive(state)
        else:
            _piped(state, sys.stdin)
    finally:
        state.in_shell = False
    return 0


def execute(line: str, state: AppState) -> bool:
    """Run one line; False when it asks the shell to end. Errors are printed, never raised."""
    from .cli import run

    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return True
    try:
        words = shlex.split(stripped)
    except ValueError as exc:
        click.echo(f"Error: cannot split the line: {exc}", err=True)
        return True
    if words[0] == "queuectl":  # a line pasted from the docs
        words = words[1:] or ["--help"]
    if words[0] in EXIT_WORDS:
        return False
    if words[0] == "help":
        run([*words[1:], "--help"], state)
        if len(words) == 1:
            click.echo(f"\n{SHELL_HELP}")
        return True
    run(words, state)
    return True


def _piped(state: AppState, source: IO[str]) -> None:
    for line in source:
        if not execute(line, state):
            return


def _interactive(state: AppState) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.history import FileHistory

    from .cli import cli

    class ClickCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Iterable[Completion]:
            words, partial = candidates(cli, document.text_before_cursor)
            for word in words:
                yield Completion(word, start_position=-len(partial))

    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history_file(state.home))), completer=ClickCompleter())
    click.echo(f"queuectl shell on {redact_url(state.locations.url)}. Type help, or exit to leave.")
    while True:
        try:
            line = session.prompt(PROMPT)
        except KeyboardInterrupt:  # Ctrl-C drops the line being typed, like a shell
            continue
        except EOFError:
            break
        if not execute(line, state):
            break


def history_file(home: Path) -> Path:
    """The owner-only history file in the queue home."""
    path = home / HISTORY_FILE
    os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return path


# -- completion ----------------------------------------------------------------
def candidates(group: click.Group, before_cursor: str) -> tuple[list[str], str]:
    """The words that can complete the last (partial) word of ``before_cursor``, and that word."""
    try:
        words = shlex.split(before_cursor)
    except ValueError:  # an open quote: nothing sensible to offer
        return [], ""
    partial = words.pop() if words and not before_cursor[-1:].isspace() else ""
    if words[:1] == ["help"]:
        words = words[1:]
    elif not words:
        return _matching([*_subcommands(group), *SHELL_WORDS], partial), partial
    command = _command_for(group, words)
    previous = _option(command, words[-1]) if words else None
    if previous is not None and not previous.is_flag and isinstance(previous.type, click.Choice):
        return _matching(list(previous.type.choices), partial), partial
    if partial.startswith("-"):
        return _matching(_options(command, top=command is group), partial), partial
    return _matching(_subcommands(command), partial), partial


def _command_for(group: click.Group, words: list[str]) -> click.Command:
    command: click.Command = group
    for word in words:
        children = _children(command)
        if word in children:
            command = children[word]
    return command


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
