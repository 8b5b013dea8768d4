"""`komma agreements import|export` and the demo alliance."""

from __future__ import annotations

from typing import TextIO

import click
from flask import Flask
from flask.cli import with_appcontext

from clearing.partners import agreements as agreement_rules
from clearing.partners import service as partners
from clearing.partners.errors import AgreementInvalid
from core.app import current_state
from core.db import session_scope
from core.tenancy import municipality_by_slug


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
        # One character more than the limit is enough to refuse a file; a huge one is never read whole.
        spec = agreement_rules.parse_yaml(path.read(agreement_rules.MAX_YAML_BYTES + 1))
    except AgreementInvalid as invalid:
        for place, problem in invalid.problems:
            click.echo(f"{place}: {problem}", err=True)
        raise click.ClickException("agreement refused; the active version stays active") from None
    with session_scope(current_state().session_factory) as session:
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
    with session_scope(current_state().session_factory) as session:
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


def init_app(app: Flask) -> None:
    app.cli.add_command(agreements_group)
