"""Test doubles with real behaviour: a settable clock, a scripted command runner."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from queuectl.domain.execution import CommandRunner, RunningCommand, RunResult
from queuectl.domain.model import Job
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
