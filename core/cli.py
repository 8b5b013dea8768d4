"""The `komma` command line: a Flask CLI group over create_app."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from core.app import create_app, state
from core.db import session_scope
from core.models import Municipality
from core.tenancy import TenancyError, create_municipality, municipality_by_slug

DEMO_SLUG = "musterstadt"


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply all migrations."""
    from core.migrate import upgrade_database

    upgrade_database(state(current_app).config.database_url)
    click.echo("database is up to date")


@click.group("municipality")
def municipality_group() -> None:
    """Municipalities (tenants)."""


@municipality_group.command("add")
@click.argument("slug")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@with_appcontext
def municipality_add(slug: str, name: str, as_json: bool) -> None:
    """Create a municipality with its office key; prints the recovery key once."""
    try:
        with session_scope(state(current_app).session_factory) as session:
            created = create_municipality(session, slug, name)
            result = {"id": created.municipality.id, "slug": created.municipality.slug, "recovery_key": created.recovery_key}
    except TenancyError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"created municipality {result['slug']} ({result['id']})")
    click.echo("RECOVERY KEY (print it, keep it offline; it is shown only this once):")
    click.echo(f"  {result['recovery_key']}")


@municipality_group.command("list")
@with_appcontext
def municipality_list() -> None:
    """List municipalities."""
    from sqlalchemy import select

    with session_scope(state(current_app).session_factory) as session:
        for m in session.scalars(select(Municipality).order_by(Municipality.slug)):
            flag = "accepts reports" if m.accepts_reports else "closed"
            click.echo(f"{m.slug}\t{m.name}\t{flag}")


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Create the demo municipality (idempotent)."""
    with session_scope(state(current_app).session_factory) as session:
        if municipality_by_slug(session, DEMO_SLUG):
            click.echo(f"demo municipality {DEMO_SLUG} exists")
            return
        created = create_municipality(session, DEMO_SLUG, "Musterstadt", office_name="Clearingstelle Musterstadt")
    click.echo("demo municipality Musterstadt created")
    click.echo(f"recovery key (demo only): {created.recovery_key}")


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run(host: str, port: int) -> None:
    """Run the development server (its log names no client)."""
    from core.devserver import serve

    serve(current_app._get_current_object(), host, port)  # type: ignore[attr-defined]


def register(app_cli: click.Group) -> None:
    for command in (db_group, municipality_group, demo, run):
        app_cli.add_command(command)


cli = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False, help="Komm.A Meldestelle")


def main() -> None:
    cli.main(prog_name="komma")
