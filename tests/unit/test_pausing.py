"""The paused-queues rule (``domain/pausing.py``): pause, resume, and what a claim may take."""

import pytest

from queuectl.domain import defaults
from queuectl.domain.errors import InvalidJob
from queuectl.domain.pausing import ClaimScope, Paused


def test_nothing_is_paused_at_first_and_a_claim_may_take_any_queue():
    paused = Paused()
    assert not paused.anything and not paused.is_paused("default")
    assert paused.claim_scope(None) == ClaimScope()
    assert paused.claim_scope(["a", "b"]) == ClaimScope(only=("a", "b"))


def test_pausing_a_queue_pauses_that_queue_only():
    paused = Paused().pause(["nightly"])
    assert paused == Paused(queues=frozenset({"nightly"}))
    assert paused.is_paused("nightly") and not paused.is_paused("default")
    assert paused.claim_scope(None) == ClaimScope(skip=("nightly",))
    assert paused.claim_scope(["nightly", "default"]) == ClaimScope(only=("default",))


def test_a_worker_serving_only_paused_queues_has_nothing_to_claim():
    scope = Paused().pause(["a", "b"]).claim_scope(["b", "a"])
    assert scope.nothing and not scope.admits("a") and not scope.admits("c")


def test_pausing_every_queue_pauses_queues_never_named_too():
    paused = Paused().pause(["a"]).pause(None)
    assert paused == Paused(all=True)
    assert paused.is_paused("first-used-later")
    assert paused.claim_scope(None).nothing and paused.claim_scope(["x"]).nothing


def test_resuming_one_queue_while_every_queue_is_paused_lets_only_that_queue_run():
    paused = Paused().pause(None).resume(["urgent"])
    assert paused == Paused(all=True, resumed=frozenset({"urgent"}))
    assert not paused.is_paused("urgent") and paused.is_paused("nightly") and paused.is_paused("new")
    assert paused.claim_scope(None) == ClaimScope(only=("urgent",))
    assert paused.claim_scope(["nightly", "urgent"]) == ClaimScope(only=("urgent",))


def test_pausing_a_queue_resumed_under_a_global_pause_pauses_it_again():
    paused = Paused().pause(None).resume(["urgent", "other"]).pause(["urgent"])
    assert paused == Paused(all=True, resumed=frozenset({"other"}))
    assert paused.is_paused("urgent")


def test_resume_without_queues_resumes_everything_and_forgets_every_name():
    for before in (Paused().pause(["a"]), Paused().pause(None).resume(["b"])):
        assert before.resume(None) == Paused()


def test_resuming_a_queue_that_is_not_paused_changes_nothing():
    assert Paused().resume(["a"]) == Paused()
    assert Paused().pause(["b"]).resume(["a"]) == Paused(queues=frozenset({"b"}))


def test_pause_and_resume_are_idempotent():
    once = Paused().pause(["a"])
    assert once.pause(["a"]) == once
    assert Paused().pause(None).pause(None) == Paused(all=True)


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "x" * 129, "nightly\n", "*"])
def test_queue_names_are_validated_in_full(bad):
    with pytest.raises(InvalidJob, match="invalid queue name"):
        Paused().pause([bad])
    with pytest.raises(InvalidJob, match="invalid queue name"):
        Paused().pause(None).resume([bad])


def test_an_empty_list_of_queues_is_an_error_not_every_queue():
    with pytest.raises(InvalidJob, match="at least one queue"):
        Paused().pause([])


def test_the_names_kept_are_bounded():
    many = [f"q{n}" for n in range(defaults.PAUSED_QUEUES_MAX)]
    full = Paused().pause(many)
    with pytest.raises(InvalidJob, match=f"at most {defaults.PAUSED_QUEUES_MAX} queues"):
        full.pause(["one-more"])
    with pytest.raises(InvalidJob, match="at most"):
        Paused().pause(None).resume([*many, "one-more"])
    assert full.pause(None) == Paused(all=True)  # every queue stays possible


def test_a_paused_value_is_normalised():
    with pytest.raises(ValueError):
        Paused(all=True, queues=frozenset({"a"}))
    with pytest.raises(ValueError):
        Paused(resumed=frozenset({"a"}))


@pytest.mark.parametrize("paused", [Paused(), Paused(queues=frozenset({"a", "b"})), Paused(all=True),
                                    Paused(all=True, resumed=frozenset({"urgent"}))])
def test_a_paused_value_reads_back_from_what_stores_keep(paused):
    assert Paused.from_dict(paused.as_dict()) == paused
    assert Paused.from_dict(None) == Paused.from_dict({}) == Paused()


def test_the_claim_scope_answers_each_question_afresh_though_it_remembers_answers():
    paused = Paused().pause(["a"])
    assert paused.claim_scope(["a", "b"]) == ClaimScope(only=("b",))
    assert paused.claim_scope(["b", "a"]) == ClaimScope(only=("b",))
    assert paused.resume(["a"]).claim_scope(["a", "b"]) == ClaimScope(only=("a", "b"))
    assert paused.claim_scope(None) == ClaimScope(skip=("a",))
