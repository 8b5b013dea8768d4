"""`komma keys rotate-notify`: re-seal the reporters' notification addresses under the current key."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from core.app import current_state
from core.db import session_scope
from reporting.service import reseal_reporter_addresses


@click.command("rotate-notify")
@with_appcontext
def rotate_notify() -> None:
    """Re-seal every notification address under KOMMA_NOTIFY_KEY (the old key in KOMMA_NOTIFY_KEY_PREVIOUS)."""
    with session_scope(current_state().session_factory) as session:
        result = reseal_reporter_addresses(session, current_state().config)
    click.echo(f"re-sealed {result.resealed} notification addresses under the current key")
    if result.unopened:
        click.echo(
            f"{result.unopened} addresses are sealed under a key that is not configured; "
            "set it in KOMMA_NOTIFY_KEY_PREVIOUS and run this again"
        )
        raise SystemExit(1)
    click.echo("no address needs a previous key any more: KOMMA_NOTIFY_KEY_PREVIOUS can be removed")


def init_app(app: Flask) -> None:
    # Other features put their key commands into the same `komma keys` group.
    keys = app.cli.commands.get("keys")
    if not isinstance(keys, click.Group):
        keys = click.Group("keys", help="Keys outside the database: checks and rotation.")
        app.cli.add_command(keys)
    keys.add_command(rotate_notify)
