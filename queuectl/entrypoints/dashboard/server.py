"""Serving the dashboard: bind the socket ourselves, then hand it to uvicorn.

Binding first turns a taken port or a bad address into one ``Error:`` line
(uvicorn would log and exit), and ``--port 0`` into a free port whose URL is
printed before the server starts.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path
from typing import Any

from queuectl.domain import defaults
from queuectl.domain.errors import QueuectlError
from queuectl.domain.services import JobService, StatsService

from .app import create_app
from .security import LOOPBACK_NAMES

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as error:
        raise QueuectlError(f"cannot listen on {host}:{port}: {getattr(error, 'strerror', None) or error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise QueuectlError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, path: str = "") -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/{path}" if ":" in host else f"http://{host}:{port}/{path}"


def allowed_hosts(host: str) -> frozenset[str]:
    """The names a Host header may carry besides IP addresses: ``localhost``, and on a
    public bind this machine's own names too."""
    if is_loopback(host):
        return LOOPBACK_NAMES
    return LOOPBACK_NAMES | {name.lower() for name in (socket.gethostname(), socket.getfqdn()) if name}


def serve(sock: socket.socket, jobs: JobService, stats: StatsService, *, token: str, metrics_public: bool,
          read_only: bool, home: Path | None, store_label: str, queues: Any = None) -> None:
    """Run until SIGINT/SIGTERM (uvicorn's graceful shutdown)."""
    import uvicorn

    app = create_app(jobs, stats, token=token, metrics_public=metrics_public, read_only=read_only,
                     allowed_hosts=allowed_hosts(sock.getsockname()[0]), home=home, store_label=store_label,
                     queues=queues)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            server_header=False, timeout_graceful_shutdown=defaults.DASHBOARD_SHUTDOWN_SECONDS)
    uvicorn.Server(config).run(sockets=[sock])
