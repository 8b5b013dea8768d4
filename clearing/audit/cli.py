"""`komma audit verify` and `komma audit anchor`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from clearing.audit import anchors
from clearing.audit import service as audit
from core.app import current_state
from core.db import session_scope


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An anchor file (komma audit anchor): every chain must still reach its anchored head.",
)
@with_appcontext
def verify(anchor_file: Path | None) -> None:
    """Check every hash chain and the registry of chains; report the first broken link."""
    with session_scope(current_state().session_factory) as session:
        try:
            anchor = audit.read_anchor(session, anchor_file.read_bytes()) if anchor_file else None
        except audit.AnchorInvalid as invalid:
            click.echo(f"BROKEN: anchor {anchor_file}: {invalid}")
            raise SystemExit(1) from None
        checked, broken = audit.verify(session, anchor=anchor)
    if broken is not None:
        click.echo(f"BROKEN: chain {broken.chain}, event {broken.seq}: {broken.reason} ({checked} events read)")
        raise SystemExit(1)
    against = f", reaches the anchor of {anchor.at:%Y-%m-%d %H:%M} UTC" if anchor else ""
    click.echo(f"audit trail intact: {checked} events{against}")


@audit_group.command("anchor")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the anchor; default: a new file in KOMMA_AUDIT_ANCHOR_DIR.",
)
@with_appcontext
def anchor(out_file: Path | None) -> None:
    """Write every chain's head, MACed, to a file to keep outside this server (after checking the trail)."""
    komma = current_state()
    with session_scope(komma.session_factory) as session:
        # Against the newest anchor too: a new anchor must never bless a tail cut off since the last one.
        _checked, broken = anchors.verify_against_newest(session, anchors.anchor_dir(komma.config))
        if broken is not None:
            click.echo(f"BROKEN: chain {broken.chain}, event {broken.seq}: {broken.reason}; no anchor written")
            raise SystemExit(1)
        made, content = audit.make_anchor(session, komma.clock.now())
    path = (
        anchors.write_file(out_file, content)
        if out_file
        else anchors.write(anchors.anchor_dir(komma.config), made, content)
    )
    click.echo(f"anchor written: {path} ({len(made.heads)} chains, {made.events} events)")
    click.echo(f"SHA-256: {audit.anchor_digest(content)}")


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_group)
