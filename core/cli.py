"""The `komma` command line: a Flask CLI group over create_app."""

from __future__ import annotations

import json

import click
from flask.cli import FlaskGroup, with_appcontext

from core import invitations, key_binding
from core.accounts import ROLES, AccountError, account_by_login
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
                "office_key_fingerprint": key_binding.fingerprint(created.municipality.office_public_key),
            }
    except TenancyError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"created municipality {result['slug']} ({result['id']})")
    click.echo("RECOVERY KEY (print it, keep it offline; it is shown only this once):")
    click.echo(f"  {result['recovery_key']}")
    click.echo(f"office key fingerprint (write it next to the recovery key): {result['office_key_fingerprint']}")


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
@click.option("--json", "as_json", is_flag=True, help="print the account and its invitation link as JSON")
@with_appcontext
def account_add(login: str, slug: str | None, role: str, display_name: str, as_json: bool) -> None:
    """Invite an account; prints its invitation link once (the holder sets password and TOTP with it)."""
    config = current_state().config
    try:
        with session_scope(current_state().session_factory) as session:
            municipality_id = None
            if slug:
                municipality = municipality_by_slug(session, slug)
                if municipality is None:
                    raise click.ClickException(f"no municipality {slug!r}")
                municipality_id = municipality.id
            created = invitations.invite(
                session, login=login, role=role, municipality_id=municipality_id, display_name=display_name
            )
            result = {
                "id": created.account.id,
                "login": created.account.login,
                "role": role,
                "invitation_link": invitations.link(config.base_url, created.token),
            }
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _print_invitation(result, as_json)


@account_group.command("invite")
@click.argument("login")
@click.option("--json", "as_json", is_flag=True, help="print the account and its invitation link as JSON")
@with_appcontext
def account_invite(login: str, as_json: bool) -> None:
    """A new invitation link for an account not taken up yet (the older link stops working)."""
    config = current_state().config
    try:
        with session_scope(current_state().session_factory) as session:
            account = account_by_login(session, login)
            if account is None:
                raise click.ClickException(f"no account {login!r}")
            result = {
                "id": account.id,
                "login": account.login,
                "role": account.role,
                "invitation_link": invitations.link(config.base_url, invitations.renew(session, account)),
            }
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _print_invitation(result, as_json)


def _print_invitation(result: dict[str, str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"invited {result['role']} {result['login']}")
    click.echo(
        f"invitation link (valid {invitations.INVITATION_VALID.total_seconds() / 3600:.0f} hours, once; "
        "pass it to the holder, who sets their own password and TOTP with it):"
    )
    click.echo(f"  {result['invitation_link']}")


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
    except (CustodyError, key_binding.UnverifiedKey) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{login} now holds the office key of {slug}")


@click.group("keys")
def keys_group() -> None:
    """The stored public keys and their binding tags (KOMMA_KEY_BINDING_KEY)."""


def _key_line(key: key_binding.StoredKey) -> str:
    # Owner and fingerprint only: never key bytes or tags.
    return f"  {key.kind.owner_kind} {key.owner_id} ({key.kind.purpose}) {key_binding.fingerprint(key.public_key)}"


@keys_group.command("verify")
@with_appcontext
def keys_verify() -> None:
    """Check every stored public key's tag; exit code 1 if any is missing or wrong."""
    with session_scope(current_state().session_factory) as session:
        check = key_binding.check_keys(session)
    click.echo(f"{check.verified} verified, {len(check.wrong)} wrong, {len(check.untagged)} untagged")
    for key in check.wrong:
        click.echo(f"WRONG{_key_line(key)}")
    for key in check.untagged:
        click.echo(f"UNTAGGED{_key_line(key)}")
    if not check.ok:
        click.echo("nothing is sealed to these keys; see README (Public key bindings)", err=True)
        raise SystemExit(1)


@keys_group.command("bind")
@click.option("--rebind", is_flag=True, help="also replace tags that do not verify (after a new binding key)")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def keys_bind(rebind: bool, yes: bool) -> None:
    """Tag the keys that have none yet (once, after the upgrade that introduced tags)."""
    with session_scope(current_state().session_factory) as session:
        check = key_binding.check_keys(session)
        chosen = check.untagged + (check.wrong if rebind else [])
        if not chosen:
            click.echo("nothing to bind")
            return
        click.echo("These keys will be vouched for as they are in the database now; compare the fingerprints:")
        for key in chosen:
            click.echo(_key_line(key))
        if not yes:
            click.confirm("bind them?", abort=True)
        tagged = key_binding.bind_untagged(session, rebind=rebind)
    click.echo(f"bound {len(tagged)} keys")


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run(host: str, port: int) -> None:
    """Run the development server (its log names no client)."""
    from core.devserver import serve

    serve(current_flask_app(), host, port, announce=click.echo)


def register(app_cli: click.Group) -> None:
    for command in (db_group, municipality_group, account_group, office_group, keys_group, run):
        app_cli.add_command(command)


cli = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False, help="Komm.A Meldestelle")


def main() -> None:
    cli.main(prog_name="komma")
