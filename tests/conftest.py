"""Order of the whole suite: the tests marked ``long`` (minutes of one process's time each) come first.

pytest-xdist hands the tests out in collection order; a long test collected last
would run alone at the end while the other test processes idle. First, each
starts at once beside the short ones, which fill the other processes meanwhile.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: the rest keep their order
