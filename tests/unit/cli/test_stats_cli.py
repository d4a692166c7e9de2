"""``queuectl stats`` against the in-memory store."""

from __future__ import annotations

import json
from datetime import timedelta

from .support import NOW, add, make_dead, one_error


def test_stats_json_counts_the_store(invoke, store, clock):
    make_dead(store, "d")
    add(store, "waiting", queue="emails")
    clock.current = NOW + timedelta(seconds=30)
    data = json.loads(invoke("stats", "--json").stdout)
    assert (data["dlq_size"], data["failed"], data["queue_depth"]) == (1, 1, {"emails": 1})
    assert (data["window_seconds"], data["oldest_waiting_age_seconds"]) == (3600, 30)


def test_stats_since_narrows_the_window(invoke, store, clock):
    make_dead(store, "d")  # its attempt ended at NOW + 1 s
    clock.current = NOW + timedelta(minutes=10)
    assert json.loads(invoke("stats", "--json", "--since", "5m").stdout)["failed"] == 0
    assert json.loads(invoke("stats", "--json", "--since", "15m").stdout)["failed"] == 1


def test_stats_prints_a_readable_summary(invoke, store):
    add(store, "a")
    out = invoke("stats").stdout
    assert out.startswith("window             last 1h (since ")
    assert "QUEUE    WAITING\ndefault  1" in out


def test_a_window_that_is_not_a_duration_is_a_usage_error(invoke):
    assert "'--since'" in one_error(invoke("stats", "--since", "yesterday"), code=2)
    assert "longer than 0" in one_error(invoke("stats", "--since", "0"), code=2)
