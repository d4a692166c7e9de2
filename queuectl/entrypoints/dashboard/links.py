"""Links to a job that survive any id.

A plain id (letters, digits, ``. _ : -``) goes in the path, percent-encoded
(``quote(id, safe="")``). Any other id, and the ids ``.`` and ``..`` (which
browsers resolve as path segments, encoded or not), names the job in the
query instead: ``/jobs/~?id=..``, ``/jobs/~/cancel?id=tail%0A`` (``~`` is
never an id). A newline, ``/``, ``?`` or ``#`` in an id then cannot break or
redirect a link, whatever ids a store holds.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

ALIAS = "~"
_PLAIN = re.compile(r"[A-Za-z0-9._:-]+")
_DOT_SEGMENTS = frozenset({".", ".."})


def job_url(job_id: str, verb: str = "", prefix: str = "", **query: object) -> str:
    """``/jobs/<id>`` (or ``/jobs/<id>/<verb>``), under ``prefix`` (``/api``), with ``query``."""
    tail = f"/{verb}" if verb else ""
    if job_id in _DOT_SEGMENTS or not _PLAIN.fullmatch(job_id):
        path, query = f"{prefix}/jobs/{ALIAS}{tail}", {"id": job_id, **query}
    else:
        path = f"{prefix}/jobs/{quote(job_id, safe='')}{tail}"
    return f"{path}?{urlencode(query, quote_via=quote)}" if query else path
