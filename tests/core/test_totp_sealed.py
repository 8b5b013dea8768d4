"""Issue 13, item 1: the database and KOMMA_SECRET_KEY together yield no staff TOTP secret.

The secret is sealed to the account's own key, which only the password unwraps. A secret stored
the old way (a box under a key derived from the secret key) moves there at the next login.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

import crypto
from core.accounts import TOTP_PURPOSE, check_password, totp_secret
from core.config import Config
from core.models import Account, SecretSession
from tests.factories import Person, Town, add_person, add_town, config_of, new_session
from tests.web import log_in, submit_code, submit_password, totp_code


@pytest.fixture
def config(app: Flask) -> Config:
    return config_of(app)


@pytest.fixture
def town(session: Session) -> Town:
    return add_town(session, "totpstadt", "TOTP-Stadt")


@pytest.fixture
def officer(session: Session, config: Config, town: Town) -> Person:
    return add_person(session, config, town, "fachkraft", display_name="Frieda Fachkraft")


def _old_derived_key(config: Config) -> bytes:
    # What a database thief with the environment computed before issue 13.
    return crypto.derive_subkey(config.secret_key.encode(), "totp-secrets")


def _stolen_row(session: Session, person: Person) -> dict[str, bytes]:
    """The account row as a dump holds it, read with plain SQL."""
    session.flush()
    row = session.execute(
        text("SELECT totp_ciphertext, public_key, wrapped_private_key FROM account WHERE id = :id"), {"id": person.id}
    ).one()
    return {"totp": bytes(row[0]), "public_key": bytes(row[1]), "wrapped": bytes(row[2])}


def _attacker_reads_totp(config: Config, person: Person, stolen: dict[str, bytes]) -> str | None:
    """Everything the database and the environment offer, tried on the stored TOTP ciphertext."""
    candidates = [_old_derived_key(config), crypto.derive_subkey(config.secret_key.encode(), "account-key")]
    for key in candidates:
        for attempt in (
            lambda k: crypto.box_decrypt(k, stolen["totp"], purpose=TOTP_PURPOSE, record_id=person.id),
            lambda k: crypto.open_sealed(k, stolen["totp"], purpose=TOTP_PURPOSE, record_id=person.id),
        ):
            try:
                return attempt(key).decode()
            except crypto.CryptoError:
                continue
    return None


def test_database_and_secret_key_do_not_open_a_totp_secret(
    app: Flask, session: Session, config: Config, officer: Person
) -> None:
    stolen = _stolen_row(session, officer)
    assert officer.totp_secret.encode() not in b"".join(stolen.values())
    assert _attacker_reads_totp(config, officer, stolen) is None
    # The account key, which the password unwraps, opens it; a wrong password gets nowhere.
    with pytest.raises(crypto.CryptoError):
        crypto.unwrap_private_key(stolen["wrapped"], "not the password")
    private_key = crypto.unwrap_private_key(stolen["wrapped"], officer.password)
    account = session.get(Account, officer.id)
    assert account is not None
    assert totp_secret(account, private_key) == officer.totp_secret
    # And the login (password, then code) still works.
    log_in(app, app.test_client(), officer)


def test_a_totp_secret_stored_the_old_way_moves_to_the_account_key_at_the_next_login(
    app: Flask, session: Session, config: Config, officer: Person
) -> None:
    account = session.get(Account, officer.id)
    assert account is not None
    # A row from before the upgrade: the attack worked on it.
    account.totp_ciphertext = crypto.box_encrypt(
        _old_derived_key(config), officer.totp_secret.encode(), purpose=TOTP_PURPOSE, record_id=officer.id
    )
    assert _attacker_reads_totp(config, officer, _stolen_row(session, officer)) == officer.totp_secret

    log_in(app, app.test_client(), officer)

    session.expire_all()
    assert _attacker_reads_totp(config, officer, _stolen_row(session, officer)) is None
    _account, private_key = check_password(session, config, officer.login, officer.password)
    assert totp_secret(_account, private_key) == officer.totp_secret


def test_the_login_holds_the_account_key_only_between_its_two_steps(
    app: Flask, session: Session, officer: Person
) -> None:
    """What opens the TOTP secret is kept encrypted under the cookie's token, and gone after the code."""

    def login_rows() -> list[SecretSession]:
        with new_session(app) as db:
            return list(
                db.scalars(
                    select(SecretSession).where(
                        SecretSession.subject_id == officer.id, SecretSession.purpose == "login"
                    )
                )
            )

    client = app.test_client()
    assert submit_password(client, officer.login, officer.password).status_code == 303
    (pending,) = login_rows()
    private_key = crypto.unwrap_private_key(_stolen_row(session, officer)["wrapped"], officer.password)
    assert private_key not in pending.ciphertext
    assert officer.totp_secret.encode() not in pending.ciphertext
    assert submit_code(client, totp_code(app, officer)).status_code == 303
    # The login is complete: nothing that opens the TOTP secret is kept any more.
    assert login_rows() == []
