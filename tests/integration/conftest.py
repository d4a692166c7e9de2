"""Fixtures of the store contract, and the tiers every integration test file falls in.

``memory`` and ``sqlite`` (a real file) always run. ``mongodb`` runs when
``QUEUECTL_TEST_MONGO_URI`` names a server, ``postgres`` when
``QUEUECTL_TEST_POSTGRES_URL`` does; each test then gets a database (MongoDB)
or schema (PostgreSQL) of its own (``processes.store_url_for_test``) that is
dropped afterwards.

Tiers (markers declared in pyproject.toml) come from the file, so a new file is
tiered by its name and content: ``test_*contract*`` and ``test_store_*`` are
``contract``; a file that starts real processes (it uses ``subprocess``,
``multiprocessing``, the ``Queue``/``make_queue`` helpers or
``start_dashboard``) is ``process``; ``test_*browser*`` is ``browser``,
``test_*bench*`` is ``bench`` and ``test_fault_*`` is ``fault``. Explicit marks
add to these.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from pathlib import Path
from typing import Iterator

import pytest

from queuectl.container import build_container
from queuectl.domain.ports import Store

from .processes import (MONGO_ENV, MONGO_SKIP_REASON, POSTGRES_ENV, POSTGRES_SKIP_REASON, drop_store,
                        store_url_for_test)

HERE = Path(__file__).resolve().parent
TIERS_BY_NAME = {"contract": ("test_*contract*.py", "test_store_*.py"), "browser": ("test_*browser*.py",),
                 "bench": ("test_*bench*.py",), "fault": ("test_fault_*.py",)}
STARTS_PROCESSES = re.compile(r"\bsubprocess\b|\bmultiprocessing\b|\bmake_queue\(|\bQueue\(|\bstart_dashboard\(")


@functools.cache
def tiers_of(path: Path) -> tuple[str, ...]:
    """The markers a test file in this folder gets from its name and what it does."""
    tiers = [tier for tier, patterns in TIERS_BY_NAME.items()
             if any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)]
    if STARTS_PROCESSES.search(path.read_text(encoding="utf-8")):
        tiers.append("process")
    return tuple(tiers)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if path.parent == HERE:
            for tier in tiers_of(path):
                item.add_marker(tier)

_MONGO = pytest.param("mongodb", id="mongodb", marks=pytest.mark.skipif(
    not os.environ.get(MONGO_ENV), reason=MONGO_SKIP_REASON))
_POSTGRES = pytest.param("postgres", id="postgres", marks=pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV), reason=POSTGRES_SKIP_REASON))
EVERY_STORE = [pytest.param("memory", id="memory"), pytest.param("sqlite", id="sqlite"), _MONGO, _POSTGRES]
# Stores that several processes can share (the in-memory one cannot).
SHARED_STORES = [pytest.param("sqlite", id="sqlite"), _MONGO, _POSTGRES]
# The stores on a server: several hosts share them.
SERVER_STORES = [_MONGO, _POSTGRES]


def _store_url(kind: str, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory://"
    return store_url_for_test(kind, tmp_path / "home")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = _store_url(request.param, tmp_path)
    yield url
    drop_store(url)


@pytest.fixture(params=EVERY_STORE)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _url_fixture(request, tmp_path)


@pytest.fixture(params=SHARED_STORES)
def shared_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL that several processes can open at once."""
    yield from _url_fixture(request, tmp_path)


@pytest.fixture
def store(store_url: str, home: Path) -> Iterator[Store]:
    """The store as the application gets it: through the container's Selector."""
    opened = build_container(store_url, str(home)).store()
    yield opened
    opened.close()
