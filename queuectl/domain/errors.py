"""Domain errors. Every error a user can cause or meet derives from QueuectlError.

Entrypoints print ``Error: <message>`` for these and exit 1; nothing above
``adapters/`` ever sees a driver exception.
"""


class QueuectlError(Exception):
    """Base of every expected failure; its message is shown to the user as is."""


class InvalidJob(QueuectlError):
    """A job specification is malformed (bad JSON, missing command, bad id...)."""


class JobNotFound(QueuectlError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job '{job_id}' not found")
        self.job_id = job_id


class DuplicateJob(QueuectlError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job '{job_id}' already exists")
        self.job_id = job_id


class UniqueKeyHeld(QueuectlError):
    """Another job that is not final holds the unique key (SPEC 9.3): nothing was stored or moved."""

    def __init__(self, key: str, holder: str, state: str) -> None:
        super().__init__(f"unique key '{key}' is held by job '{holder}' ({state})")
        self.key = key
        self.holder = holder
        self.state = state


class InvalidTransition(QueuectlError):
    def __init__(self, job_id: str, state: str, action: str) -> None:
        super().__init__(f"job '{job_id}' is {state}: cannot {action}")
        self.job_id = job_id
        self.state = state
        self.action = action


class InvalidSetting(QueuectlError):
    """Unknown configuration key or an invalid value for a known one."""


class StoreUnavailable(QueuectlError):
    """The store cannot be reached or opened."""


class ConcurrentUpdate(QueuectlError):
    """A compare-and-set kept losing: the job changed every time it was read back. The store
    answered, so this is no outage; trying again later may succeed."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job '{job_id}' kept changing while being updated; try again")
        self.job_id = job_id


class StoreLost(QueuectlError):
    """The store this process opened is not the one at its location any more (a
    SQLite file deleted or replaced while a worker ran): not an outage, retrying
    cannot help."""


class UnsupportedStore(QueuectlError):
    """The store URL names a scheme queuectl cannot use."""


class UnsafeLocation(QueuectlError):
    """A queue home or store file another user could have written: refused, never used."""


class OutcomeRejected(QueuectlError):
    """The store refused for good to record a job's outcome (or its claim): it can never be written.

    A MongoDB document at its 16 MiB limit, say. Retrying cannot help; the worker closes the job
    ``dead`` with ``reason`` as its ``last_error`` instead (SPEC 9.4).
    """

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job '{job_id}': the store refused its outcome: {reason}")
        self.job_id = job_id
        self.reason = reason


class PauseConflict(QueuectlError):
    """The paused queues kept changing while a ``pause`` or ``resume`` was being written."""

    def __init__(self) -> None:
        super().__init__("the paused queues kept changing while being updated; try again")


class UnknownDependency(QueuectlError):
    """``enqueue --after ID`` named a job that does not exist: nothing is stored."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"dependency '{job_id}' not found: --after takes the id of an existing job")
        self.job_id = job_id


class InvalidSchedule(QueuectlError):
    """A schedule's name, cron expression or time zone is malformed."""


class ScheduleNotFound(QueuectlError):
    def __init__(self, name: str) -> None:
        super().__init__(f"schedule '{name}' not found")
        self.name = name


class DuplicateSchedule(QueuectlError):
    def __init__(self, name: str) -> None:
        super().__init__(f"schedule '{name}' already exists")
        self.name = name
