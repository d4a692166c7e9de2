"""The stores agree: one random sequence of port calls, applied to every store.

Hypothesis drives enqueues (some with dependencies), claims, lease renewals, outcomes (succeed, fail,
release; fresh or stale; with a short kept history), refused outcomes and
claims buried dead, batched settles, cancels, removals and prunes, lease
recovery on an advancing fake clock and DLQ retries through ``JobRepository``, on memory,
SQLite (a real file) and, when ``QUEUECTL_TEST_MONGO_URI`` is set, MongoDB.
After every step each store must have answered the same, and ``get`` and
``logs`` of every job, the counts and the listing must read the same: times
compared to the millisecond, lease tokens (random per store) by presence.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from queuectl.container import build_container
from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import InvalidTransition, QueuectlError
from queuectl.domain.model import FINAL, WAITING, Job, JobState
from queuectl.domain.ports import Outcome, Page, Store, WorkerRef

from .processes import MONGO_ENV, MONGO_SKIP_REASON, POSTGRES_ENV, POSTGRES_SKIP_REASON, drop_store, store_url_for_test

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
IDS = ("a", "b", "c", "d")
QUEUES = ("default", "other")
# The fault profile's size, kept to about half a minute in CI; QUEUECTL_FAULT_SCALE=10 for a long hunt.
FAULT_SCALE = float(os.environ.get("QUEUECTL_FAULT_SCALE", "1"))
WORKERS = (WorkerRef("worker-1", "host-a"), WorkerRef("worker-2", "host-b"))
BACKOFF = BackoffPolicy(base=2, maximum=60)

# Whole milliseconds only: MongoDB keeps milliseconds, so every store can hold every time exactly.
millis = st.integers(min_value=0, max_value=90_000).map(lambda ms: timedelta(milliseconds=ms))
leases = st.integers(min_value=1, max_value=60_000).map(lambda ms: timedelta(milliseconds=ms))
job_specs = st.fixed_dictionaries({
    "job_id": st.sampled_from(IDS), "queue": st.sampled_from(QUEUES), "priority": st.integers(-1, 1),
    "max_retries": st.integers(0, 1), "delay": st.sampled_from([0, 0, 0, 1_500, 30_000]),
    "after": st.sampled_from([(), (), (), ("a",), ("b", "c")])})  # dependencies (SPEC 9.3)
queue_filters = st.none() | st.lists(st.sampled_from(QUEUES), min_size=1, max_size=2, unique=True)
finishes = st.sampled_from(["succeed", "fail", "release"])
picks = st.integers(min_value=0, max_value=7)  # which held claim, modulo how many there are


CASCADE = re.compile(r"dependency '(.+)' ended (dead|cancelled)")


def cascade_checked(store: Store, job: Job) -> Job:
    """``job``, its cascade reason left out of the comparison once it names one of the job's own dependencies.

    When several of a job's dependencies end badly in one release (one cancelled by the cascade
    itself), which of them the reason names depends on the order a store walks the chain in
    (documented); the named one may have been retried since, so only its being a dependency is checked."""
    found = CASCADE.fullmatch(job.last_error or "") if job.state is JobState.CANCELLED else None
    if found is None:
        return job
    assert found.group(1) in job.after, f"{job.id} names {found.group(0)!r}, not one of its dependencies"
    return dataclasses.replace(job, last_error="dependency ended badly")


def view(value: Any) -> Any:
    """What a store must agree on: times to the millisecond (and whether they carry a zone),
    lease tokens by presence, enums by value, dataclasses field by field."""
    if isinstance(value, datetime):
        aware = value.tzinfo is not None
        moment = value if aware else value.replace(tzinfo=timezone.utc)
        return (round(moment.timestamp() * 1000), aware)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return {f.name: (getattr(value, f.name) is not None if f.name == "lease_token" else
                         view(getattr(value, f.name))) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {view(key): view(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [view(item) for item in value]
    return value


def _call(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except QueuectlError as error:  # the refusal is part of the answer
        return ("raised", type(error).__name__, str(error))


class StoresAgree(RuleBasedStateMachine):
    """The same operations on every store of ``kinds``; each held claim keeps every store's job and token."""

    kinds: tuple[str, ...] = ("memory", "sqlite")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="queuectl-differential-"))
        self.urls = {kind: self._url(kind) for kind in self.kinds}
        self.stores: dict[str, Store] = {}
        for kind, url in self.urls.items():
            self.stores[kind] = build_container(url, str(self.folder / "home")).store()
        self.now = T0
        self.held: list[dict[str, tuple[Job, str]]] = []
        # Burying a refused outcome drops the job's stored outputs on MongoDB, to make room (docs/poison-jobs.md):
        # per job, how many of its oldest attempts may differ in output only.
        self.buried: dict[str, int] = {}

    def _url(self, kind: str) -> str:
        if kind == "memory":
            return "memory://"
        return store_url_for_test(kind, self.folder / "home")  # a server's: its own, dropped in ``teardown``

    def teardown(self) -> None:
        for store in self.stores.values():
            store.close()
        for url in self.urls.values():
            drop_store(url)
        shutil.rmtree(self.folder, ignore_errors=True)

    def each(self, what: str, call: Callable[[str, Store], Any]) -> dict[str, Any]:
        """``call`` on every store; fail unless every store answered the same."""
        answers = {kind: _call(lambda: call(kind, store)) for kind, store in self.stores.items()}
        views = {kind: view(answer) for kind, answer in answers.items()}
        first = next(iter(views.values()))
        assert all(seen == first for seen in views.values()), f"stores disagree on {what}: {views}"
        return answers

    def take(self, pick: int) -> dict[str, tuple[Job, str]]:
        return self.held.pop(pick % len(self.held))

    # -- time and enqueues -----------------------------------------------------
    @initialize(specs=st.lists(job_specs, min_size=1, max_size=3))
    def start_with_jobs(self, specs: list[dict[str, Any]]) -> None:
        self.add_many(specs)

    @rule(elapsed=millis)
    def time_passes(self, elapsed: timedelta) -> None:
        self.now += elapsed

    def new_job(self, spec: dict[str, Any]) -> Job:
        return Job.new(spec["job_id"], f"echo {spec['job_id']}", self.now, queue=spec["queue"],
                       priority=spec["priority"], max_retries=spec["max_retries"],
                       run_at=self.now + timedelta(milliseconds=spec["delay"]),
                       after=[name for name in spec["after"] if name != spec["job_id"]])

    @rule(spec=job_specs)
    def add(self, spec: dict[str, Any]) -> None:
        self.each("add", lambda kind, store: store.jobs.add(self.new_job(spec)))

    @rule(specs=st.lists(job_specs, max_size=3))
    def add_many(self, specs: list[dict[str, Any]]) -> None:
        self.each("add_many", lambda kind, store: store.jobs.add_many([self.new_job(s) for s in specs]))

    # -- a worker's cycle ------------------------------------------------------
    @rule(worker=st.sampled_from(WORKERS), lease=leases, queues=queue_filters)
    def claim_next(self, worker: WorkerRef, lease: timedelta, queues: list[str] | None) -> None:
        answers = self.each("claim_next", lambda kind, store: store.jobs.claim_next(
            worker, self.now, self.now + lease, queues))
        if all(isinstance(job, Job) for job in answers.values()):
            self.held.append({kind: (job, job.lease_token) for kind, job in answers.items()})
            for kind, job in answers.items():
                self.holds_what_it_returned(kind, job)

    def holds_what_it_returned(self, kind: str, claimed: Job) -> None:
        """The claim's answer is the model's ``Job.claim``; the store must hold exactly that
        (MongoDB's claim is a pipeline of its own), lease token included."""
        stored = self.stores[kind].jobs.get(claimed.id)
        assert stored.lease_token == claimed.lease_token
        stored.history = stored.history[-1:]
        assert view(stored) == view(claimed), f"{kind} holds another job than its claim returned"

    @precondition(lambda self: self.held)
    @rule(pick=picks, lease=leases, forged=st.booleans())
    def renew_lease(self, pick: int, lease: timedelta, forged: bool) -> None:
        claim = self.held[pick % len(self.held)]
        self.each("renew_lease", lambda kind, store: store.jobs.renew_lease(
            claim[kind][0].id, "forged-token" if forged else claim[kind][1], self.now + lease))

    def finished(self, job: Job, how: str, exit_code: int) -> Job:
        """The worker's copy after its command ended ``how``: the model's move."""
        job = copy.deepcopy(job)
        if how == "succeed":
            job.succeed(self.now, exit_code)
        elif how == "fail":
            job.fail(self.now, f"exit code {exit_code}", BACKOFF, exit_code)
        else:
            job.release(self.now)
        return job

    @precondition(lambda self: self.held)
    @rule(pick=picks, how=finishes, exit_code=st.integers(0, 3), output=st.none() | st.text(max_size=5),
          history_max=st.integers(1, 3))
    def record_outcome(self, pick: int, how: str, exit_code: int, output: str | None, history_max: int) -> None:
        claim = self.take(pick)
        self.each("record_outcome", lambda kind, store: store.jobs.record_outcome(
            self.finished(claim[kind][0], how, exit_code), claim[kind][1], output, history_max))

    @precondition(lambda self: self.held)
    @rule(pick=picks, how=finishes)
    def bury_a_refused_outcome(self, pick: int, how: str) -> None:
        """The store refused the worker's outcome for good: the worker closes its copy dead."""
        claim = self.take(pick)

        def bury(kind: str, store: Store) -> bool:
            job = self.finished(claim[kind][0], how, 1)
            job.refuse(self.now, "too big", ran=True)
            return store.jobs.bury(job, claim[kind][1])

        answers = self.each("bury (an outcome)", bury)
        job_id = claim["memory"][0].id
        if answers["memory"] is True:
            self.buried[job_id] = len(self.stores["memory"].jobs.logs(job_id))

    @rule(job_id=st.sampled_from(IDS))
    def bury_a_refused_claim(self, job_id: str) -> None:
        def bury(kind: str, store: Store) -> bool | None:
            job = store.jobs.get(job_id)
            if job.state not in WAITING:
                return None
            job.refuse(self.now, "too big", ran=False)
            return store.jobs.bury(job, None)

        if self.each("bury (a claim)", bury)["memory"] is True:
            self.buried[job_id] = len(self.stores["memory"].jobs.logs(job_id))

    @rule(picks_=st.lists(picks, max_size=2), how=finishes, worker=st.sampled_from(WORKERS), lease=leases)
    def settle_and_claim(self, picks_: list[int], how: str, worker: WorkerRef, lease: timedelta) -> None:
        claims = [self.take(pick) for pick in picks_ if self.held]

        def settle(kind: str, store: Store) -> Any:
            outcomes = [Outcome(self.finished(c[kind][0], how, 1), c[kind][1], "out") for c in claims]
            return store.jobs.settle_and_claim(outcomes, worker, self.now, self.now + lease, None, 1)

        answers = self.each("settle_and_claim", settle)
        if all(not isinstance(answer[0], str) and answer[1] for answer in answers.values()):
            self.held.append({kind: (answer[1][0], answer[1][0].lease_token) for kind, answer in answers.items()})
            for kind, answer in answers.items():
                self.holds_what_it_returned(kind, answer[1][0])

    @rule()
    def recover_expired_leases(self) -> None:
        """What a worker's recovery does: every expired lease lost, each recorded under its token."""
        def recover(kind: str, store: Store) -> dict[str, bool]:
            recorded = {}
            for job in store.jobs.expired_leases(self.now):
                token = job.lease_token
                job.lose_lease(self.now, BACKOFF)
                recorded[job.id] = store.jobs.record_outcome(job, token)
            return dict(sorted(recorded.items()))  # equal lease ends may come in any order

        self.each("recovering expired leases", recover)

    # -- the operator's moves --------------------------------------------------
    @rule(job_id=st.sampled_from(IDS))
    def cancel(self, job_id: str) -> None:
        self.each("cancel", lambda kind, store: store.jobs.cancel(job_id, self.now))

    @rule(job_id=st.sampled_from(IDS))
    def retry(self, job_id: str) -> None:
        self.each("retry", lambda kind, store: store.jobs.retry(job_id, self.now))

    @rule(job_ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=2))
    def remove(self, job_ids: list[str]) -> None:
        self.each("remove", lambda kind, store: store.jobs.remove(job_ids))

    @rule(states=st.sets(st.sampled_from(sorted(FINAL)), min_size=1), age=millis, limit=st.integers(1, 3))
    def prune(self, states: set[JobState], age: timedelta, limit: int) -> None:
        self.each("prune", lambda kind, store: store.jobs.prune(states, self.now - age, limit))

    @rule(states=st.sets(st.sampled_from(sorted(JobState)), max_size=3), queue=st.none() | st.sampled_from(QUEUES))
    def retry_all(self, states: set[JobState], queue: str | None) -> None:
        self.each("retry_all", lambda kind, store: store.jobs.retry_all(self.now, states or {JobState.DEAD}, queue))

    @rule(states=st.sets(st.sampled_from(sorted(JobState)), min_size=1, max_size=3),
          queue=st.none() | st.sampled_from(QUEUES))
    def cancel_all(self, states: set[JobState], queue: str | None) -> None:
        self.each("cancel_all", lambda kind, store: store.jobs.cancel_all(self.now, states, queue))

    @rule(job_id=st.sampled_from(IDS), priority=st.integers(-1, 1), queue=st.sampled_from(QUEUES), delay=millis)
    def update(self, job_id: str, priority: int, queue: str, delay: timedelta) -> None:
        changes = {"priority": priority, "queue": queue, "run_at": self.now + delay}
        self.each("update", lambda kind, store: store.jobs.update(job_id, self.now, changes))

    # -- after every step ------------------------------------------------------
    @invariant()
    def every_job_reads_the_same_everywhere(self) -> None:
        # what every worker's upkeep does: finishes a release MongoDB left marked (elsewhere nothing)
        self.each("release_dependents", lambda kind, store: store.jobs.release_dependents(self.now) * 0)
        for job_id in IDS:
            self.each(f"get({job_id!r})", lambda kind, store: cascade_checked(store, store.jobs.get(job_id)))
            self.each(f"logs({job_id!r})", lambda kind, store: self._logs(store, job_id))
        self.each("count_by_state", lambda kind, store: store.jobs.count_by_state())
        self.each("list", lambda kind, store: [cascade_checked(store, job) for job in store.jobs.list(Page(limit=0))])

    def _logs(self, store: Store, job_id: str) -> list:
        entries = store.jobs.logs(job_id)  # newest first
        cut = self.buried.get(job_id, 0)
        return [dataclasses.replace(entry, output="") if len(entries) - index <= cut else entry
                for index, entry in enumerate(entries)]


