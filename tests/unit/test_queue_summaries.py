"""``queue list``'s rows (``queue_service.summarise``): every known queue, by name."""

from queuectl.domain.model import JobState
from queuectl.domain.pausing import Paused
from queuectl.domain.queue_service import QueueSummary, summarise

ZEROS = {state: 0 for state in JobState}


def test_a_queue_is_known_by_its_jobs_its_limit_or_its_pause_and_listed_once_by_name():
    counts = {"emails": {**ZEROS, JobState.PENDING: 3}, "deploys": {**ZEROS, JobState.PROCESSING: 1}}
    rows = summarise(counts, {"deploys": 1, "builds": 2}, Paused(queues=frozenset({"nightly", "emails"})))
    assert rows == [QueueSummary("builds", ZEROS, 2, False),
                    QueueSummary("deploys", counts["deploys"], 1, False),
                    QueueSummary("emails", counts["emails"], None, True),
                    QueueSummary("nightly", ZEROS, None, True)]


def test_under_a_pause_of_every_queue_only_the_resumed_ones_run():
    rows = summarise({"a": ZEROS}, {}, Paused(all=True, resumed=frozenset({"b"})))
    assert [(row.name, row.paused) for row in rows] == [("a", True), ("b", False)]


def test_a_store_without_jobs_limits_or_pauses_knows_no_queue():
    assert summarise({}, {}, Paused()) == []
