"""``queuectl dashboard``: the web dashboard, ``/metrics`` and the JSON API.

Starlette, uvicorn, Jinja2 and prometheus_client are imported only when the
command runs, so no other command pays for them.
"""

from __future__ import annotations

from pathlib import Path

import click

from .context import AppState, pass_app


@click.command("dashboard")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the dashboard to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--read-only", is_flag=True, help="No retry, cancel, pause, resume or queue limit: show, never change.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read a fixed access token from this file (mode 600) instead of a random one.")
@click.option("--metrics-public", is_flag=True, help="Serve /metrics without the token.")
@pass_app
def dashboard(app: AppState, host: str, port: int, read_only: bool, token_file: Path | None,
              metrics_public: bool) -> None:
    """Serve the web dashboard, /metrics and the JSON API.

    Every request needs the access token: open the printed URL (it carries
    ?token= and sets a cookie), or send 'Authorization: Bearer TOKEN'. Binds
    127.0.0.1 by default; its actions (retry, cancel, pause, resume, queue
    limit) also need the page's CSRF token, and --read-only removes them.
    """
    from queuectl.domain.urls import redact_url

    from .dashboard.auth import new_token, read_token_file
    from .dashboard.server import bind, is_loopback, serve, url_of

    token = _token(token_file, read_token_file) if token_file else new_token()
    jobs, stats = app.jobs(), app.stats()
    sock = bind(host, port)
    try:
        if not is_loopback(host):
            click.echo(f"Warning: {host} is not a loopback address: the dashboard is reachable from the network "
                       "over plain HTTP, where anyone who sees the traffic learns the token; keep it on "
                       "127.0.0.1 or put it behind an HTTPS proxy.", err=True)
        mode = " (read-only)" if read_only else ""
        click.echo(f"Dashboard{mode} at {url_of(sock, '?token=' + token)} · metrics at {url_of(sock, 'metrics')}"
                   f"{' (public)' if metrics_public else ''} · Ctrl-C stops")
        click.get_text_stream("stdout").flush()
        serve(sock, jobs, stats, token=token, metrics_public=metrics_public, read_only=read_only,
              home=app.home, store_label=redact_url(app.url or ""), queues=app.queues())
    finally:
        sock.close()


def _token(path: Path, read) -> str:
    try:
        return read(path)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--token-file'") from None


COMMANDS = [dashboard]
