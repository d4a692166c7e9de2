"""Fixtures of the store contract: the same tests run against every store.

``memory`` and ``sqlite`` (a real file) always run. ``mongodb`` runs when
``QUEUECTL_TEST_MONGO_URI`` names a server; each test then gets a database of
its own (the URL's path is replaced) that is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from queuectl.container import build_container
from queuectl.domain.ports import Store

MONGO_ENV = "QUEUECTL_TEST_MONGO_URI"
MONGO_SKIP_REASON = "set QUEUECTL_TEST_MONGO_URI to run against MongoDB"

_MONGO = pytest.param("mongodb", id="mongodb", marks=pytest.mark.skipif(
    not os.environ.get(MONGO_ENV), reason=MONGO_SKIP_REASON))
EVERY_STORE = [pytest.param("memory", id="memory"), pytest.param("sqlite", id="sqlite"), _MONGO]
# Stores that several processes can share (the in-memory one cannot).
SHARED_STORES = [pytest.param("sqlite", id="sqlite"), _MONGO]


def _store_url(kind: str, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'queue.db'}"
    return _mongo_test_url(os.environ[MONGO_ENV], f"queuectl_test_{uuid.uuid4().hex[:12]}")


def _mongo_test_url(base: str, database: str) -> str:
    """``base`` pointed at ``database``; credentials keep authenticating where they did."""
    parts = urlsplit(base)
    query = parse_qsl(parts.query)
    if "@" in parts.netloc and not any(key.lower() == "authsource" for key, _ in query):
        query.append(("authSource", parts.path.strip("/") or "admin"))
    return urlunsplit(parts._replace(path=f"/{database}", query=urlencode(query)))


def _drop_mongo_database(url: str) -> None:
    import pymongo

    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(urlsplit(url).path.lstrip("/"))
    finally:
        client.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = _store_url(request.param, tmp_path)
    yield url
    if request.param == "mongodb":
        _drop_mongo_database(url)


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
