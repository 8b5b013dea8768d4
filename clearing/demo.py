"""`komma demo`: the demo municipality with staff, its alliance and partner user, and a network operator."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from clearing.partners import agreements as agreement_rules
from clearing.partners import service as partners
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.statistics.service import refresh
from core.accounts import account_by_login, create_account, totp_secret_with_password
from core.app import current_state
from core.config import Config
from core.custody import grant_office_key, office_key_from_recovery
from core.db import session_scope
from core.models import Account, Municipality
from core.tenancy import create_municipality, municipality_by_slug

DEMO_SLUG = "musterstadt"

DEMO_PARTNER_ACCOUNTS = (("demo-beratung", "partner", "Demo-Beratung", "demo-passwort-beratung"),)

DEMO_ACCOUNTS = (
    ("demo-fachkraft", "officer", "Demo-Fachkraft", "demo-passwort-fachkraft"),
    ("demo-koordination", "coordinator", "Demo-Koordination", "demo-passwort-koordination"),
    # A second officer: referrals under the four-eyes rule need one to approve them.
    ("demo-zweitpruefung", "officer", "Demo-Zweitprüfung", "demo-passwort-zweitpruefung"),
)
# The network operator belongs to no municipality: it creates them and sees the network statistics.
DEMO_NETWORK_ACCOUNT = ("demo-netzwerk", "network_operator", "Demo-Netzwerk", "demo-passwort-netzwerk")


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Create the demo municipality with demo staff and a network operator (idempotent); refresh the statistics."""
    config = current_state().config
    with session_scope(current_state().session_factory) as session:
        network_line = _demo_network_operator(session, config)
        if municipality_by_slug(session, DEMO_SLUG):
            click.echo(f"demo municipality {DEMO_SLUG} exists")
            for login, _role, _name, password in DEMO_ACCOUNTS + DEMO_PARTNER_ACCOUNTS:
                account = account_by_login(session, login)
                if account is not None:
                    click.echo(f"  {login} / {password} / {_existing_totp(config, account, password)}")
            click.echo(network_line)
            _refresh_statistics(session)
            return
        created = create_municipality(session, DEMO_SLUG, "Musterstadt", office_name="Clearingstelle Musterstadt")
        # A model municipality sharing its counts, so the network statistics have something to show.
        created.municipality.statistics_opt_in = True
        created.municipality.network_role = "model"
        office_key = office_key_from_recovery(session, created.municipality, created.recovery_key)
        lines = []
        for login, role, name, password in DEMO_ACCOUNTS:
            new = create_account(
                session,
                config,
                login=login,
                role=role,
                municipality_id=created.municipality.id,
                display_name=name,
                password=password,
                totp_confirmed=True,
            )
            if role == "officer":
                grant_office_key(session, office_key, new.account)
            lines.append(f"  {login} / {password} / TOTP secret {new.totp_secret}")
        lines.extend(demo_alliance(session, config, created.municipality))
        lines.append(network_line)
        _refresh_statistics(session)
    click.echo("demo municipality Musterstadt created")
    click.echo(f"recovery key (demo only): {created.recovery_key}")
    click.echo("demo staff (login / password / TOTP secret for your authenticator app), log in at /anmelden:")
    click.echo("\n".join(lines))


def _demo_network_operator(session: Session, config: Config) -> str:
    """The demo network operator, created when missing; its login line."""
    login, role, name, password = DEMO_NETWORK_ACCOUNT
    account = account_by_login(session, login)
    if account is None:
        created = create_account(
            session,
            config,
            login=login,
            role=role,
            municipality_id=None,
            display_name=name,
            password=password,
            totp_confirmed=True,
        )
        totp = f"TOTP secret {created.totp_secret}"
    else:
        totp = _existing_totp(config, account, password)
    return f"  {login} / {password} / {totp}  (network operator: /verwaltung/netzwerk)"


def _existing_totp(config: Config, account: Account, password: str) -> str:
    """An existing demo account's TOTP secret opens only with its password: once changed, it stays unprinted."""
    secret = totp_secret_with_password(config, account, password)
    return f"TOTP secret {secret}" if secret else "TOTP secret unchanged (password changed, so it cannot be shown)"


def _refresh_statistics(session: Session) -> None:
    """What the hourly statistics job does, so the demo's statistics pages show the reports sent so far."""
    refresh(session)


def demo_alliance(session: Session, config: Config, municipality: Municipality) -> list[str]:
    """The example alliance, and one user of the counselling centre for trying the partner portal."""
    spec = agreement_rules.parse_yaml(EXAMPLE_AGREEMENT)
    partners.save_agreement(session, municipality.id, spec, actor_id=None, actor_role="cli")
    counselling = partners.partner_by_key(session, municipality.id, "opferberatung")
    if counselling is None:
        raise click.ClickException("the example agreement names no partner 'opferberatung'")
    login, _role, name, password = DEMO_PARTNER_ACCOUNTS[0]
    created = partners.add_partner_user(
        session, config, counselling, login=login, display_name=name, password=password, totp_confirmed=True
    )
    return [f"  {login} / {password} / TOTP secret {created.totp_secret}  (partner portal: Opferberatung)"]


def init_app(app: Flask) -> None:
    app.cli.add_command(demo)
