"""Where state lives: the queue home and the store URL (SPEC section 3).

Precedence, first found wins:

- home: ``--home DIR``, ``$QUEUECTL_HOME``, ``$XDG_DATA_HOME/queuectl``,
  ``~/.local/share/queuectl``;
- store: ``--db URL``, ``$QUEUECTL_DB``, ``$MONGO_URI``, ``sqlite:///<home>/queue.db``.

A ``.env`` file in the working directory may set ``QUEUECTL_HOME``,
``QUEUECTL_DB`` and ``MONGO_URI``; a variable set in the real environment wins
over the same variable in ``.env``. Empty values count as unset. Nothing here
touches the disk except ``ensure_home`` and ``read_dotenv``.

Safe on a shared host (SPEC 9.5): a ``.env`` is used only when it is owned by
the current user and not writable by group or others (otherwise it is ignored,
with a warning), and a queue home owned by another user or writable by group
or others is refused. When ``.env`` does change where the store is, a note
says so. Warnings and notes are returned in ``Locations.notices`` for the
command line to print.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from queuectl.domain.errors import QueuectlError, UnsafeLocation
from queuectl.domain.safety import untrusted_because
from queuectl.domain.urls import home_store_url, redact_url, scrub  # noqa: F401  (scrub: for the CLI)

ENV_HOME = "QUEUECTL_HOME"
ENV_DB = "QUEUECTL_DB"
ENV_MONGO = "MONGO_URI"
DOTENV_KEYS = (ENV_HOME, ENV_DB, ENV_MONGO)
MAX_DOTENV_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Locations:
    home: Path
    url: str
    notices: tuple[str, ...] = ()  # one line each, for stderr: an ignored .env, what .env changed


def resolve(home_option: str | None = None, db_option: str | None = None,
            environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Locations:
    """The home and store URL for these options, environment and working directory."""
    real = {key: value for key, value in (os.environ if environ is None else environ).items() if value}
    here = cwd or _current_directory()
    dotenv, notices = trusted_dotenv(here / ".env") if here is not None else ({}, [])
    env = {**dotenv, **real}
    home = resolve_home(home_option, env)
    url = resolve_url(db_option, env, home)
    plain_home = resolve_home(home_option, real)
    if (home, url) != (plain_home, resolve_url(db_option, real, plain_home)):
        used = ", ".join(key for key in DOTENV_KEYS if key in dotenv and key not in real)
        notices.append(f"note: .env sets {used}; using {redact_url(url)}")
    return Locations(home=home, url=url, notices=tuple(notices))


def _current_directory() -> Path | None:
    """The working directory; None when it was deleted (there is no .env to read then)."""
    try:
        return Path.cwd()
    except FileNotFoundError:
        return None


def trusted_dotenv(path: Path) -> tuple[dict[str, str], list[str]]:
    """The queuectl variables of ``path`` if it may be trusted, and the warnings to print."""
    link_owner = _link_owner(path)  # a link is followed only when it is ours, like the file it names
    values, owner, mode = read_dotenv_with_owner(path, follow=link_owner is not None)
    values = {key: value for key, value in values.items() if key in DOTENV_KEYS and value}
    reason = untrusted_because(owner, mode, os.geteuid()) if values else None
    if values and link_owner is not None and link_owner != os.geteuid():
        reason = f"a link owned by uid {link_owner}, not by you (uid {os.geteuid()})"
    if reason:
        return {}, [f"warning: ignoring {path}: {reason}"]
    return values, []


def _link_owner(path: Path) -> int | None:
    """The owner of ``path`` if it is a symbolic link; None otherwise (or if it is missing)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_uid if stat.S_ISLNK(info.st_mode) else None


def resolve_home(option: str | None, env: Mapping[str, str]) -> Path:
    if option:
        return Path(option).expanduser().absolute()
    if env.get(ENV_HOME):
        return Path(env[ENV_HOME]).expanduser().absolute()
    data_home = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser().absolute() / "queuectl"


def resolve_url(option: str | None, env: Mapping[str, str], home: Path) -> str:
    return option or env.get(ENV_DB) or env.get(ENV_MONGO) or home_store_url(str(home))


def ensure_home(home: Path) -> Path:
    """Create the home (owner-only, 0700) if it is missing; refuse one another user could write.

    The check comes after the ``mkdir``: a folder another user made meanwhile
    (in a shared folder) is found by it, never adopted or ``chmod``-ed.
    """
    if _status(home) is None:
        try:
            home.parent.mkdir(parents=True, exist_ok=True)
            home.mkdir(mode=0o700)
        except FileExistsError:
            pass  # someone else's, or a file: told just below
        except OSError as exc:
            raise QueuectlError(f"cannot create the queue home '{home}': {exc.strerror or exc}") from None
    info = _status(home)
    if info is None or not stat.S_ISDIR(info.st_mode):
        raise QueuectlError(f"cannot create the queue home '{home}': a file of that name is in the way")
    reason = untrusted_because(info.st_uid, info.st_mode, os.geteuid())
    link_owner = _link_owner(home)  # another user's link to a folder of ours (/etc, say)
    if link_owner is not None and link_owner != os.geteuid():
        reason = f"a link owned by uid {link_owner}, not by you (uid {os.geteuid()})"
    if reason:
        raise UnsafeLocation(f"refusing the queue home '{home}': {reason}")
    return home


def _status(home: Path) -> os.stat_result | None:
    """The home's status; None if it is missing (or a file in its path is not a folder)."""
    try:
        return os.stat(home)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise QueuectlError(f"cannot use the queue home '{home}': {exc.strerror or exc}") from None


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; ``#`` comments, ``export`` prefixes and quotes allowed. Missing file: {}."""
    return read_dotenv_with_owner(path)[0]


def read_dotenv_with_owner(path: Path, follow: bool = True) -> tuple[dict[str, str], int, int]:
    """``read_dotenv``'s values, with the owner and mode of the file they were read from
    (``follow=False``: nothing from a symbolic link)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | (0 if follow else os.O_NOFOLLOW)
    try:  # non-blocking: a FIFO named .env must not hang the command
        with open(os.open(path, flags), "rb") as handle:
            info = os.fstat(handle.fileno())  # the file read, not whatever the name points at later
            if not stat.S_ISREG(info.st_mode):
                return {}, os.geteuid(), 0
            text = handle.read(MAX_DOTENV_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return {}, os.geteuid(), 0
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        values[key] = _unquote(value.strip())
    return values, info.st_uid, info.st_mode


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if " #" in value:  # an unquoted value ends at an inline comment
        value = value.split(" #", 1)[0].rstrip()
    return value
