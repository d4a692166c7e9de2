"""``queuectl`` with no command: the interactive shell.

Each line is split like a POSIX shell and run by the same click group through
the same error boundary (``cli.run``), with one ``AppState`` and so one store
connection for the whole session. On a terminal it uses prompt_toolkit
(history in the queue home, tab completion: ``completion.py``); with piped
input it prints no prompt and ends with exit 0 at end of input.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import IO

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
    from prompt_toolkit.history import FileHistory

    from .cli import cli
    from .completion import make_completer, shell_values

    values = shell_values(state)
    values.warm()  # the first Tab finds the store open
    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history_file(state.home))), completer=make_completer(cli, values))
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
