"""`komma audit verify`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from clearing.audit import service as audit
from core.app import current_state
from core.db import session_scope


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
@with_appcontext
def verify() -> None:
    """Check every hash chain; report the first broken link."""
    with session_scope(current_state().session_factory) as session:
        checked, broken = audit.verify(session)
    if broken is not None:
        click.echo(f"BROKEN: chain {broken.chain}, event {broken.seq}: {broken.reason} ({checked} events read)")
        raise SystemExit(1)
    click.echo(f"audit trail intact: {checked} events")


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_group)
