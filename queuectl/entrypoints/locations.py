"""Where state lives: the queue home and the store URL (SPEC section 3).

Precedence, first found wins:

- home: ``--home DIR``, ``$QUEUECTL_HOME``, ``$XDG_DATA_HOME/queuectl``,
  ``~/.local/share/queuectl``;
- store: ``--db URL``, ``$QUEUECTL_DB``, ``$MONGO_URI``, ``sqlite:///<home>/queue.db``.

A ``.env`` file in the working directory may set ``QUEUECTL_HOME``,
``QUEUECTL_DB`` and ``MONGO_URI``; a variable set in the real environment wins
over the same variable in ``.env``. Empty values count as unset. Nothing here
touches the disk except ``ensure_home`` and ``read_dotenv``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from queuectl.domain.urls import redact_url, scrub  # noqa: F401  (re-exported for the CLI)

from queuectl.domain.errors import QueuectlError

ENV_HOME = "QUEUECTL_HOME"
ENV_DB = "QUEUECTL_DB"
ENV_MONGO = "MONGO_URI"
DOTENV_KEYS = (ENV_HOME, ENV_DB, ENV_MONGO)
DB_FILE = "queue.db"


@dataclass(frozen=True)
class Locations:
    home: Path
    url: str


def resolve(home_option: str | None = None, db_option: str | None = None,
            environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Locations:
    """The home and store URL for these options, environment and working directory."""
    env = effective_environment(os.environ if environ is None else environ, cwd or Path.cwd())
    home = resolve_home(home_option, env)
    return Locations(home=home, url=resolve_url(db_option, env, home))


def effective_environment(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The real environment over the queuectl variables a ``.env`` file sets."""
    merged = {key: value for key, value in read_dotenv(cwd / ".env").items() if key in DOTENV_KEYS}
    merged.update({key: value for key, value in environ.items() if value})
    return merged


def resolve_home(option: str | None, env: Mapping[str, str]) -> Path:
    if option:
        return Path(option).expanduser().absolute()
    if env.get(ENV_HOME):
        return Path(env[ENV_HOME]).expanduser().absolute()
    data_home = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser().absolute() / "queuectl"


def resolve_url(option: str | None, env: Mapping[str, str], home: Path) -> str:
    return option or env.get(ENV_DB) or env.get(ENV_MONGO) or f"sqlite:///{home / DB_FILE}"


def ensure_home(home: Path) -> Path:
    """Create the home (owner-only, 0700) if it is missing; an existing one is left as is."""
    if home.is_dir():
        return home
    try:
        home.parent.mkdir(parents=True, exist_ok=True)
        home.mkdir(mode=0o700, exist_ok=True)
        os.chmod(home, 0o700)
    except OSError as exc:
        raise QueuectlError(f"cannot create the queue home '{home}': {exc.strerror or exc}") from None
    return home


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines; ``#`` comments, ``export`` prefixes and quotes allowed. Missing file: {}."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        values[key] = _unquote(value.strip())
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if " #" in value:  # an unquoted value ends at an inline comment
        value = value.split(" #", 1)[0].rstrip()
    return value
