"""Office key rotation and epochs (issue 13, item 4): revocation and shredding are more than row deletion.

Each attack reads a dump of the real database the way a thief would: every row, the officer's
password, and whatever office key the officer copied while still active.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto
from clearing.audit.models import AuditEvent
from clearing.cases.maintenance import purge_retention
from core.accounts import check_password
from core.config import Config
from core.custody import (
    EPOCH_KEY_PURPOSE,
    OfficeKeyring,
    office_keyring_for,
    office_keyring_from_recovery,
)
from core.db import utcnow
from core.models import Account, Municipality, OfficeKeyEpoch, OfficeKeyGrant
from core.tenancy import OFFICE_KEY_PURPOSE, office_key_record_id, parse_recovery_key
from reporting import case_crypto
from reporting.models import Case
from tests.factories import Person, Town, add_person, add_town, new_session, submit_case
from tests.leaks import Dump, dump_database
from tests.web import logged_in_client, post

Row = dict[str, Any]


def _office_keys_in(dump: Dump, holder: str, holder_key: bytes, copied: dict[int, bytes] | None = None) -> set[bytes]:
    """Every office private key a holder's key reaches in a dump, plus what they copied earlier."""
    keys = set((copied or {}).values())
    for grant in dump["office_key_grant"]:
        if grant["holder"] != holder:
            continue
        with contextlib.suppress(crypto.CryptoError):
            keys.add(
                crypto.open_sealed(
                    holder_key,
                    grant["sealed_private_key"],
                    purpose=OFFICE_KEY_PURPOSE,
                    record_id=office_key_record_id(grant["municipality_id"], holder, grant["epoch"]),
                )
            )
    grew = True
    while grew:  # older epochs sealed to a key already reached
        grew = False
        for epoch in dump["office_key_epoch"]:
            if epoch["sealed_to_current"] is None:
                continue
            for key in list(keys):
                try:
                    opened = crypto.open_sealed(
                        key,
                        epoch["sealed_to_current"],
                        purpose=EPOCH_KEY_PURPOSE,
                        record_id=f"{epoch['municipality_id']}/epoch/{epoch['epoch']}",
                    )
                except crypto.CryptoError:
                    continue
                if opened not in keys:
                    keys.add(opened)
                    grew = True
    return keys


def _officer_keys(dump: Dump, person: Person, copied: dict[int, bytes] | None = None) -> set[bytes]:
    """What an officer's password opens in a dump (their account row is in it)."""
    account = next(row for row in dump["account"] if row["id"] == person.id)
    private_key = crypto.unwrap_private_key(account["wrapped_private_key"], person.password, purpose="account-key")
    return _office_keys_in(dump, person.id, private_key, copied)


def _opens(keys: set[bytes], case_row: Row) -> bool:
    for key in keys:
        try:
            case_crypto.open_case_key(key, case_row["sealed_case_key"], case_row["id"])
        except crypto.CryptoError:
            continue
        return True
    return False


def _case_row(dump: Dump, case_id: str) -> Row:
    return next(row for row in dump["report_case"] if row["id"] == case_id)


def _case_page(client: Any, case_id: str) -> str:
    response = client.get(f"/clearing/fall/{case_id}")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def _rotate_button(client: Any) -> None:
    assert "Schlüssel jetzt erneuern" in client.get("/verwaltung/freischalten").get_data(as_text=True)
    response = post(client, "/verwaltung/schluessel-erneuern")
    assert response.status_code == 303
    assert "Schlüssel der Clearingstelle ist erneuert" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def _copied_keyring(session: Session, config: Config, person: Person) -> dict[int, bytes]:
    """What an active officer can extract for themselves: their password opens their grant."""
    account, private_key = check_password(session, config, person.login, person.password)
    ring = office_keyring_for(session, account, private_key)
    assert ring is not None
    session.commit()
    return dict(ring.keys)


