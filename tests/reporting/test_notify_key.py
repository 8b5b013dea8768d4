"""Issue 13, item 1: a reporter's notification address opens with KOMMA_NOTIFY_KEY alone.

Before, it sat in a box under a key derived from KOMMA_SECRET_KEY: the database and the
environment's session secret read every address. Now the database and the secret key open none;
the notification key is rotatable, and after `komma keys rotate-notify` the old one opens none.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

import crypto
from clearing.cases import service as case_service
from core.config import Config
from reporting import case_crypto
from reporting.models import Case
from reporting.service import reseal_reporter_addresses
from tests.conftest import make_test_config
from tests.factories import add_office, config_of, officer_staff, submit_to_office
from tests.smtp import SmtpServer
from tests.web import mails_to

ADDRESS = "betroffen@privat.example"


@pytest.fixture
def app_config(migrated_database: str, tmp_path: Path, smtp_server: SmtpServer) -> Config:
    return make_test_config(migrated_database, tmp_path / "instance", smtp_url=smtp_server.url)


@pytest.fixture
def config(app: Flask) -> Config:
    return config_of(app)


def _stolen_address_blob(session: Session, case_id: str) -> bytes:
    session.flush()
    blob = session.execute(
        text("SELECT reporter_notify_ciphertext FROM report_case WHERE id = :id"), {"id": case_id}
    ).scalar_one()
    return bytes(blob)


def _attacker_reads_address(config: Config, case_id: str, blob: bytes) -> str | None:
    """The database and KOMMA_SECRET_KEY: the old derivation, on the whole blob and on its box."""
    key = crypto.derive_subkey(config.secret_key.encode(), "reporter-notify")
    for candidate in (blob, blob[len(case_crypto.notify_prefix(config.notify_key)) :]):
        try:
            return crypto.box_decrypt(key, candidate, purpose="reporter-notify", record_id=case_id).decode()
        except crypto.CryptoError:
            continue
    return None


def _legacy_blob(config: Config, case_id: str) -> bytes:
    """An address as stored before issue 13."""
    key = crypto.derive_subkey(config.secret_key.encode(), "reporter-notify")
    return crypto.box_encrypt(key, ADDRESS.encode(), purpose="reporter-notify", record_id=case_id)


def test_database_and_secret_key_do_not_open_a_reporter_address(
    app: Flask, session: Session, config: Config, smtp_server: SmtpServer
) -> None:
    office = add_office(session, config, "adressstadt")
    reported = submit_to_office(session, config, office, contact_email=ADDRESS)
    blob = _stolen_address_blob(session, reported.case_id)
    assert ADDRESS.encode() not in blob
    assert _attacker_reads_address(config, reported.case_id, blob) is None
    assert case_crypto.open_reporter_address((config.notify_key,), reported.case_id, blob) == ADDRESS
    # The service still reads it to say that a message waits.
    case = session.get(Case, reported.case_id)
    assert case is not None
    case_service.send_message(session, officer_staff(session, office.town, office.officer), case, "Guten Tag")
    session.commit()
    assert len(mails_to(smtp_server, ADDRESS)) == 1


def test_rotation_reseals_every_address_and_the_old_key_opens_none(session: Session, config: Config) -> None:
    office = add_office(session, config, "rotationsstadt")
    reported = submit_to_office(session, config, office, contact_email=ADDRESS)
    old_key = config.notify_key
    rotated = dataclasses.replace(
        config, notify_key=b"new-notification-key-" + b"n" * 32, notify_keys_previous=(old_key,)
    )
    # Before the re-seal the previous key is still needed.
    with pytest.raises(crypto.CryptoError):
        case_crypto.open_reporter_address(
            (rotated.notify_key,), reported.case_id, _stolen_address_blob(session, reported.case_id)
        )

    result = reseal_reporter_addresses(session, rotated)

    assert (result.resealed, result.unopened) == (1, 0)
    blob = _stolen_address_blob(session, reported.case_id)
    assert blob.startswith(case_crypto.notify_prefix(rotated.notify_key))
    assert case_crypto.open_reporter_address((rotated.notify_key,), reported.case_id, blob) == ADDRESS
    with pytest.raises(crypto.CryptoError):
        case_crypto.open_reporter_address((old_key,), reported.case_id, blob)
    # Nothing is left to re-seal.
    assert reseal_reporter_addresses(session, rotated).resealed == 0


def test_an_address_stored_before_the_notify_key_is_resealed_by_the_command(
    app: Flask, session: Session, config: Config
) -> None:
    office = add_office(session, config, "altstadt")
    reported = submit_to_office(session, config, office, contact_email=ADDRESS)
    case = session.get(Case, reported.case_id)
    assert case is not None
    case.reporter_notify_ciphertext = _legacy_blob(config, reported.case_id)
    session.commit()
    # The attack as it worked before the upgrade.
    assert _attacker_reads_address(config, reported.case_id, _stolen_address_blob(session, reported.case_id)) == ADDRESS

    output = app.test_cli_runner().invoke(args=["keys", "rotate-notify"])

    assert output.exit_code == 0, output.output
    assert "re-sealed 1 notification addresses" in output.output
    session.expire_all()
    blob = _stolen_address_blob(session, reported.case_id)
    assert _attacker_reads_address(config, reported.case_id, blob) is None
    assert case_crypto.open_reporter_address((config.notify_key,), reported.case_id, blob) == ADDRESS


def test_an_address_under_a_key_no_longer_configured_is_reported_not_lost_silently(
    app: Flask, session: Session, config: Config
) -> None:
    office = add_office(session, config, "vergessstadt")
    reported = submit_to_office(session, config, office, contact_email=ADDRESS)
    forgotten = dataclasses.replace(config, notify_key=b"another-notification-key-" + b"a" * 32)
    result = reseal_reporter_addresses(session, forgotten)
    assert (result.resealed, result.unopened) == (0, 1)
    # Left as it was, for when the missing key is configured again.
    assert _stolen_address_blob(session, reported.case_id).startswith(case_crypto.notify_prefix(config.notify_key))
