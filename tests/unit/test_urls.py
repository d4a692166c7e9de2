"""Store URLs are never shown with their password (the one redaction every layer uses)."""

import pytest

from queuectl.domain.urls import redact_url, scrub


@pytest.mark.parametrize("url, shown", [
    ("mongodb://user:pw@host/db", "mongodb://user:****@host/db"),
    ("mongodb+srv://user:p%40ss:w@cluster.example/q?retryWrites=true",
     "mongodb+srv://user:****@cluster.example/q?retryWrites=true"),
    ("mongodb://u:pw@h1:27017,h2:27017/db", "mongodb://u:****@h1:27017,h2:27017/db"),
    ("mongodb://app:pw@db1:27017,db2/jobs?replicaSet=rs0", "mongodb://app:****@db1:27017,db2/jobs?replicaSet=rs0"),
    ("mongodb+srv://app:pw@cluster.example.net/", "mongodb+srv://app:****@cluster.example.net/"),
    ("mongodb://app:p/w?x@db1/jobs", "mongodb://app:****@db1/jobs"),  # an unescaped / and ? in it
    ("mongodb://user@host/db", "mongodb://user@host/db"),
    ("mongodb://host/db", "mongodb://host/db"),
    ("sqlite:////tmp/q@1:2.db", "sqlite:////tmp/q@1:2.db"),
    ("not a url", "not a url"),
])
def test_a_url_is_shown_with_only_its_password_hidden(url, shown):
    assert redact_url(url) == shown


def test_scrub_hides_the_password_wherever_a_message_quotes_it():
    url = "mongodb://admin:s3cret@h/db"
    assert scrub(f"cannot reach {url}; auth admin:s3cret@h failed", url) == \
        "cannot reach mongodb://admin:****@h/db; auth admin:****@h failed"
    assert scrub("plain", None) == "plain"


@pytest.mark.parametrize("url, shown", [
    ("mongodb:/user:s3cret@host/db", "mongodb:/user:****@host/db"),  # one slash
    ("mongodb:user:s3cret@host/db", "mongodb:****@host/db"),  # none: hidden, with the user
    ("postgresql://u:p@ss@h/db", "postgresql://u:****@h/db"),
    ("sqlite:////tmp/a:b@c.db", "sqlite:////tmp/a:b@c.db"),  # a path, not a password
    ("https://example.com/a@b:c", "https://example.com/a@b:c"),
])
def test_anything_url_shaped_is_shown_without_its_password(url, shown):
    assert redact_url(url) == shown


def test_a_one_letter_password_is_hidden_where_it_stands_not_wherever_its_letter_appears():
    url = "mongodb://user:e@db.example/queue"
    assert scrub(f"cannot reach {url}: the server never answered", url) == \
        "cannot reach mongodb://user:****@db.example/queue: the server never answered"


def test_scrub_hides_every_url_shaped_password_in_a_message_even_one_it_was_not_told():
    message = "failed: ValueError('mongodb:/admin:hunter2@h1') then (redis://x:y@h2/0)"
    assert scrub(message) == "failed: ValueError('mongodb:/admin:****@h1') then (redis://x:****@h2/0)"


def test_a_long_enough_password_is_hidden_where_a_driver_quotes_it_alone_raw_or_decoded():
    url = "mongodb://admin:s3cr%40t99@db/q"
    assert scrub("auth failed for admin with s3cr@t99 (s3cr%40t99)", url) == "auth failed for admin with **** (****)"
    assert scrub("the letter e stays", "mongodb://u:e@db/q") == "the letter e stays"