def test_a_departed_officer_reads_no_case_that_came_after_their_deactivation(
    app: Flask, session: Session, config: Config
) -> None:
    town = add_town(session, "astadt", "Astadt")
    leaving = add_person(session, config, town, "fachkraft-geht")
    staying = add_person(session, config, town, "fachkraft-bleibt")
    coordinator = add_person(session, config, town, "koordination-a", role="coordinator")
    before = submit_case(session, config, town, description="Fall vor dem Abschied")
    # While still active, the officer copies the office key (nothing stops a holder from keeping it).
    copied = _copied_keyring(session, config, leaving)

    # The coordinator deactivates the officer: the grant goes and a rotation is due.
    response = post(logged_in_client(app, coordinator), f"/verwaltung/team/{leaving.id}/deaktivieren")
    assert response.status_code in (302, 303)
    with new_session(app) as db:
        assert db.scalar(select(OfficeKeyGrant).where(OfficeKeyGrant.holder == leaving.id)) is None
        epoch = db.scalar(select(OfficeKeyEpoch).where(OfficeKeyEpoch.municipality_id == town.id))
        assert epoch is not None
        assert epoch.rotation_requested_at is not None
    # The next officer who holds the key rotates it with their next request.
    colleague = logged_in_client(app, staying)
    assert colleague.get("/clearing/").status_code == 200
    after = submit_case(session, config, town, description="Fall nach dem Abschied")

    dump = dump_database(app)
    epochs = {(row["epoch"], row["retired_at"] is not None) for row in dump["office_key_epoch"]}
    assert epochs == {(1, True), (2, False)}
    assert _case_row(dump, after.id)["office_key_epoch"] == 2
    rotated = [row for row in dump["audit_event"] if row["action"] == "office_key.rotated"]
    assert len(rotated) == 1
    assert rotated[0]["actor_id"] == staying.id
    # The attack: password + dump + the copied key. The old case was theirs to read; the new one is not.
    stolen = _officer_keys(dump, leaving, copied)
    assert _opens(stolen, _case_row(dump, before.id))
    assert not _opens(stolen, _case_row(dump, after.id))
    # Without the copy, the password opens nothing in a later dump at all.
    assert _officer_keys(dump, leaving) == set()
    # The colleague who stayed reads both, in the session that rotated.
    assert "Fall vor dem Abschied" in _case_page(colleague, before.id)
    assert "Fall nach dem Abschied" in _case_page(colleague, after.id)


def test_a_backup_from_before_a_purge_opens_the_purged_epoch_and_the_database_after_it_does_not(
    app: Flask, session: Session, config: Config
) -> None:
    town = add_town(session, "bstadt", "Bstadt")
    first = add_person(session, config, town, "fachkraft-eins")
    second = add_person(session, config, town, "fachkraft-zwei")
    old = submit_case(session, config, town, description="Alter Fall")
    _rotate_button(logged_in_client(app, first))
    new = submit_case(session, config, town, description="Neuer Fall")

    # The old case is closed long ago; the backup is taken before the purge.
    case = session.get_one(Case, old.id)
    case.status = "closed"
    case.status_changed_at = utcnow() - timedelta(days=365 * 10)
    session.commit()
    backup = dump_database(app)

    result = purge_retention(session, utcnow())
    session.commit()
    assert result.cases == 1
    assert result.destroyed_epochs == ((town.id, 1),)
    live = dump_database(app)
    epoch_one = next(row for row in live["office_key_epoch"] if row["epoch"] == 1)
    assert epoch_one["destroyed_at"] is not None
    assert epoch_one["sealed_to_current"] is None
    assert not [row for row in live["office_key_grant"] if row["epoch"] == 1]
    assert [row for row in live["audit_event"] if row["action"] == "office_key.destroyed"]

    # The leftover of epoch 1 (the old case's sealed key, as the backup holds it) opens with nothing
    # that the database after the purge gives any remaining officer or the recovery key.
    leftover = _case_row(backup, old.id)
    recovery_private = parse_recovery_key(town.recovery_key)
    for keys in (
        _officer_keys(live, first),
        _officer_keys(live, second),
        _office_keys_in(live, "recovery", recovery_private),
    ):
        assert keys  # they still hold the current key ...
        assert _opens(keys, _case_row(live, new.id))
        assert not _opens(keys, leftover)  # ... and nothing of the destroyed epoch
    # The backup from before the purge still opens it: why backups need a retention limit (README).
    assert _opens(_officer_keys(backup, first), leftover)


