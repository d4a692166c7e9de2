"""MongoStatsRepository: ``stats`` and the metrics' totals as aggregation pipelines.

Only ``$match``, ``$project``, ``$unwind``, ``$group``, ``$sort``, ``$skip`` and
``$limit`` with plain accumulators: nothing newer than MongoDB 4.2 (no
``$percentile``, which needs 7.0), so percentiles are one sorted pipeline
each, ``$skip`` to the nearest rank. Attempts are the embedded ``history``
entries; the window's pipelines start from the multikey index on
``history.finished_at`` and project away the stored output before unwinding.
Durations come out of ``$subtract`` on dates, in milliseconds.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence

from pymongo.collection import Collection

from queuectl.domain.model import WAITING, JobState
from queuectl.domain.ports import StatsRepository
from queuectl.domain.stats import RAN, AttemptTotals, Durations, QueueStats, rank_index

from .database import MongoDatabase, translate_errors
from .documents import ms

_WAITING = sorted(state.value for state in WAITING)
_RAN = [state.value for state in RAN]
_DURATION_MS = {"$subtract": ["$history.finished_at", "$history.started_at"]}
_ATTEMPT_FIELDS = {"_id": 0, "history.finished_at": 1, "history.started_at": 1, "history.outcome": 1}
# "Finished at all": a range from the epoch (``$ne: null`` would skip a job whose last attempt is open).
_EVER = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _outcome(value: Any) -> JobState | None:
    try:
        return JobState(value)
    except ValueError:  # an attempt recorded before outcomes were (None)
        return None


def _attempts(match: dict[str, Any]) -> list[dict[str, Any]]:
    """Stages yielding one document per history entry matching ``match`` (on ``history.*``)."""
    return [{"$match": match}, {"$project": _ATTEMPT_FIELDS}, {"$unwind": "$history"}, {"$match": match}]


@translate_errors
class MongoStatsRepository(StatsRepository):
    def __init__(self, db: MongoDatabase) -> None:
        self._db = db

    @property
    def _jobs(self) -> Collection:
        return self._db.collection("jobs")

    def stats(self, now: datetime, since: datetime) -> QueueStats:
        jobs, bson_now = self._jobs, ms(now)
        by_queue: dict[str, dict[JobState, int]] = {}
        oldest: datetime | None = None
        due = {"$and": [{"$in": ["$state", _WAITING]}, {"$lte": ["$run_at", bson_now]}]}
        for row in jobs.aggregate([
            {"$match": {"state": {"$in": [state.value for state in JobState]}}},
            {"$group": {"_id": {"state": "$state", "queue": "$queue"}, "n": {"$sum": 1},
                        "oldest": {"$min": {"$cond": [due, "$run_at", None]}}}},
        ]):
            by_queue.setdefault(row["_id"]["queue"], {})[JobState(row["_id"]["state"])] = int(row["n"])
            if row.get("oldest") is not None and (oldest is None or row["oldest"] < oldest):
                oldest = row["oldest"]
        window = _attempts({"history.finished_at": {"$gte": ms(since), "$lte": bson_now}})
        outcomes: dict[JobState, int] = {}
        longest: float | None = None
        for row in jobs.aggregate(window + [
            {"$group": {"_id": "$history.outcome", "n": {"$sum": 1}, "max": {"$max": _DURATION_MS}}},
        ]):
            state = _outcome(row["_id"])
            if state is not None:
                outcomes[state] = int(row["n"])
                if state in RAN and (longest is None or row["max"] / 1000 > longest):
                    longest = row["max"] / 1000
        ran = sum(outcomes.get(state, 0) for state in RAN)
        p50, p95 = [self._ranked(window, rank_index(ran, q)) if ran else None for q in (0.5, 0.95)]
        return QueueStats(now, since, by_queue, outcomes, Durations(ran, p50, p95, longest), oldest)

    def _ranked(self, window: list[dict[str, Any]], rank: int) -> float | None:
        rows = list(self._jobs.aggregate(window + [
            {"$match": {"history.outcome": {"$in": _RAN}}}, {"$project": {"d": _DURATION_MS}},
            {"$sort": {"d": 1}}, {"$skip": rank}, {"$limit": 1},
        ]))
        return rows[0]["d"] / 1000 if rows else None

    def totals(self, buckets: Sequence[float], since: datetime | None = None,
               until: datetime | None = None) -> AttemptTotals:
        finished: dict[str, Any] = {"$gte": since if since is not None else _EVER}
        if until is not None:
            finished["$lt"] = until
        group: dict[str, Any] = {"_id": "$history.outcome", "n": {"$sum": 1}, "sum": {"$sum": _DURATION_MS}}
        for index, bound in enumerate(buckets):
            group[f"le{index}"] = {"$sum": {"$cond": [{"$lte": [_DURATION_MS, bound * 1000]}, 1, 0]}}
        outcomes: dict[JobState, int] = {}
        cumulative, total = [0] * len(buckets), 0.0
        for row in self._jobs.aggregate(_attempts({"history.finished_at": finished}) + [{"$group": group}]):
            state = _outcome(row["_id"])
            if state is None:
                continue
            outcomes[state] = int(row["n"])
            if state in RAN:
                total += row["sum"] / 1000
                cumulative = [count + int(row[f"le{index}"]) for index, count in enumerate(cumulative)]
        return AttemptTotals(outcomes, tuple(zip(buckets, cumulative)),
                             sum(outcomes.get(state, 0) for state in RAN), total)
