"""The ranking behind the overview's queue table and the bounded ``queue`` label of /metrics."""

from __future__ import annotations

from queuectl.domain.model import JobState
from queuectl.entrypoints.dashboard.queues import OTHER, rank

P, F, C = JobState.PENDING, JobState.FAILED, JobState.COMPLETED


def test_the_deepest_queues_come_first_ties_by_name_and_the_rest_is_summed():
    counts = {"a": {P: 1}, "b": {P: 5, C: 9}, "c": {F: 5}, "d": {C: 100}, "e": {P: 2, F: 1}}
    ranking = rank(counts, 3)
    assert [(row.name, row.depth) for row in ranking.top] == [("b", 5), ("c", 5), ("e", 3)]
    assert ranking.rest == 2 and ranking.rest_counts[P] == 1 and ranking.rest_counts[C] == 100


def test_nothing_is_summed_when_every_queue_fits():
    ranking = rank({"a": {P: 1}, OTHER: {P: 7}}, 5)
    assert [row.name for row in ranking.top] == [OTHER, "a"] and ranking.rest == 0


def test_a_queue_named_like_the_sum_is_summed_so_the_label_stays_unique():
    ranking = rank({"a": {P: 1}, "b": {P: 2}, OTHER: {P: 7}}, 2, reserved=OTHER)
    assert [row.name for row in ranking.top] == ["b", "a"]
    assert ranking.rest == 1 and ranking.rest_counts[P] == 7