def _settings(examples: int, steps: int) -> settings:
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def test_memory_and_sqlite_answer_every_sequence_of_operations_alike():
    run_state_machine_as_test(StoresAgree, settings=_settings(40, 40))


@pytest.mark.skipif(not os.environ.get(MONGO_ENV), reason=MONGO_SKIP_REASON)
def test_mongodb_answers_every_sequence_of_operations_like_memory_and_sqlite():
    class WithMongo(StoresAgree):
        kinds = ("memory", "sqlite", "mongodb")

    run_state_machine_as_test(WithMongo, settings=_settings(25, 20))


@pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=POSTGRES_SKIP_REASON)
def test_postgresql_answers_every_sequence_of_operations_like_memory_and_sqlite():
    class WithPostgres(StoresAgree):
        kinds = ("memory", "sqlite", "postgres")

    run_state_machine_as_test(WithPostgres, settings=_settings(25, 20))


@pytest.mark.fault
@pytest.mark.long
def test_memory_and_sqlite_agree_over_long_random_runs():
    run_state_machine_as_test(StoresAgree, settings=_settings(int(150 * FAULT_SCALE), 40))


def test_the_differential_test_catches_a_move_only_one_store_persists(monkeypatch):
    """Were ``Job.renew`` to change a field, only the memory store (which runs the model there)
    would keep it: SQLite and MongoDB renew in one statement."""
    original = Job.renew

    def renew_and_touch(job: Job, until: datetime) -> None:
        original(job, until)
        job.updated_at = until

    monkeypatch.setattr(Job, "renew", renew_and_touch)
    find_only = settings(_settings(500, 40), derandomize=True, database=None, print_blob=False,
                         phases=[Phase.generate])
    with pytest.raises(AssertionError, match="stores disagree"):
        run_state_machine_as_test(StoresAgree, settings=find_only)


