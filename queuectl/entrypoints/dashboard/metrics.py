"""``/metrics``: the store's figures in the Prometheus text format, read at scrape time.

A custom collector in a registry of its own (nothing in prometheus_client's
global registry): each scrape asks the store once for the current jobs and
once for the attempt totals. The counters are counts of stored attempts by
outcome, which never decrease (attempts are not rewritten or deleted).

The ``queue`` label is bounded: the ``TOP_QUEUES`` deepest queues get their
own series, every other queue is summed under ``queue="_other"``, so a store
with thousands of queues still makes a scrape of a few hundred series.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily,
                                    Metric)
from prometheus_client.registry import Collector

from queuectl.domain.model import JobState
from queuectl.domain.services import StatsService

from .queues import OTHER, rank

TOP_QUEUES = 50
GAUGE_WINDOW = timedelta(minutes=1)  # the gauges need no window; keep the one they compute small


class StoreCollector(Collector):
    def __init__(self, stats: StatsService) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        current = self.stats.stats(GAUGE_WINDOW)
        totals = self.stats.totals()
        jobs = GaugeMetricFamily("queuectl_jobs", "Jobs in the store, per state and queue.",
                                 labels=["state", "queue"])
        ranking = rank(current.jobs_by_queue, TOP_QUEUES, reserved=OTHER)
        series = [(row.name, row.counts) for row in ranking.top]
        if ranking.rest:
            series.append((OTHER, ranking.rest_counts))
        for queue, states in sorted(series):
            for state in JobState:
                jobs.add_metric([state.value, queue], states.get(state, 0))
        yield jobs
        yield GaugeMetricFamily("queuectl_workers", "Live workers (heartbeat within the lease).",
                                value=self.stats.live_workers())
        yield GaugeMetricFamily("queuectl_oldest_pending_age_seconds",
                                "Seconds the longest-due waiting job has waited (0 when none is due).",
                                value=current.oldest_waiting_age or 0.0)
        for name, value, text in (
            ("completed", totals.completed, "Attempts that completed the job."),
            ("failed", totals.failed, "Attempts that failed (retried later or sent to the DLQ)."),
            ("dead", totals.dead, "Attempts that sent their job to the DLQ."),
        ):
            yield CounterMetricFamily(f"queuectl_jobs_{name}_total", text, value=value)
        buckets = [(_bound(bound), count) for bound, count in totals.buckets]
        yield HistogramMetricFamily("queuectl_job_duration_seconds",
                                    "Run time of the attempts that ran to an end (completed, failed, dead).",
                                    buckets=buckets + [("+Inf", totals.duration_count)],
                                    sum_value=totals.duration_sum)


def _bound(value: float) -> str:
    return repr(float(value))


def metrics_text(stats: StatsService) -> tuple[bytes, str]:
    """The exposition and its content type, from a fresh registry holding only our collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(stats))
    return generate_latest(registry), CONTENT_TYPE_LATEST
