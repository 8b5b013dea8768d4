"""The `komma` command line."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select

from core.models import Municipality
from core.tenancy import OfficeKeyGrant, parse_recovery_key
from crypto import open_sealed, public_key_of


def test_municipality_add_prints_a_recovery_key_that_opens_the_office_key(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["municipality", "add", "beispielstadt", "Beispielstadt", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    recovery_private = parse_recovery_key(created["recovery_key"])
    session = app.extensions["komma"].session_factory()
    municipality = session.get(Municipality, created["id"])
    grant = session.scalar(select(OfficeKeyGrant).where(OfficeKeyGrant.municipality_id == created["id"]))
    office_private = open_sealed(
        recovery_private, grant.sealed_private_key, purpose="office-key", record_id=f"{created['id']}/recovery"
    )
    assert public_key_of(office_private) == municipality.office_public_key
    # The recovery key itself is stored nowhere.
    assert created["recovery_key"].encode() not in grant.sealed_private_key
    session.close()


def test_municipality_add_refuses_bad_slug_and_duplicates(app: Flask) -> None:
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["municipality", "add", "Bad Slug!", "X"])
    assert bad.exit_code != 0
    assert "slug" in bad.output
    assert runner.invoke(args=["municipality", "add", "dorf", "Dorf"]).exit_code == 0
    again = runner.invoke(args=["municipality", "add", "dorf", "Dorf"])
    assert again.exit_code != 0
    assert "exists" in again.output
    listed = runner.invoke(args=["municipality", "list"])
    assert "dorf\tDorf" in listed.output


def test_demo_is_idempotent_and_appears_on_the_start_page(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert "exists" in runner.invoke(args=["demo"]).output
    page = app.test_client().get("/").get_data(as_text=True)
    assert "Musterstadt" in page
