"""Fixtures the worker-loop tests share: a fake clock and a scripted command runner on it."""

from __future__ import annotations

import pytest

from .fakes import FakeClock, ScriptedRunner


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def runner(clock):
    return ScriptedRunner(clock)