def test_a_recorded_outcome_keeps_only_the_fields_a_move_may_change(store):
    store.jobs.add(Job.new("job-1", "echo original", T0, priority=2))
    job = store.jobs.claim_next(WORKERS[0], T0, T0 + timedelta(seconds=30))
    token = job.lease_token
    job.succeed(T0 + timedelta(seconds=1))
    job.command, job.priority, job.queue = "echo tampered", -2, "other"
    assert store.jobs.record_outcome(job, token)
    stored = store.jobs.get("job-1")
    assert (stored.state.value, stored.command, stored.priority, stored.queue) == (
        "completed", "echo original", 2, "default")


def test_removing_a_waiting_job_and_an_unknown_one_reports_the_first_that_cannot_go(store):
    """Found by the differential test: the memory store named the unknown id, the others the waiting job."""
    store.jobs.add(Job.new("waiting", "echo w", T0))
    with pytest.raises(InvalidTransition, match="'waiting' is pending"):
        store.jobs.remove(["waiting", "unknown"])
    assert store.jobs.get("waiting").state is JobState.PENDING


def test_prune_returns_the_pruned_jobs_oldest_enqueued_first(store):
    """Found by the differential test: SQLite returned them in id order."""
    for job_id in ("b", "a"):
        store.jobs.add(Job.new(job_id, "echo", T0))
        store.jobs.cancel(job_id, T0)
    pruned = store.jobs.prune({JobState.CANCELLED}, T0 + timedelta(seconds=1), 10)
    assert [job.id for job in pruned] == ["b", "a"]
