"""``backoff_jitter``: each retry delay, once capped, is spread by a random factor in [1 - j, 1 + j]."""

import random
from datetime import timedelta

import pytest

from queuectl.domain.backoff import BackoffPolicy
from queuectl.domain.errors import InvalidSetting
from queuectl.domain.model import Job, JobState
from queuectl.domain.settings import Settings, parse_value

from .fakes import T0


class NoRandom(random.Random):
    """A random source that must not be asked."""

    def random(self):
        raise AssertionError("no jitter must not draw a random number")

    def uniform(self, a, b):
        raise AssertionError("no jitter must not draw a random number")


def seconds(delay: timedelta) -> float:
    return delay.total_seconds()


def test_the_factor_stays_within_one_plus_or_minus_the_jitter_and_covers_that_range():
    policy = BackoffPolicy(base=2, maximum=3600, jitter=0.2, rng=random.Random(7))
    delays = [seconds(policy.delay(3)) for _ in range(5000)]  # 8 s before jitter
    assert all(8 * 0.8 <= delay <= 8 * 1.2 for delay in delays)
    assert min(delays) < 8 * 0.82 and max(delays) > 8 * 1.18
    assert min(delays) < 8 < max(delays)


def test_jitter_applies_after_the_cap_so_a_capped_delay_may_exceed_backoff_max_by_the_jitter():
    policy = BackoffPolicy(base=2, maximum=60, jitter=0.5, rng=random.Random(3))
    delays = [seconds(policy.delay(30)) for _ in range(2000)]
    assert all(30 <= delay <= 90 for delay in delays)
    assert max(delays) > 85 and min(delays) < 35


def test_a_full_jitter_of_one_may_bring_a_retry_forward_to_now_but_never_before():
    policy = BackoffPolicy(base=2, maximum=3600, jitter=1.0, rng=random.Random(11))
    delays = [seconds(policy.delay(1)) for _ in range(2000)]
    assert all(0 <= delay <= 4 for delay in delays) and min(delays) < 0.05


def test_no_jitter_gives_exactly_the_exponential_delay_without_drawing_a_random_number():
    policy = BackoffPolicy(base=2, maximum=60, jitter=0.0, rng=NoRandom())
    assert [policy.delay(n) for n in (1, 3, 10)] == [timedelta(seconds=2), timedelta(seconds=8),
                                                      timedelta(seconds=60)]
    assert BackoffPolicy.from_settings(Settings(), NoRandom()).delay(2) == timedelta(seconds=4)


def failed_at_the_same_instant(count: int, policy: BackoffPolicy) -> list[Job]:
    jobs = []
    for n in range(count):
        job = Job.new(f"job{n}", "false", T0, max_retries=3)
        job.claim("w1", "host", f"token{n}", T0, T0 + timedelta(seconds=30))
        job.fail(T0 + timedelta(seconds=1), "exit code 1", policy, exit_code=1)
        jobs.append(job)
    return jobs


def test_jobs_failing_together_come_back_spread_out():
    policy = BackoffPolicy.from_settings(Settings(backoff_jitter=0.2), random.Random(42))
    jobs = failed_at_the_same_instant(100, policy)
    due = {job.run_at for job in jobs}
    assert all(job.state is JobState.FAILED for job in jobs)
    assert len(due) >= 95
    failed_at = T0 + timedelta(seconds=1)
    assert all(failed_at + timedelta(seconds=1.6) <= run_at <= failed_at + timedelta(seconds=2.4) for run_at in due)


def test_without_jitter_jobs_failing_together_all_come_back_at_the_same_instant():
    jobs = failed_at_the_same_instant(100, BackoffPolicy.from_settings(Settings(), NoRandom()))
    assert {job.run_at for job in jobs} == {T0 + timedelta(seconds=3)}


def test_a_lost_worker_s_job_is_retried_with_the_jittered_delay_too():
    policy = BackoffPolicy(base=2, maximum=3600, jitter=0.5, rng=random.Random(5))
    due = set()
    for n in range(20):
        job = Job.new(f"job{n}", "sleep 9", T0)
        job.claim("w1", "host", "token", T0, T0 + timedelta(seconds=30))
        job.lose_lease(T0 + timedelta(seconds=30), policy)
        due.add(job.run_at - (T0 + timedelta(seconds=30)))
    assert len(due) == 20 and all(timedelta(seconds=1) <= delay <= timedelta(seconds=3) for delay in due)


@pytest.mark.parametrize("raw, value", [("0", 0.0), ("0.2", 0.2), ("1", 1.0), (".5", 0.5), (" 0.25 ", 0.25),
                                        (0.2, 0.2), (1, 1.0)])
def test_backoff_jitter_takes_a_number_from_0_to_1(raw, value):
    assert parse_value("backoff_jitter", raw) == value


@pytest.mark.parametrize("raw", ["-0.1", "1.5", "nan", "inf", "-inf", "abc", "", "2e-1", "0x1", "1_0", "٠.٢",
                                 "0.2.", "0.2 0.3", True, float("nan"), float("inf"), -0.1, 1.0000001])
def test_backoff_jitter_outside_0_to_1_or_not_a_plain_number_is_refused(raw):
    with pytest.raises(InvalidSetting, match="for backoff_jitter: expected a number from 0 to 1"):
        parse_value("backoff_jitter", raw)


def test_a_stored_jitter_out_of_range_falls_back_to_none():
    assert Settings.from_stored({"backoff_jitter": 7}).backoff_jitter == 0.0
    assert Settings.from_stored({"backoff_jitter": 0.3}).backoff_jitter == 0.3
