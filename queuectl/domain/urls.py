"""Store URLs as users may see them: never with their password."""

from __future__ import annotations

from urllib.parse import unquote_plus

REDACTED = "****"


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
