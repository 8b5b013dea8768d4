"""The `komma` command line: a Flask CLI group over create_app."""

from __future__ import annotations

import json

import click
from flask.cli import FlaskGroup, with_appcontext

from core.accounts import ROLES, AccountError, account_by_login, create_account
from core.app import create_app, current_flask_app, current_state
from core.custody import CustodyError, grant_office_key, office_key_from_recovery
from core.db import session_scope
from core.models import Municipality
from core.tenancy import TenancyError, create_municipality, municipality_by_slug


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--verbose", is_flag=True, help="log each migration step")
@with_appcontext
def db_upgrade(verbose: bool) -> None:
    """Apply all migrations."""
    from core.migrate import upgrade_database

    upgrade_database(current_state().config.database_url, verbose=verbose)
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
        with session_scope(current_state().session_factory) as session:
            created = create_municipality(session, slug, name)
            result = {
                "id": created.municipality.id,
                "slug": created.municipality.slug,
                "recovery_key": created.recovery_key,
            }
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

    with session_scope(current_state().session_factory) as session:
        for m in session.scalars(select(Municipality).order_by(Municipality.slug)):
            flag = "accepts reports" if m.accepts_reports else "closed"
            click.echo(f"{m.slug}\t{m.name}\t{flag}")


@click.group("account")
def account_group() -> None:
    """Staff accounts."""


@account_group.command("add")
@click.argument("login")
@click.option("--municipality", "slug", help="slug of the municipality (not for the network operator)")
@click.option("--role", type=click.Choice(ROLES), default="officer", show_default=True)
@click.option("--name", "display_name", default="", help="display name")
@click.option("--password", envvar="KOMMA_NEW_PASSWORD", help="initial password (default: generated and printed)")
@click.option("--json", "as_json", is_flag=True, help="print login, password and TOTP secret as JSON")
@with_appcontext
def account_add(
    login: str, slug: str | None, role: str, display_name: str, password: str | None, as_json: bool
) -> None:
    """Create an account; prints its password and TOTP secret once."""
    config = current_state().config
    try:
        with session_scope(current_state().session_factory) as session:
            municipality_id = None
            if slug:
                municipality = municipality_by_slug(session, slug)
                if municipality is None:
                    raise click.ClickException(f"no municipality {slug!r}")
                municipality_id = municipality.id
            created = create_account(
                session,
                config,
                login=login,
                role=role,
                municipality_id=municipality_id,
                display_name=display_name,
                password=password,
                totp_confirmed=True,
            )
            result = {
                "id": created.account.id,
                "login": created.account.login,
                "role": role,
                "password": created.password,
                "totp_secret": created.totp_secret,
            }
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(
            f"created {role} {result['login']}\npassword: {result['password']}\nTOTP secret: {result['totp_secret']}"
        )


@click.group("office")
def office_group() -> None:
    """The municipality's office key."""


@office_group.command("grant")
@click.argument("slug")
@click.argument("login")
@click.option(
    "--recovery-key", envvar="KOMMA_RECOVERY_KEY", prompt=True, hide_input=True, help="the municipality's recovery key"
)
@with_appcontext
def office_grant(slug: str, login: str, recovery_key: str) -> None:
    """Give an officer the office key, opened with the offline recovery key."""
    try:
        with session_scope(current_state().session_factory) as session:
            municipality = municipality_by_slug(session, slug)
            account = account_by_login(session, login)
            if municipality is None or account is None or account.municipality_id != municipality.id:
                raise click.ClickException(f"no officer {login!r} in {slug!r}")
            grant_office_key(session, office_key_from_recovery(session, municipality, recovery_key), account)
    except CustodyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{login} now holds the office key of {slug}")


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run(host: str, port: int) -> None:
    """Run the development server (its log names no client)."""
    from core.devserver import serve

    serve(current_flask_app(), host, port, announce=click.echo)


def register(app_cli: click.Group) -> None:
    for command in (db_group, municipality_group, account_group, office_group, run):
        app_cli.add_command(command)


cli = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False, help="Komm.A Meldestelle")


def main() -> None:
    cli.main(prog_name="komma")
