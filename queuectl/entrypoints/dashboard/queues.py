"""The deepest queues first: what the overview lists and what ``/metrics`` labels.

With thousands of queues neither a page nor a scrape can show each one: both
keep the ``limit`` deepest (waiting jobs: pending and failed; ties by name)
and sum the rest. One pass over the counts the store returned, however many
queues there are.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Mapping

from queuectl.domain.model import WAITING, JobState

OTHER = "_other"  # the metrics' label for the queues beyond the limit


@dataclass(frozen=True)
class QueueRow:
    name: str
    depth: int
    counts: Mapping[JobState, int]


@dataclass(frozen=True)
class Ranking:
    top: list[QueueRow]
    rest: int = 0  # how many queues were summed into ``rest_counts``
    rest_counts: Mapping[JobState, int] = field(default_factory=dict)


def rank(jobs_by_queue: Mapping[str, Mapping[JobState, int]], limit: int,
         reserved: str | None = None) -> Ranking:
    """The ``limit`` deepest queues and the sum of the others.

    ``reserved`` (a name the caller uses for the sum) never gets a row of its
    own when queues are summed, so the sum's label stays unique.
    """
    rows = [QueueRow(name, sum(counts.get(state, 0) for state in WAITING), counts)
            for name, counts in jobs_by_queue.items()]
    summing = len(rows) > limit
    candidates = [row for row in rows if not (summing and row.name == reserved)]
    top = heapq.nsmallest(limit, candidates, key=lambda row: (-row.depth, row.name))
    if not summing:
        return Ranking(top)
    kept = {row.name for row in top}
    rest_counts = {state: 0 for state in JobState}
    for row in rows:
        if row.name not in kept:
            for state, count in row.counts.items():
                rest_counts[state] += count
    return Ranking(top, len(rows) - len(top), rest_counts)
