"""A Hypothesis state machine over the job's moves.

Every move is tried from every state: it must be refused (``InvalidTransition``,
nothing changed) exactly when ``Job.MOVES_FROM`` forbids it, and after each
step the job keeps its invariants:

- a lease token (and a lease end) exactly while processing with an open attempt;
- ``attempts`` never exceeds ``max_retries + 1``, and counts the attempts since
  the last DLQ retry that were not released;
- a final state is left only by ``retry``, or for dead when the
  store refused what the worker recorded (``refuse``, which follows the worker's
  unrecorded move and may re-close the attempt it ran);
- a move changes only ``Job.MUTABLE_FIELDS`` and the history, which only grows by
  a claim and otherwise only closes its last, open entry; only ``update`` changes
  a job's settings (``UPDATABLE``, besides ``run_at``, which failures and retries set).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import InvalidTransition
from queuectl.domain.model import FINAL, MOVES_FROM, UPDATABLE, WAITING, Job, JobState

from .fakes import T0

EVERYDAY = settings(max_examples=200, stateful_step_count=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
# The fault profile's size, kept to about half a minute in CI; QUEUECTL_FAULT_SCALE=10 for a long hunt.
HEAVY = settings(EVERYDAY, max_examples=int(600 * float(os.environ.get("QUEUECTL_FAULT_SCALE", "1"))),
                 stateful_step_count=40)
# The self-checks want the first failure, not a shrunk one, and the same search
# every run (a fixed seed), so that they cannot pass or fail by luck.
FIND_ONLY = settings(EVERYDAY, max_examples=1000, derandomize=True, database=None, print_blob=False,
                     phases=[Phase.generate])
FIXED_FIELDS = tuple(f.name for f in dataclasses.fields(Job)
                     if f.name not in Job.MUTABLE_FIELDS and f.name != "history")
SETTINGS = tuple(name for name in UPDATABLE if name != "run_at")  # only ``update`` changes these

millis = st.integers(min_value=0, max_value=120_000).map(lambda ms: timedelta(milliseconds=ms))
backoffs = st.builds(BackoffPolicy, base=st.sampled_from([1, 2, 3.5]), maximum=st.sampled_from([0, 5, 3600]))
errors = st.sampled_from(["exit 1", "timed out", ""])
exit_codes = st.none() | st.integers(min_value=-9, max_value=255)


class JobMoves(RuleBasedStateMachine):
    """One job and a clock that only moves forward; the rules are the model's moves."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.claims = 0
        self.retried_at = 0  # history length at the last retry
        self.worker_moved = False  # the last move was a worker's outcome: what ``refuse`` may follow
        self.refused = False  # since the last retry
        self.budget_cut = False  # an update left max_retries below the attempts made, since the last retry

    @initialize(max_retries=st.integers(min_value=0, max_value=4), priority=st.integers(-5, 5),
                blocked=st.booleans(),
                workflow=st.sampled_from([{}, {"unique_key": "k", "retry_on": "1,timeout"},
                                          {"unique_key": "k", "no_retry_on": "0-2,lost"}]))
    def enqueue(self, max_retries: int, priority: int, blocked: bool, workflow: dict) -> None:
        self.job = Job.new("job-1", "echo hi", T0, max_retries=max_retries, priority=priority,
                           after=["dep-1"] if blocked else [], **workflow)
        assert self.job.state is (JobState.BLOCKED if blocked else JobState.PENDING)

    # -- the moves, each tried whatever the state ----------------------------------
    @rule(elapsed=millis)
    def time_passes(self, elapsed: timedelta) -> None:
        self.now += elapsed

    @rule(lease=millis)
    def claim(self, lease: timedelta) -> None:
        self.claims += 1
        token = f"token-{self.claims}"
        self.move("claim", lambda job: job.claim("w1", "host-a", token, self.now, self.now + lease))

    @rule(lease=millis)
    def renew(self, lease: timedelta) -> None:
        self.move("renew", lambda job: job.renew(self.now + lease))

    @rule(exit_code=st.integers(min_value=0, max_value=255))
    def succeed(self, exit_code: int) -> None:
        self.move("succeed", lambda job: job.succeed(self.now, exit_code))

    @rule(error=errors, backoff=backoffs, exit_code=exit_codes)
    def fail(self, error: str, backoff: BackoffPolicy, exit_code: int | None) -> None:
        self.move("fail", lambda job: job.fail(self.now, error, backoff, exit_code))

    @rule(backoff=backoffs)
    def lose_lease(self, backoff: BackoffPolicy) -> None:
        self.move("lose_lease", lambda job: job.lose_lease(self.now, backoff))

    @rule()
    def release(self) -> None:
        self.move("release", lambda job: job.release(self.now))

    @rule()
    def cancel(self) -> None:
        self.move("cancel", lambda job: job.cancel(self.now))

    @rule()
    def unblock(self) -> None:
        """Its last dependency completed."""
        self.move("unblock", lambda job: job.unblock(self.now))

    @rule(ended=st.sampled_from([JobState.DEAD, JobState.CANCELLED]))
    def cascade(self, ended: JobState) -> None:
        """A dependency ended badly: cancelled, with the reason."""
        if self.move("cascade", lambda job: job.cascade(self.now, "dep-1", ended)):
            assert (self.job.state, self.job.last_error) == (JobState.CANCELLED, f"dependency 'dep-1' ended {ended}")

    @rule(reason=errors)
    def refuse(self, reason: str) -> None:
        """The store refused the job's outcome for good (``ran``: the worker's copy, which may have
        moved on unrecorded) or, for a waiting job, its claim: the job ends dead."""
        ran = self.worker_moved or self.job.state is JobState.PROCESSING
        self.refused |= self.move("refuse", lambda job: job.refuse(self.now, reason, ran=ran))

    @rule()
    def check_removable(self) -> None:
        self.move("remove", lambda job: job.check_removable())

    @rule(only_dead=st.booleans())
    def retry(self, only_dead: bool) -> None:
        if only_dead and self.job.state is not JobState.DEAD:  # ``dlq retry``: refused, nothing changed
            before = copy.deepcopy(self.job)
            with pytest.raises(InvalidTransition):
                self.job.retry(self.now, only_dead=True)
            assert dataclasses.asdict(self.job) == dataclasses.asdict(before)
        elif self.move("retry", lambda job: job.retry(self.now, only_dead)):
            self.retried_at, self.refused, self.budget_cut = len(self.job.history), False, False

    @rule(priority=st.integers(-5, 5), max_retries=st.integers(0, 4), queue=st.sampled_from(["default", "q2"]),
          delay=millis)
    def update(self, priority: int, max_retries: int, queue: str, delay: timedelta) -> None:
        changes = {"priority": priority, "max_retries": max_retries, "queue": queue, "run_at": self.now + delay}
        if self.move("update", lambda job: job.update(self.now, changes)):
            # a budget cut below the attempts made: one more claim may go past it, its failure ends dead
            self.budget_cut |= self.job.attempts > self.job.max_retries

    def move(self, name: str, apply) -> bool:
        """Apply one move; check it was refused exactly when the declaration forbids it."""
        before = copy.deepcopy(self.job)
        try:
            apply(self.job)
        except InvalidTransition:
            refused = True
        else:
            refused = False
        assert refused == (before.state not in MOVES_FROM[name]), f"{name} from {before.state}: refused={refused}"
        if refused:
            assert dataclasses.asdict(self.job) == dataclasses.asdict(before), f"refused {name} changed the job"
        else:
            self.check_step(name, before)
            self.worker_moved = name in ("succeed", "fail", "lose_lease", "release")
        return not refused

    def check_step(self, name: str, before: Job) -> None:
        after = self.job
        changed = [field for field in FIXED_FIELDS if getattr(after, field) != getattr(before, field)]
        assert changed == [], f"{name} changed undeclared fields {changed}"
        settings = [field for field in SETTINGS if getattr(after, field) != getattr(before, field)]
        assert name == "update" or settings == [], f"{name} changed the settings {settings}"
        if before.state in FINAL and after.state is not before.state:
            # a final job moves only by a retry, or dead when the store refused what the worker recorded
            assert name in ("retry", "refuse"), \
                f"{name} moved a {before.state} job"
        old, new = before.history, after.history
        grew = 1 if name == "claim" else 0
        assert len(new) == len(old) + grew, f"{name} changed the history's length"
        closed = len(old) - 1  # the only entry a move other than claim may rewrite: the open one
        for index, entry in enumerate(old):
            if entry != new[index]:
                assert index == closed, f"{name} rewrote attempt {index}"
                assert entry.finished_at is None or name == "refuse", f"{name} rewrote a closed attempt"
                assert new[index].outcome is after.state
        assert after.updated_at >= before.updated_at

    # -- invariants after every step -----------------------------------------
    @invariant()
    def a_lease_exactly_while_processing_with_an_open_attempt(self) -> None:
        job = self.job
        running = (job.state is JobState.PROCESSING and bool(job.history)
                   and job.history[-1].finished_at is None)
        assert (job.lease_token is not None) == running
        assert (job.lease_until is not None) == running
        assert all(entry.finished_at is not None for entry in job.history[:-1])

    @invariant()
    def attempts_stay_within_the_retry_budget(self) -> None:
        job = self.job
        assert 0 <= job.attempts and (self.budget_cut or job.attempts <= job.max_retries + 1)
        since_retry = job.history[self.retried_at:]
        # a refused release closes dead an attempt that no longer counts: exact again after a DLQ retry
        assert self.refused or job.attempts == sum(1 for entry in since_retry if entry.outcome is not JobState.PENDING)

    @invariant()
    def a_blocked_job_never_ran(self) -> None:
        """Blocked only from its enqueue until its dependencies settle it: no attempt, no lease."""
        if self.job.state is JobState.BLOCKED:
            assert not self.job.history and self.job.attempts == 0 and self.job.lease_token is None
            assert self.job.held_key == self.job.unique_key  # a blocked job holds its unique key

    @invariant()
    def the_key_is_held_exactly_while_not_final_and_a_rule_only_ever_kills(self) -> None:
        job = self.job
        assert job.held_key == (None if job.state in FINAL else job.unique_key)
        ruled = [entry for entry in job.history if (entry.error or "").endswith("dead without retry)")]
        assert all(entry.outcome is JobState.DEAD for entry in ruled)

    @invariant()
    def a_final_job_has_no_open_attempt(self) -> None:
        job = self.job
        if job.state in FINAL:
            assert job.finished_at is not None and job.lease_token is None
            assert not job.history or job.history[-1].finished_at is not None


