"""Store URLs as users may see them: never with their password."""

from __future__ import annotations

import os
from urllib.parse import unquote_plus

REDACTED = "****"
HOME_DB_FILE = "queue.db"
# The variables that name a store: a job's environment never holds them (SPEC 9.1).
STORE_URL_VARIABLES = ("QUEUECTL_DB", "MONGO_URI")


def home_store_url(home: str) -> str:
    """The store a queue home holds when no other is named: ``sqlite:///<home>/queue.db``."""
    return f"sqlite:///{os.path.join(home, HOME_DB_FILE)}"


def split_credentials(url: str) -> tuple[str, str, str]:
    """``scheme``, ``userinfo`` and the rest of a URL.

    The userinfo ends at the last ``@``, so a password that was not escaped
    (holding ``@``, ``/`` or ``?``) is still recognised, and hidden, whole.
    """
    scheme, _, rest = url.partition("://")
    userinfo, _, after = rest.rpartition("@")
    return scheme, userinfo, after


def password_of(url: str) -> str:
    return split_credentials(url)[1].partition(":")[2]


def redact_url(url: str) -> str:
    """The URL with its password replaced: ``mongodb://user:****@host/db``."""
    scheme, userinfo, after = split_credentials(url)
    if "://" not in url or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:{REDACTED}@{after}"


def scrub(text: str, url: str | None) -> str:
    """``text`` with ``url``'s password hidden wherever the URL or the password appears."""
    if not url:
        return text
    text = text.replace(url, redact_url(url))
    password = password_of(url)
    for secret in sorted({password, unquote_plus(password)} - {""}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
