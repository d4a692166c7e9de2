"""What keeps the dashboard's actions to its own pages.

- **Host check** (when bound to a loopback address): a request must name a
  loopback host, so a DNS-rebinding page cannot read the API through the
  victim's browser.
- **CSRF**: every action is a POST that must carry the per-process token (form
  field ``csrf_token`` or header ``X-CSRF-Token``), embedded only in the
  dashboard's own pages; and a request whose ``Origin`` (or, without one,
  ``Referer``) names another site is refused even with a token.
- **Headers**: a content security policy allowing only the dashboard's own
  scripts and styles, no framing (clickjacking), no MIME sniffing.
"""

from __future__ import annotations

import hmac
from typing import Any, Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TOKEN_HEADER = "x-csrf-token"
TOKEN_FIELD = "csrf_token"
SECURITY_HEADERS = (
    ("content-security-policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                "form-action 'self'; base-uri 'none'; object-src 'none'"),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
)


def hostname(host_header: str) -> str:
    """``127.0.0.1:8080`` -> ``127.0.0.1``; ``[::1]:8080`` -> ``::1``."""
    try:
        return (urlsplit(f"//{host_header}").hostname or "").lower()
    except ValueError:
        return ""


class Guard:
    """ASGI middleware: the host check and the security headers on every response."""

    def __init__(self, app: Any, allowed_hosts: Iterable[str] | None = None) -> None:
        self.app = app
        self.allowed_hosts = None if allowed_hosts is None else frozenset(allowed_hosts)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.allowed_hosts is not None and hostname(Headers(scope=scope).get("host", "")) not in self.allowed_hosts:
            await PlainTextResponse("Invalid host header", status_code=400)(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def check_same_site(request: Request, supplied: str | None, token: str) -> None:
    """Refuse (403) an action without the right token or sent from another site."""
    if not supplied or not hmac.compare_digest(supplied.encode(), token.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: use the dashboard's own buttons")
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is not None and _netloc(source) != request.headers.get("host", "").lower():
        raise HTTPException(403, "cross-site request refused")


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""
