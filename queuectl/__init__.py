"""queuectl: a background job queue for shell commands.

The Python API (SPEC 9.3)::

    import queuectl

    with queuectl.connect() as q:          # the store the CLI would use here
        job = q.enqueue("make test", queue="ci")
        (done,) = q.wait([job.id], timeout=600)
        print(done.state, done.exit_code)

Importing this package loads nothing else: ``connect`` and the names below
are imported on first use, so ``queuectl --help`` stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers read it as True)

if TYPE_CHECKING:  # pragma: no cover - what the lazy names are, for type checkers
    import os

    from queuectl.domain.errors import (DuplicateJob, InvalidJob, InvalidTransition, JobNotFound,
                                        QueuectlError, StoreUnavailable, UnsafeLocation, UnsupportedStore)
    from queuectl.domain.model import Attempt, JobState
    from queuectl.entrypoints.api import Client, ClientClosed
    from queuectl.entrypoints.api_job import EnqueueOptions, Job
    from queuectl.entrypoints.api_wait import WaitTimeout

# Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "Client": "queuectl.entrypoints.api", "ClientClosed": "queuectl.entrypoints.api",
    "Job": "queuectl.entrypoints.api_job", "EnqueueOptions": "queuectl.entrypoints.api_job",
    "WaitTimeout": "queuectl.entrypoints.api_wait",
    "Attempt": "queuectl.domain.model", "JobState": "queuectl.domain.model",
    **{name: "queuectl.domain.errors" for name in ("QueuectlError", "InvalidJob", "JobNotFound", "DuplicateJob",
                                                   "InvalidTransition", "StoreUnavailable", "UnsupportedStore",
                                                   "UnsafeLocation")},
}
__all__ = ["__version__", "connect", *_LAZY]


def connect(db: str | None = None, home: str | os.PathLike[str] | None = None) -> "Client":
    """A client of the queue ``queuectl [--db DB] [--home HOME]`` would use.

    The store is ``db``, else ``$QUEUECTL_DB``, else ``$MONGO_URI`` (a ``.env``
    file in the current directory may set them; the real environment wins),
    else ``sqlite:///HOME/queue.db``; the home is ``home``, else
    ``$QUEUECTL_HOME``, else ``~/.local/share/queuectl``. Nothing connects until
    the first call that needs the store. Raises ``QueuectlError`` for an
    unsupported URL or an unsafe home.
    """
    from queuectl.entrypoints.api import connect as open_client

    return open_client(db=db, home=home)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'queuectl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
