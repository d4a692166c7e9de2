"""The command-runner port: what a worker needs from whatever runs a job's command."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from . import defaults
from .model import Job


@dataclass(frozen=True)
class RunResult:
    """How a command ended. ``error`` is None exactly when it succeeded."""

    exit_code: int | None
    error: str | None
    output: str = ""
    timed_out: bool = False  # killed by the job's timeout (the retry rules' ``timeout``)


class RunningCommand(ABC):
    @abstractmethod
    def wait(self, seconds: float) -> RunResult | None:
        """Wait up to ``seconds`` (less if the worker is woken); None while it still runs."""

    @abstractmethod
    def kill(self, reason: str) -> RunResult:
        """Kill the command's whole process group; the result's error is ``reason``."""


class CommandRunner(ABC):
    @abstractmethod
    def start(self, job: Job, output_max: int = defaults.OUTPUT_MAX) -> RunningCommand:
        """Start the job's current attempt, keeping at most ``output_max`` bytes of its output."""

    def reap(self, job: Job, token: str) -> None:
        """Kill what is left of an attempt whose worker vanished, if it ran here."""

