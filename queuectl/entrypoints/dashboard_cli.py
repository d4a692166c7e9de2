"""``queuectl dashboard``: the web dashboard, ``/metrics`` and the JSON API.

Starlette, uvicorn, Jinja2 and prometheus_client are imported only when the
command runs, so no other command pays for them.
"""

from __future__ import annotations

import click

from .context import AppState, pass_app


@click.command("dashboard")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the dashboard to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--read-only", is_flag=True, help="No retry or cancel: show, never change.")
@pass_app
def dashboard(app: AppState, host: str, port: int, read_only: bool) -> None:
    """Serve the web dashboard, /metrics and the JSON API.

    Binds 127.0.0.1 by default; retry and cancel are POSTs carrying a per-process
    CSRF token, and --read-only removes them.
    """
    from queuectl.domain.urls import redact_url

    from .dashboard.server import bind, is_loopback, serve, url_of

    jobs, stats = app.jobs(), app.stats()
    sock = bind(host, port)
    try:
        if not (read_only or is_loopback(host)):
            click.echo(f"Warning: the dashboard has no login; anyone who can reach {host}:{port} can "
                       "retry and cancel jobs (use --read-only, or keep it on 127.0.0.1).", err=True)
        mode = " (read-only)" if read_only else ""
        click.echo(f"Dashboard{mode} at {url_of(sock)} · metrics at {url_of(sock)}metrics · Ctrl-C stops")
        click.get_text_stream("stdout").flush()
        serve(sock, jobs, stats, read_only=read_only, home=app.home, store_label=redact_url(app.url or ""))
    finally:
        sock.close()


COMMANDS = [dashboard]
