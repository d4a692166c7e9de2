"""The dashboard's access token: nothing is served to a request that lacks it.

``queuectl dashboard`` prints its URL with ``?token=``. Opening it sets an
HttpOnly, SameSite=Strict cookie and redirects to the same URL without the
token, so the token leaves the address bar and the browser history. Then:

- the cookie, ``Authorization: Bearer TOKEN`` or ``?token=TOKEN`` is accepted
  on every path (a scraper or a script uses the header or the query);
- ``/metrics`` needs none with ``metrics_public``;
- anything else is a 401.

Every comparison is ``hmac.compare_digest``. The cookie's name carries a
digest of the token, so two dashboards on one host (cookies ignore ports) do
not log each other out.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

TOKEN_PARAM = "token"
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{16,512}")
TOKEN_RULE = "16 to 512 characters of A-Z a-z 0-9 . _ ~ -"
TOKEN_FILE_MAX = 4096
METRICS = "/metrics"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def read_token_file(path: Path) -> str:
    """The fixed token in ``path``; ``ValueError`` naming the problem when it cannot serve as one.

    Refused: a file owned by another user or readable or writable by group or
    others, an empty file, a token outside ``TOKEN_RULE``.
    """
    try:
        # O_NONBLOCK: a FIFO in its place must not hang the command
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            info = os.fstat(handle.fileno())  # the file read, wherever a link led
            mode = info.st_mode
            if not stat.S_ISREG(mode):
                raise ValueError(f"'{path}' is not a regular file")
            if info.st_uid != os.geteuid():  # its owner knows the token
                raise ValueError(f"'{path}' is owned by uid {info.st_uid}, not by you (uid {os.geteuid()})")
            if mode & 0o077:
                raise ValueError(f"'{path}' is accessible by group or others (mode {stat.S_IMODE(mode):o}); "
                                 f"run: chmod 600 {path}")
            raw = handle.read(TOKEN_FILE_MAX + 1)
    except OSError as error:
        raise ValueError(f"cannot read '{path}': {error.strerror or error}") from None
    token = raw.decode("utf-8", "replace").strip()
    if not token:
        raise ValueError(f"'{path}' is empty")
    if len(raw) > TOKEN_FILE_MAX or not TOKEN_PATTERN.fullmatch(token):
        raise ValueError(f"the token in '{path}' must be one line of {TOKEN_RULE}")
    return token


def cookie_name(token: str) -> str:
    return "queuectl-" + hashlib.sha256(token.encode()).hexdigest()[:12]


def same(supplied: str | None, token: str) -> bool:
    """Constant-time equality; any supplied text, however long or odd, is just unequal."""
    if not supplied:
        return False
    return hmac.compare_digest(supplied.encode("utf-8", "replace"), token.encode())


class TokenGate:
    """ASGI middleware: the token check in front of every HTTP request."""

    def __init__(self, app: Any, token: str, metrics_public: bool = False) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_name(token)
        self.metrics_public = metrics_public

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (self.metrics_public and scope["path"] == METRICS):
            await self.app(scope, receive, send)
            return
        response = self._verdict(scope)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _verdict(self, scope: Any) -> Response | None:
        """None to serve the request; otherwise the login redirect or the 401."""
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        supplied = [value for key, value in query if key == TOKEN_PARAM]
        if supplied:
            if not (len(supplied) == 1 and same(supplied[0], self.token)):
                return refused(scope["path"])
            if _is_page(scope):
                return self._login(scope, [(k, v) for k, v in query if k != TOKEN_PARAM])
            return None
        headers = Headers(scope=scope)
        if same(_bearer(headers.get("authorization", "")), self.token):
            return None
        if same(_cookies(headers.get("cookie", "")).get(self.cookie), self.token):
            return None
        return refused(scope["path"])

    def _login(self, scope: Any, rest: list[tuple[str, str]]) -> Response:
        """Set the cookie and send the browser to the same URL without the token."""
        # one leading slash: ``//evil.example`` would send the browser to another site
        target = "/" + scope["path"].lstrip("/") + ("?" + urlencode(rest) if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
        return response


def _is_page(scope: Any) -> bool:
    """A browser page (GET, not the API or /metrics): the one place a redirect makes sense."""
    path = scope["path"]
    return scope["method"] in ("GET", "HEAD") and path != METRICS and not path.startswith("/api/")


def _bearer(value: str) -> str | None:
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _cookies(header: str) -> dict[str, str]:
    """``a=1; b=2`` as a dict; a malformed pair is skipped, never an error."""
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value.strip('"') for name, sep, value in pairs if sep and name}


def refused(path: str) -> Response:
    message = ("a valid token is required: open the URL that `queuectl dashboard` printed (it carries "
               "?token=), or send 'Authorization: Bearer TOKEN'")
    if path == METRICS or path.startswith("/api/"):
        return JSONResponse({"error": message, "status": 401}, status_code=401,
                            headers={"www-authenticate": "Bearer"})
    return PlainTextResponse(f"401 Unauthorized: {message}\n", status_code=401,
                             headers={"www-authenticate": "Bearer"})
