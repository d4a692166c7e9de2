"""Store URLs as users may see them: never with their password.

Redaction is by position, never by searching for the password's text (a
password ``e`` must not turn every ``e`` of a message into ``****``): in
anything URL-shaped, ``scheme:`` with any number of slashes or a bare
``user:secret@host``, what lies between the user's ``:`` and the last ``@`` is
replaced.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, unquote_plus

REDACTED = "****"
# A password at least this long is looked for anywhere in a text; a shorter one (``e``, ``1``)
# would match ordinary words and values, so it is hidden only by its position in a URL.
SECRET_SEARCH_MIN = 6
HOME_DB_FILE = "queue.db"
# The variables that name a store: a job's environment never holds them (SPEC 9.1).
STORE_URL_VARIABLES = ("QUEUECTL_DB", "MONGO_URI")


def home_store_url(home: str) -> str:
    """The store a queue home holds when no other is named: ``sqlite:///<home>/queue.db``."""
    return f"sqlite:///{os.path.join(home, HOME_DB_FILE)}"


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/*")
_TOKEN = re.compile(r"[^\s'\"`<>]*@[^\s'\"`<>]*")  # a word holding an ``@``, up to blanks and quotes


def _credentials(url: str) -> tuple[str, str, str, str] | None:
    """``(head, user, password, after)`` of a URL-shaped text holding ``user:password@``, by position.

    The userinfo ends at the last ``@``, so a password that was not escaped
    (holding ``@``, ``/`` or ``?``) is still recognised whole.
    """
    left, at, after = url.rpartition("@")
    scheme = _SCHEME.search(left) if at else None
    if scheme is None:
        return None
    if scheme.group().endswith("/"):  # scheme:/user:pw@ or scheme://user:pw@
        head, userinfo = left[:scheme.end()], left[scheme.end():]
    else:  # user:pw@host, the "scheme" is the user
        head, userinfo = left[:scheme.start()], left[scheme.start():]
    user, colon, password = userinfo.partition(":")
    if not colon or "/" in user:  # no password, or a path such as sqlite:////tmp/a:b@c.db
        return None
    return head, user, password, after


def redact_url(url: str) -> str:
    """The URL with its password replaced: ``mongodb://user:****@host/db``."""
    found = _credentials(url)
    if found is None:
        return url
    head, user, _password, after = found
    return f"{head}{user}:{REDACTED}@{after}"


def password_of(url: str) -> str:
    """The password in ``url`` ('' when it has none), found as ``redact_url`` finds it."""
    found = _credentials(url)
    return found[2] if found else ""


def scrub(text: str, url: str | None = None) -> str:
    """``text`` with the password of ``url`` and of anything URL-shaped in it hidden.

    ``url``'s password is also hidden where it stands alone (a driver quoting it), raw or
    decoded, once it is long enough (``SECRET_SEARCH_MIN``) not to match ordinary words.
    """
    if url:
        text = text.replace(url, redact_url(url))
    text = _TOKEN.sub(lambda match: redact_url(match.group()), text)
    for secret in password_forms(url) if url else ():
        if len(secret) >= SECRET_SEARCH_MIN:
            text = text.replace(secret, REDACTED)
    return text


def password_forms(url: str) -> list[str]:
    """The password of ``url`` as written and decoded (``%40`` -> ``@``, ``+`` -> space); [] for none."""
    password = password_of(url)
    return sorted({password, unquote(password), unquote_plus(password)} - {""})
