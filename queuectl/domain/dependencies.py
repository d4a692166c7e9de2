"""Dependencies (``enqueue --after``, SPEC 9.3): when a blocked job may run, or never will.

Pure decisions; every store applies them in the same transaction (SQLite, memory)
or fenced write (MongoDB) as the outcome that triggers them:

- at enqueue, a job naming dependencies starts ``blocked``, and ``admit`` settles it at
  once against its dependencies' states (an unknown one is an error, nothing stored);
- whenever a job reaches a final state, each ``blocked`` job waiting for it is settled
  again (``settle``): ``pending`` once every dependency is ``completed``, ``cancelled``
  with ``dependency '<id>' ended <state>`` as soon as one ended ``dead`` or
  ``cancelled``; a cancelled dependent is final in turn, so its own dependents follow.

A dependency that no longer exists (removed or pruned once final) counts as done: a
dead or cancelled one had already cancelled its dependents when it ended.
"""

from __future__ import annotations

from datetime import datetime
from typing import Collection, Mapping

from .errors import UnknownDependency
from .model import FINAL, Job, JobState

ENDED_BADLY = frozenset(FINAL - {JobState.COMPLETED})


def settle(job: Job, states: Mapping[str, JobState], now: datetime) -> bool:
    """Move a blocked ``job`` as its dependencies' ``states`` decide (a missing id counts as
    completed); whether it moved. The first dependency (in ``after`` order) that ended badly decides."""
    if job.state is not JobState.BLOCKED:
        return False
    waiting = False
    for dependency in job.after:
        state = states.get(dependency, JobState.COMPLETED)
        if state in ENDED_BADLY:
            job.cascade(now, dependency, state)
            return True
        waiting = waiting or state is not JobState.COMPLETED
    if waiting:
        return False
    job.unblock(now)
    return True


def admit(job: Job, states: Mapping[str, JobState], now: datetime) -> None:
    """A new job's dependencies checked against the store (``states`` of those that exist): an
    unknown id is ``UnknownDependency``; then the job is settled (it may start pending or cancelled)."""
    require_known(job, states)
    settle(job, states, now)


def require_known(job: Job, known: Collection[str]) -> None:
    """``UnknownDependency`` for the first of ``job``'s dependencies not in ``known``."""
    for dependency in job.after:
        if dependency not in known:
            raise UnknownDependency(dependency)