def test_rotation_on_demand_keeps_every_active_officer_reading_old_and_new_cases(
    app: Flask, session: Session, config: Config
) -> None:
    town = add_town(session, "cstadt", "Cstadt")
    rotating = add_person(session, config, town, "fachkraft-dreht")
    colleague = add_person(session, config, town, "fachkraft-kollegin")
    waiting = add_person(session, config, town, "fachkraft-wartet", grant=False)
    old = submit_case(session, config, town, description="Fall im ersten Schlüssel")
    rotating_client = logged_in_client(app, rotating)
    colleague_client = logged_in_client(app, colleague)

    _rotate_button(rotating_client)
    new = submit_case(session, config, town, description="Fall im zweiten Schlüssel")

    # The rotating officer's session holds the new keyring; both cases open, and the inbox summarises both.
    assert "Fall im ersten Schlüssel" in _case_page(rotating_client, old.id)
    assert "Fall im zweiten Schlüssel" in _case_page(rotating_client, new.id)
    inbox = rotating_client.get("/clearing/").get_data(as_text=True)
    assert "Fall im ersten Schlüssel" in inbox
    assert "Fall im zweiten Schlüssel" in inbox
    # The colleague's session held the old keyring: it ended; after logging in again both open.
    assert colleague_client.get("/clearing/").status_code == 302
    colleague_client = logged_in_client(app, colleague)
    assert "Fall im ersten Schlüssel" in _case_page(colleague_client, old.id)
    assert "Fall im zweiten Schlüssel" in _case_page(colleague_client, new.id)
    # Who had no grant has none now; the recovery key reaches both epochs without its holder's help.
    with new_session(app) as db:
        assert db.scalar(select(OfficeKeyGrant).where(OfficeKeyGrant.holder == waiting.id)) is None
        grants = {(g.holder, g.epoch) for g in db.scalars(select(OfficeKeyGrant))}
        assert grants == {(rotating.id, 2), (colleague.id, 2), ("recovery", 2)}
        municipality = db.get_one(Municipality, town.id)
        ring = office_keyring_from_recovery(db, municipality, town.recovery_key)
        assert set(ring.keys) == {1, 2}
        assert crypto.public_key_of(ring.current) == municipality.office_public_key
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "office_key.rotated"))
        assert event is not None
        assert event.actor_id == rotating.id
        assert event.detail == "on_demand:1->2"


def test_an_office_key_older_than_the_interval_is_rotated_by_the_next_officer(
    app: Flask, session: Session, config: Config, town_a: Town
) -> None:
    officer = add_person(session, config, town_a, "fachkraft-plan")
    epoch = session.scalars(select(OfficeKeyEpoch).where(OfficeKeyEpoch.municipality_id == town_a.id)).one()
    epoch.created_at = utcnow() - timedelta(days=89)
    session.commit()
    client = logged_in_client(app, officer)
    assert client.get("/clearing/").status_code == 200
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "office_key.rotated")) is None

    session.expire_all()
    epoch = session.scalars(select(OfficeKeyEpoch).where(OfficeKeyEpoch.municipality_id == town_a.id)).one()
    epoch.created_at = utcnow() - timedelta(days=91)
    session.commit()
    assert client.get("/clearing/").status_code == 200
    session.expire_all()
    assert [e.epoch for e in session.scalars(select(OfficeKeyEpoch).order_by(OfficeKeyEpoch.epoch))] == [1, 2]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "office_key.rotated"))
    assert event is not None
    assert event.detail == "schedule:1->2"
    account = session.get_one(Account, officer.id)
    assert account.active


def test_a_keyring_survives_the_session_store() -> None:
    ring = OfficeKeyring({1: bytes(32), 3: bytes(range(32))})
    assert OfficeKeyring.decode(ring.encode()) == ring
    assert ring.current_epoch == 3
