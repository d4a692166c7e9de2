"""The per-queue limit rules (``domain/limits.py``): validation, and what one claim may take."""

import pytest

from queuectl.domain import defaults
from queuectl.domain.errors import InvalidJob
from queuectl.domain.limits import Budget, relevant, validate_limit, with_limit


@pytest.mark.parametrize("value", [0, 1, defaults.QUEUE_LIMIT_MAX])
def test_a_limit_is_a_whole_number_from_zero_to_the_maximum(value):
    assert validate_limit(value) == value


@pytest.mark.parametrize("value", [-1, defaults.QUEUE_LIMIT_MAX + 1, 1.5, 2.0, float("nan"), "2", None, True])
def test_anything_else_is_refused_with_the_value_quoted(value):
    with pytest.raises(InvalidJob, match="invalid queue limit"):
        validate_limit(value)


def test_setting_a_limit_adds_or_changes_it_and_zero_removes_it():
    limits = with_limit({}, "deploys", 2)
    assert limits == {"deploys": 2}
    assert with_limit(limits, "deploys", 5) == {"deploys": 5}
    assert with_limit(limits, "deploys", 0) == {}
    assert with_limit(limits, "other", 0) == {"deploys": 2}
    assert limits == {"deploys": 2}  # a new value: the old one unchanged


@pytest.mark.parametrize("name", ["", "two words", "a/b", "x" * (defaults.ID_MAX_LENGTH + 1), 7, None])
def test_a_queue_name_follows_the_queue_name_rule(name):
    with pytest.raises(InvalidJob, match="invalid queue name"):
        with_limit({}, name, 1)


def test_the_number_of_limited_queues_is_bounded():
    limits = {f"q{n}": 1 for n in range(defaults.LIMITED_QUEUES_MAX)}
    with pytest.raises(InvalidJob, match=f"at most {defaults.LIMITED_QUEUES_MAX} queues"):
        with_limit(limits, "one-more", 1)
    assert with_limit(limits, "q0", 3)["q0"] == 3  # changing one is fine


def test_a_claim_counts_only_the_limited_queues_its_worker_serves_in_a_fixed_order():
    limits = {"b": 1, "a": 2, "c": 3}
    assert relevant(limits, None) == relevant(limits, []) == ["a", "b", "c"]
    assert relevant(limits, ["c", "x", "a"]) == ["a", "c"]
    assert relevant(limits, ["x"]) == []


def test_a_full_queue_is_skipped_from_the_first_read():
    budget = Budget({"deploys": 2, "builds": 3}, {"deploys": 2, "builds": 1}, wanted=4)
    assert budget.full == ("deploys",)


def test_a_batch_takes_no_more_of_a_queue_than_it_has_free_and_keeps_claim_order():
    budget = Budget({"deploys": 3}, {"deploys": 1}, wanted=8)
    kept = budget.take(["deploys", "mail", "deploys", "deploys", "mail"])
    assert kept == [0, 1, 2, 4]
    assert (budget.wanted, budget.full, budget.again) == (4, ("deploys",), True)


def test_a_batch_stops_at_what_it_wants_and_reads_no_more():
    budget = Budget({"deploys": 5}, {}, wanted=2)
    assert budget.take(["deploys", "mail", "mail"]) == [0, 1]
    assert (budget.wanted, budget.again) == (0, False)


def test_a_read_that_skipped_nothing_means_nothing_more_is_due():
    budget = Budget({"deploys": 5}, {}, wanted=8)
    assert budget.take(["mail", "deploys"]) == [0, 1]
    assert not budget.again


def test_more_running_than_the_limit_after_lowering_it_leaves_no_room():
    budget = Budget({"deploys": 1}, {"deploys": 4}, wanted=3)
    assert budget.free == {"deploys": 0}
    assert budget.take(["deploys"]) == [] and budget.again
