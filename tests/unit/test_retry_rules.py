"""Exit-code retry rules and unique keys in the domain (SPEC 9.3): parsing, normal form, the decision."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import InvalidJob
from queuectl.domain.model import Job, JobState
from queuectl.domain.retry_rules import LOST, Failure, FailureKind, decide, parse_list
from queuectl.domain.specs import spec_from_mapping

from .fakes import T0

BACKOFF = BackoffPolicy(base=2, maximum=3600)


def claimed(**rules) -> Job:
    job = Job.new("deploy", "./deploy.sh", T0, max_retries=3, **rules)
    job.claim("w1", "host", "token", T0, T0 + timedelta(seconds=30))
    return job


# -- parsing ---------------------------------------------------------------------

@pytest.mark.parametrize("given_list, normal", [
    ("2", "2"), ("75,2", "2,75"), ("64-78", "64-78"), ("1, 2,3 ,5", "1-3,5"), ("timeout,lost,0", "0,timeout,lost"),
    ("LOST, Timeout", "timeout,lost"), ("70-80,64-72", "64-80"), ("255,0-0", "0,255"),
    ([2, "64-78", "timeout"], "2,64-78,timeout"),
])
def test_a_list_is_stored_in_its_normal_form(given_list, normal):
    assert parse_list(given_list, "retry-on").text() == normal


@pytest.mark.parametrize("bad", ["", "256", "-1", "2,", "78-64", "1-2-3", "1.5", "tim", "0x10", "2 3",
                                 "1\n", [], [True], [2.0], ["x"], 75, None, {"a": 1}, "1," * 300])
def test_a_bad_list_is_refused_with_the_option_named(bad):
    with pytest.raises(InvalidJob, match="no-retry-on"):
        parse_list(bad, "no-retry-on")


@given(st.sets(st.integers(0, 255), min_size=1), st.sets(st.sampled_from(["timeout", "lost"])))
def test_the_normal_form_names_exactly_the_codes_and_words_given(codes, words):
    parsed = parse_list(",".join([*map(str, codes), *words]), "retry-on")
    assert (parsed.codes, parsed.words) == (codes, words)
    again = parse_list(parsed.text(), "retry-on")
    assert (again.codes, again.words, again.text()) == (codes, words, parsed.text())


def test_giving_both_rules_is_refused():
    with pytest.raises(InvalidJob, match="retry-on or no-retry-on, not both"):
        spec_from_mapping({"command": "true", "retry_on": "1", "no_retry_on": "2"})


# -- the decision ------------------------------------------------------------------

@pytest.mark.parametrize("failure, decided", [
    (Failure.of(2), True), (Failure.of(3), False), (Failure.of(143, timed_out=True), True), (LOST, False),
    (Failure(FailureKind.OTHER), False),
])
def test_no_retry_on_sends_only_matching_failures_to_dead(failure, decided):
    verdict = decide(None, "2,timeout", failure)
    assert (verdict is not None) == decided


@pytest.mark.parametrize("failure, retried", [
    (Failure.of(75), True), (Failure.of(1), False), (Failure.of(124, timed_out=True), False), (LOST, True),
    (Failure(FailureKind.OTHER), False),
])
def test_retry_on_lets_only_matching_failures_retry(failure, retried):
    assert (decide("75,lost", None, failure) is None) == retried


def test_a_timeout_matches_the_word_not_the_exit_code_its_kill_left():
    assert decide(None, "143", Failure.of(143, timed_out=True)) is None
    assert decide(None, "143", Failure.of(143)) is not None


def test_no_rules_leave_every_failure_to_the_retry_policy():
    assert decide(None, None, Failure.of(2)) is None


# -- the model ---------------------------------------------------------------------

def test_a_no_retry_on_exit_code_goes_dead_after_one_attempt_naming_the_rule():
    job = claimed(no_retry_on="2")
    job.fail(T0, "exit code 2", BACKOFF, exit_code=2)
    assert (job.state, job.attempts, job.last_error) == (
        JobState.DEAD, 1, "exit code 2 (no-retry-on: dead without retry)")
    assert job.history[-1].error == job.last_error and job.history[-1].outcome is JobState.DEAD


def test_a_failure_retry_on_does_not_list_goes_dead_at_once_and_a_listed_one_retries():
    job = claimed(retry_on="75")
    job.fail(T0, "exit code 1", BACKOFF, exit_code=1)
    assert (job.state, job.last_error) == (JobState.DEAD, "exit code 1 (retry-on: not listed, dead without retry)")
    job = claimed(retry_on="75")
    job.fail(T0, "exit code 75", BACKOFF, exit_code=75)
    assert (job.state, job.last_error, job.run_at) == (JobState.FAILED, "exit code 75", T0 + timedelta(seconds=2))


def test_a_matching_failure_still_dies_once_the_retries_are_spent():
    job = Job.new("j", "true", T0, max_retries=0, retry_on="75")
    job.claim("w1", "host", "token", T0, T0 + timedelta(seconds=30))
    job.fail(T0, "exit code 75", BACKOFF, exit_code=75)
    assert (job.state, job.last_error) == (JobState.DEAD, "exit code 75")


def test_a_lost_worker_is_the_word_lost():
    job = claimed(no_retry_on="lost")
    job.lose_lease(T0, BACKOFF)
    assert job.state is JobState.DEAD and job.last_error.endswith("(no-retry-on: dead without retry)")
    job = claimed(no_retry_on="1-255")
    job.lose_lease(T0, BACKOFF)
    assert job.state is JobState.FAILED


def test_the_rule_note_survives_a_long_error():
    job = claimed(no_retry_on="2")
    job.fail(T0, "x" * 5000, BACKOFF, exit_code=2)
    assert len(job.last_error) <= 1024 and job.last_error.endswith("(no-retry-on: dead without retry)")


# -- unique keys -------------------------------------------------------------------

def test_a_job_holds_its_key_until_it_is_final():
    job = claimed(unique_key="deploy:prod")
    assert job.held_key == "deploy:prod"
    job.fail(T0, "exit code 1", BACKOFF, exit_code=1)
    assert job.held_key == "deploy:prod"  # failed: waits for its retry
    job.cancel(T0)
    assert job.held_key is None
    job.retry(T0)
    assert job.held_key == "deploy:prod"


@pytest.mark.parametrize("bad", ["", "has space", "k" * 257, "a\n", "é", "a'b", 7])
def test_unique_keys_outside_their_alphabet_are_refused(bad):
    with pytest.raises(InvalidJob, match="invalid unique key"):
        Job.new("j", "true", T0, unique_key=bad)


def test_a_unique_key_may_use_slashes_at_signs_and_256_characters():
    assert Job.new("j", "true", T0, unique_key="deploy/prod@eu-1=v2+x").unique_key == "deploy/prod@eu-1=v2+x"
    assert len(Job.new("j", "true", T0, unique_key="k" * 256).unique_key) == 256