TestJobMoves = JobMoves.TestCase
TestJobMoves.settings = EVERYDAY


@pytest.mark.fault
@pytest.mark.long
def test_the_job_moves_keep_their_invariants_over_long_random_runs():
    run_state_machine_as_test(JobMoves, settings=HEAVY)


def test_the_state_machine_catches_a_move_that_changes_an_undeclared_field(monkeypatch):
    original = Job.succeed

    def succeed_and_rewrite(job: Job, now, exit_code: int = 0) -> None:
        original(job, now, exit_code)
        job.command += " again"

    monkeypatch.setattr(Job, "succeed", succeed_and_rewrite)
    with pytest.raises(AssertionError, match="undeclared fields"):
        run_state_machine_as_test(JobMoves, settings=FIND_ONLY)


def test_the_state_machine_catches_a_move_other_than_update_that_changes_a_setting(monkeypatch):
    original = Job.succeed

    def succeed_and_reprioritise(job: Job, now, exit_code: int = 0) -> None:
        original(job, now, exit_code)
        job.priority += 1

    monkeypatch.setattr(Job, "succeed", succeed_and_reprioritise)
    with pytest.raises(AssertionError, match="changed the settings"):
        run_state_machine_as_test(JobMoves, settings=FIND_ONLY)


def test_the_state_machine_catches_a_move_allowed_from_a_state_the_declaration_forbids(monkeypatch):
    monkeypatch.setattr("queuectl.domain.model.MOVES_FROM",
                        {**MOVES_FROM, "renew": MOVES_FROM["renew"] | {JobState.PENDING}})
    with pytest.raises(AssertionError):
        run_state_machine_as_test(JobMoves, settings=FIND_ONLY)
