"""Queues as text and JSON: paused ones (``status``, ``pause``, ``resume``), and ``queue list``."""

from __future__ import annotations

from typing import Any, Sequence

from queuectl.domain.model import JobState
from queuectl.domain.pausing import Paused
from queuectl.domain.queue_service import QueueSummary

# The states ``queue list`` gives a column: what is waiting, running or went wrong (its JSON has every state).
TABLE_STATES = (JobState.PENDING, JobState.BLOCKED, JobState.PROCESSING, JobState.FAILED, JobState.DEAD)


def paused_dict(paused: Paused) -> dict[str, Any]:
    """``{"all": bool, "queues": [...], "resumed": [...]}``: ``queues`` are paused by name;
    with ``all``, every queue is paused except ``resumed``."""
    return paused.as_dict()


def paused_line(paused: Paused) -> str:
    """One line saying what is paused; '' when nothing is."""
    if paused.all:
        return "Paused: every queue" + (f" except {', '.join(sorted(paused.resumed))}" if paused.resumed else "")
    return f"Paused: {', '.join(sorted(paused.queues))}" if paused.queues else ""


def queue_dict(summary: QueueSummary) -> dict[str, Any]:
    """``{"name", "jobs": {state: count for every state}, "limit": int | None, "paused": bool}``."""
    return {"name": summary.name, "jobs": {state.value: summary.jobs.get(state, 0) for state in JobState},
            "limit": summary.limit, "paused": summary.paused}


def queues_table(summaries: Sequence[QueueSummary]) -> str:
    """QUEUE, a column per state in ``TABLE_STATES``, DONE (completed and cancelled), LIMIT, PAUSED."""
    from .render import table

    if not summaries:
        return "No queues yet."
    headers = ["QUEUE", *(state.value.upper() for state in TABLE_STATES), "DONE", "LIMIT", "PAUSED"]
    rows = [[s.name, *(s.jobs.get(state, 0) for state in TABLE_STATES),
             s.jobs.get(JobState.COMPLETED, 0) + s.jobs.get(JobState.CANCELLED, 0),
             "-" if s.limit is None else s.limit, "yes" if s.paused else "no"] for s in summaries]
    return table(headers, rows)
