"""What keeps the dashboard's actions to its own pages.

- **Host check**: a request's Host must be an IP address or one of the names
  this host answers to (``localhost``; on a public bind also its host names),
  so a DNS-rebinding page (a name of the attacker's pointed at us) cannot
  reach the dashboard through the victim's browser, token cookie included.
- **Token**: see ``auth``; no request gets past it without the token.
- **CSRF**: every action is a POST that must carry the per-process token (form
  field ``csrf_token`` or header ``X-CSRF-Token``), embedded only in the
  dashboard's own pages; and a request whose ``Origin`` (or, without one,
  ``Referer``) names another site is refused even with a token.
- **Headers**: a content security policy allowing only the dashboard's own
  scripts and styles, no framing (clickjacking), no MIME sniffing.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any, Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse

LOOPBACK_NAMES = frozenset({"localhost"})
LOOPBACK_HOSTS = LOOPBACK_NAMES | {"127.0.0.1", "::1"}
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


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host_header: str, allowed: frozenset[str] | None) -> bool:
    """Any IP literal (a rebinding attack needs a name), or a name in ``allowed`` (None: any)."""
    if allowed is None:
        return True
    name = hostname(host_header)
    return bool(name) and (name in allowed or is_ip_literal(name))


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
        if not host_allowed(Headers(scope=scope).get("host", ""), self.allowed_hosts):
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
