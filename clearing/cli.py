"""Clearing commands: `komma audit verify`."""

from __future__ import annotations

from typing import TextIO

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from clearing import agreements as agreement_rules
from clearing import audit, partners
from clearing.examples import EXAMPLE_AGREEMENT
from core.app import state
from core.cli import DEMO_EXTENSIONS, DEMO_PARTNER_ACCOUNTS
from core.config import Config
from core.db import session_scope
from core.models import Municipality
from core.tenancy import municipality_by_slug


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
@with_appcontext
def verify() -> None:
    """Check every hash chain; report the first broken link."""
    with session_scope(state(current_app).session_factory) as session:
        checked, broken = audit.verify(session)
    if broken is not None:
        click.echo(f"BROKEN: chain {broken.chain}, event {broken.seq}: {broken.reason} ({checked} events read)")
        raise SystemExit(1)
    click.echo(f"audit trail intact: {checked} events")


@click.group("agreements")
def agreements_group() -> None:
    """Alliance agreements (YAML)."""


@agreements_group.command("import")
@click.argument("slug")
@click.argument("path", type=click.File("r", encoding="utf-8"))
@with_appcontext
def agreements_import(slug: str, path: TextIO) -> None:
    """Validate a YAML file and make it the active version (refused whole if invalid)."""
    try:
        spec = agreement_rules.parse_yaml(path.read())
    except agreement_rules.AgreementInvalid as invalid:
        for place, problem in invalid.problems:
            click.echo(f"{place}: {problem}", err=True)
        raise click.ClickException("agreement refused; the active version stays active") from None
    with session_scope(state(current_app).session_factory) as session:
        municipality = municipality_by_slug(session, slug)
        if municipality is None:
            raise click.ClickException(f"no municipality {slug!r}")
        version = partners.save_agreement(session, municipality.id, spec, actor_id=None, actor_role="cli")
        click.echo(f"agreement version {version.version} of {slug} is active ({len(spec.partners)} partners)")


@agreements_group.command("export")
@click.argument("slug")
@with_appcontext
def agreements_export(slug: str) -> None:
    """Print the active version as YAML."""
    with session_scope(state(current_app).session_factory) as session:
        municipality = municipality_by_slug(session, slug)
        if municipality is None:
            raise click.ClickException(f"no municipality {slug!r}")
        active = partners.active_agreement(session, municipality.id)
        if active is None:
            raise click.ClickException(f"{slug} has no agreement yet")
        click.echo(
            agreement_rules.to_yaml(agreement_rules.parse(active.data), municipality=slug, version=active.version),
            nl=False,
        )


def demo_alliance(session: Session, config: Config, municipality: Municipality) -> list[str]:
    """The example alliance, and one user of the counselling centre for trying the partner portal."""
    spec = agreement_rules.parse_yaml(EXAMPLE_AGREEMENT)
    partners.save_agreement(session, municipality.id, spec, actor_id=None, actor_role="cli")
    counselling = partners.partner_by_key(session, municipality.id, "opferberatung")
    assert counselling is not None
    login, _role, name, password = DEMO_PARTNER_ACCOUNTS[0]
    created = partners.add_partner_user(
        session, config, counselling, login=login, display_name=name, password=password, totp_confirmed=True
    )
    return [f"  {login} / {password} / TOTP secret {created.totp_secret}  (partner portal: Opferberatung)"]


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_group)
    app.cli.add_command(agreements_group)
    if demo_alliance not in DEMO_EXTENSIONS:
        DEMO_EXTENSIONS.append(demo_alliance)
