"""Fixtures of the CLI unit tests: the real click group with an injected container.

The container's store and clock providers are overridden with an in-memory
store and a settable clock; nothing is patched.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from dependency_injector import providers

from queuectl.adapters.memory import InMemoryStore
from queuectl.container import build_container
from queuectl.entrypoints.cli import cli
from queuectl.entrypoints.context import AppState

from ..fakes import FakeClock
from .support import NOW


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def container(store, clock, tmp_path):
    container = build_container("memory://", str(tmp_path / "home"))
    container.store.override(providers.Object(store))
    container.clock.override(providers.Object(clock))
    return container


@pytest.fixture
def invoke(container):
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, obj=AppState(container=container), env=env)

    return run
