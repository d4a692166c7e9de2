"""The store contract for a job's context (SPEC 9.1): every store keeps ``cwd`` and ``env``
as enqueued, through every read and every move."""

from __future__ import annotations

from queuectl.domain.ports import Page

from .test_store_contract import BACKOFF, NOW, claim, new_job, seconds

ENV = {"CI": "1", "EMPTY": "", "QUOTES": "it's \"x\" = y", "UNICODE": "café ✓", "DOLLAR": "$HOME.${x}"}


def test_cwd_and_env_read_back_from_get_list_and_claim(store):
    store.jobs.add(new_job("ctx", cwd="/srv/app dir", env=ENV))
    assert (store.jobs.get("ctx").cwd, store.jobs.get("ctx").env) == ("/srv/app dir", ENV)
    [listed] = store.jobs.list(Page(limit=0))
    assert (listed.cwd, listed.env) == ("/srv/app dir", ENV)
    claimed = claim(store)
    assert (claimed.cwd, claimed.env) == ("/srv/app dir", ENV)


def test_a_job_without_context_reads_back_with_no_cwd_and_an_empty_env(store):
    store.jobs.add(new_job("plain"))
    job = store.jobs.get("plain")
    assert (job.cwd, job.env) == (None, {})
    claimed = claim(store)
    assert (claimed.cwd, claimed.env) == (None, {})


def test_context_survives_add_many_and_every_move(store):
    store.jobs.add_many([new_job("a", cwd="/a", env={"A": "1"}), new_job("b", cwd="/b", env={"B": "2"})])
    job = claim(store)
    token = job.lease_token
    job.fail(NOW, "exit code 1", BACKOFF, exit_code=1)
    assert store.jobs.record_outcome(job, token, "out\n")
    store.jobs.cancel("b", NOW)
    again = claim(store, NOW + seconds(60))
    assert (again.id, again.cwd, again.env) == ("a", "/a", {"A": "1"})
    assert [(j.id, j.cwd, j.env) for j in store.jobs.list(Page(limit=0))] == [("b", "/b", {"B": "2"}),
                                                                             ("a", "/a", {"A": "1"})]
