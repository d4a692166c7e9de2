"""Test doubles with real behaviour: a settable clock, a scripted command runner, a store that refuses."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from queuectl.adapters.memory import InMemoryJobRepository, InMemoryStatsRepository, InMemoryStore
from queuectl.domain import defaults
from queuectl.domain.errors import OutcomeRejected, StoreUnavailable
from queuectl.domain.commands import CommandRunner, RunningCommand, RunResult
from queuectl.domain.model import WAITING, Job
from queuectl.domain.ports import Clock, Waiter

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


class FakeClock(Clock):
    def __init__(self, start: datetime = T0) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass
class Script:
    """How one started command behaves: runs ``duration`` seconds, then ends so."""

    duration: float = 0.0
    exit_code: int = 0
    error: str | None = None
    output: str = ""


class ScriptedCommand(RunningCommand):
    def __init__(self, clock: FakeClock, script: Script, runner: "ScriptedRunner") -> None:
        self.clock, self.script, self.runner = clock, script, runner
        self.remaining = script.duration
        self.killed: str | None = None

    def wait(self, seconds: float) -> RunResult | None:
        step = min(seconds, self.remaining)
        self.clock.advance(step)
        self.remaining -= step
        if self.runner.on_wait:
            self.runner.on_wait.popleft()(self)
        if self.remaining > 0:
            return None
        return RunResult(self.script.exit_code, self.script.error, self.script.output)

    def kill(self, reason: str) -> RunResult:
        self.killed = reason
        return RunResult(143, reason, self.script.output)


@dataclass
class ScriptedRunner(CommandRunner):
    clock: FakeClock
    scripts: dict[str, list[Script]] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    commands: list[ScriptedCommand] = field(default_factory=list)
    on_wait: deque = field(default_factory=deque)

    def start(self, job: Job, output_max: int = 0) -> RunningCommand:
        self.started.append(job.id)
        self.output_max = output_max
        queue = self.scripts.get(job.id) or [Script()]
        script = queue.pop(0) if len(queue) > 1 else queue[0]
        command = ScriptedCommand(self.clock, script, self)
        self.commands.append(command)
        return command


class ClockWaiter(Waiter):
    """Idle waiting that just moves the fake clock on."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


class RefusingJobRepository(InMemoryJobRepository):
    """The in-memory store, except that it refuses for good (as MongoDB refuses a document past
    16 MiB) to record the outcomes of the jobs in ``poisoned`` and to claim those in ``unclaimable``."""

    REASON = "document too large (16 MiB)"

    def __init__(self) -> None:
        super().__init__()
        self.poisoned: set[str] = set()
        self.unclaimable: set[str] = set()

    def record_outcome(self, job: Job, token: str, output: str | None = None,
                       history_max: int = defaults.HISTORY_MAX) -> bool:
        if job.id in self.poisoned:
            raise OutcomeRejected(job.id, self.REASON)
        return super().record_outcome(job, token, output, history_max)

    def claim_next(self, worker, now, lease_until, queues=None):
        with self._lock:
            due = sorted((j for j in self._jobs.values() if j.state in WAITING and j.run_at <= now),
                         key=lambda j: (-j.priority, j.run_at, self._seq[j.id]))
            if due and due[0].id in self.unclaimable:
                raise OutcomeRejected(due[0].id, self.REASON)
            return super().claim_next(worker, now, lease_until, queues)


def refusing_store() -> InMemoryStore:
    store = InMemoryStore()
    store.jobs = RefusingJobRepository()
    store.stats = InMemoryStatsRepository(store.jobs)
    return store

class FlakyStore:
    """A store that stops answering on cue: while ``down_until`` is ahead of the
    clock, or for the next ``fail_next`` calls, every repository call raises
    ``StoreUnavailable`` (``errors`` counts them)."""

    def __init__(self, inner, clock: FakeClock) -> None:
        self.inner, self.clock = inner, clock
        self.down_until: datetime | None = None
        self.fail_next = 0
        self.errors = 0
        self.lost: Exception | None = None  # raised by every call when set (a replaced file, say)
        self.jobs = _FlakyPart(self, inner.jobs)
        self.settings = _FlakyPart(self, inner.settings)
        self.workers = _FlakyPart(self, inner.workers)

    def down_for(self, seconds: float) -> None:
        self.down_until = self.clock.now() + timedelta(seconds=seconds)

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost
        if self.fail_next > 0 or (self.down_until is not None and self.clock.now() < self.down_until):
            self.fail_next = max(0, self.fail_next - 1)
            self.errors += 1
            raise StoreUnavailable("the test store is down")


class _FlakyPart:
    def __init__(self, store: FlakyStore, inner) -> None:
        self._store, self._inner = store, inner

    def __getattr__(self, name: str):
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            self._store.check()
            return value(*args, **kwargs)

        return call
