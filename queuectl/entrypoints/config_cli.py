"""Configuration kept in the store: ``config show``, ``config get``, ``config set``."""

from __future__ import annotations

import click

from queuectl.domain.settings import KEYS

from .context import AppState, pass_app

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group("config", help=f"Settings every worker on every host shares. Keys: {', '.join(KEYS)}.")
def config() -> None:
    pass


@config.command("show")
@json_option
@pass_app
def config_show(app: AppState, as_json: bool) -> None:
    """Every key with its value (defaults included)."""
    from . import render

    values = app.config().show()
    click.echo(render.to_json(render.settings_dict(values)) if as_json else render.settings_table(values))


@config.command("get")
@click.argument("key")
@json_option
@pass_app
def config_get(app: AppState, key: str, as_json: bool) -> None:
    """One value (--json: {"KEY": value})."""
    from . import render

    name, value = app.config().get(key)
    click.echo(render.to_json({name: render.natural(value)}) if as_json else render.text(value))


@config.command("set", context_settings={"ignore_unknown_options": True})  # a VALUE may be -1
@click.argument("key")
@click.argument("value")
@pass_app
def config_set(app: AppState, key: str, value: str) -> None:
    """Store a validated value; max-retries is max_retries."""
    from . import render

    name, stored = app.config().set(key, value)
    click.echo(f"{name} = {render.text(stored)}")


COMMANDS = [config]
