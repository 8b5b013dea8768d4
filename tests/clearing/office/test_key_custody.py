"""Key custody as ARCHITECTURE.md says: the office key reaches an officer only by a grant, survives a
password change, and lives server-side only under a key held in the session cookie.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto
from clearing.audit.models import AuditEvent
from clearing.cases import service
from clearing.cases.errors import NoOfficeKey
from core import secret_sessions
from core.accounts import check_password
from core.config import Config
from core.custody import OfficeKeyring, office_key_for
from core.models import Account, Municipality, OfficeKeyGrant, SecretSession
from core.staff import Staff
from core.tenancy import OFFICE_KEY_PURPOSE, office_key_record_id
from reporting import case_crypto
from reporting.models import Case, ReporterAccess
from tests.factories import PDF_BYTES, Person, Town, World, add_person, add_town, new_session, submit_case
from tests.leaks import dump_contains, dump_database, dump_values
from tests.web import cookie_session, log_in, logged_in_client, staff_csrf, submit_password

NO_KEY_PAGE = "Noch kein Zugang zu den Fällen"
WRONG_LOGIN = "Benutzername oder Passwort ist falsch."


def _case_page(client, case_id: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"/clearing/fall/{case_id}")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def _account(session: Session, person: Person) -> Account:
    session.expire_all()
    account = session.get(Account, person.id)
    assert account is not None
    return account


def test_officer_without_grant_cannot_decrypt_until_a_colleague_grants_the_key(
    app: Flask, session: Session, world: World, config: Config
) -> None:
    waiting = world.waiting_a
    client = logged_in_client(app, waiting)
    page = _case_page(client, world.case_a.id)
    assert NO_KEY_PAGE in page
    assert "Fall in Astadt" not in page
    inbox = client.get("/clearing/").get_data(as_text=True)
    assert "noch keinen Zugang zu den Fallinhalten" in inbox
    assert world.case_a.reference in inbox  # the clear metadata is there, the summary is not
    assert "Fall in Astadt" not in inbox
    assert client.get(f"/clearing/fall/{world.case_a.id}/datei/{world.case_a.attachment_ids[0]}").status_code == 404

    # The service refuses too, and the account's own key opens no grant.
    case = session.get(Case, world.case_a.id)
    assert case is not None
    with pytest.raises(NoOfficeKey):
        service.case_key(Staff(_account(session, waiting), None), case)
    account, private_key = check_password(session, config, waiting.login, waiting.password)
    assert office_key_for(session, account, private_key) is None
    session.rollback()

    # A colleague who holds the key grants it over HTTP.
    colleague = logged_in_client(app, world.officer_a)
    grants_page = colleague.get("/verwaltung/freischalten").get_data(as_text=True)
    assert waiting.login in grants_page
    response = colleague.post(f"/verwaltung/freischalten/{waiting.id}", data={"csrf_token": staff_csrf(colleague)})
    assert response.status_code == 303
    assert "hat jetzt Zugang" in colleague.get(response.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(OfficeKeyGrant).where(OfficeKeyGrant.holder == waiting.id)) is not None
    granted = session.scalar(select(AuditEvent).where(AuditEvent.action == "office_key.granted"))
    assert granted is not None
    assert (granted.actor_id, granted.target_id) == (world.officer_a.id, waiting.id)

    # The running session still holds no key: the grant is opened at the next login.
    assert NO_KEY_PAGE in _case_page(client, world.case_a.id)
    fresh = app.test_client()
    log_in(app, fresh, waiting)
    page = _case_page(fresh, world.case_a.id)
    assert NO_KEY_PAGE not in page
    assert "Fall in Astadt" in page
    assert fresh.get(f"/clearing/fall/{world.case_a.id}/datei/{world.case_a.attachment_ids[0]}").data == PDF_BYTES


def test_an_officer_without_the_key_cannot_pass_it_on(
    app: Flask, session: Session, world: World, config: Config
) -> None:
    other = add_person(session, config, world.a, "noch-einer-a", grant=False)
    client = logged_in_client(app, world.waiting_a)
    response = client.post(f"/verwaltung/freischalten/{other.id}", data={"csrf_token": staff_csrf(client)})
    assert response.status_code == 303
    assert "können ihn nicht weitergeben" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert session.scalar(select(OfficeKeyGrant).where(OfficeKeyGrant.holder == other.id)) is None


def test_password_change_keeps_the_key_and_retires_the_old_password(app: Flask, session: Session, world: World) -> None:
    officer = world.officer_a
    before = _account(session, officer)
    old_hash, old_wrapped = before.password_hash, before.wrapped_private_key
    client = logged_in_client(app, officer)

    wrong = client.post(
        "/konto",
        data={
            "old_password": "not-my-password",
            "new_password": "ein neues langes Passwort",
            "repeat": "ein neues langes Passwort",
            "csrf_token": staff_csrf(client),
        },
    )
    assert wrong.status_code == 200
    assert "Das bisherige Passwort ist falsch." in wrong.get_data(as_text=True)
    assert _account(session, officer).password_hash == old_hash

    new_password = "ein neues langes Passwort"
    response = client.post(
        "/konto",
        data={
            "old_password": officer.password,
            "new_password": new_password,
            "repeat": new_password,
            "csrf_token": staff_csrf(client),
        },
    )
    assert response.status_code == 303
    after = _account(session, officer)
    assert after.password_hash != old_hash
    assert after.wrapped_private_key != old_wrapped
    # The same key pair, re-wrapped: the grant sealed to it still opens.
    assert after.public_key == before.public_key
    assert "Fall in Astadt" in _case_page(client, world.case_a.id)

    # The old password no longer works, the new one does (with a new login on another device).
    refused = submit_password(app.test_client(), officer.login, officer.password)
    assert refused.status_code == 200
    assert WRONG_LOGIN in refused.get_data(as_text=True)
    fresh = app.test_client()
    log_in(app, fresh, officer, password=new_password)
    assert "Fall in Astadt" in _case_page(fresh, world.case_a.id)


# `komma office grant` -------------------------------------------------------------------------------


def _grant_cli(app: Flask, slug: str, login: str, key: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["office", "grant", slug, login, "--recovery-key", key])


def test_office_grant_with_the_recovery_key(app: Flask, session: Session, world: World, config: Config) -> None:
    waiting = world.waiting_a
    result = _grant_cli(app, world.a.slug, waiting.login, world.a.recovery_key)
    assert result.exit_code == 0, result.output
    assert f"{waiting.login} now holds the office key of {world.a.slug}" in result.output
    account, private_key = check_password(session, config, waiting.login, waiting.password)
    office_key = office_key_for(session, account, private_key)
    assert office_key is not None
    municipality = session.get(Municipality, world.a.id)
    assert municipality is not None
    assert crypto.public_key_of(office_key) == municipality.office_public_key
    # Granting twice changes nothing.
    assert _grant_cli(app, world.a.slug, waiting.login, world.a.recovery_key).exit_code == 0
    session.expire_all()
    assert len(session.scalars(select(OfficeKeyGrant).where(OfficeKeyGrant.holder == waiting.id)).all()) == 1


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("other municipality's key", "does not open this municipality's office key"),
        ("malformed key", "does not open this municipality's office key"),
        ("officer of another municipality", "no officer"),
        ("coordinator", "only officers receive the office key"),
        ("unknown municipality", "no officer"),
    ],
)
def test_office_grant_refuses_with_a_message(
    app: Flask, session: Session, world: World, which: str, message: str
) -> None:
    slug, login, key = world.a.slug, world.waiting_a.login, world.a.recovery_key
    if which == "other municipality's key":
        key = world.b.recovery_key
    elif which == "malformed key":
        key = "ABCD-EFGH"
    elif which == "officer of another municipality":
        login = world.officer_b.login
    elif which == "coordinator":
        login = world.coordinator_a.login
    elif which == "unknown municipality":
        slug = "nirgendwo"
    result = _grant_cli(app, slug, login, key)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    session.expire_all()
    assert (
        session.scalar(
            select(OfficeKeyGrant).where(OfficeKeyGrant.holder.in_([world.waiting_a.id, world.coordinator_a.id]))
        )
        is None
    )


# A dump of the database and the session store, without the cookie --------------------------------------


def _session_key_candidates(value: bytes) -> list[bytes]:
    """A 32-byte value tried as a key as it is, and as a session token (from which the box key is derived)."""
    token = value.hex()
    return [value, hashlib.sha256(b"komma/session-key/" + bytes.fromhex(token)).digest()]


def _opens(attempt) -> bool:  # type: ignore[no-untyped-def]
    try:
        attempt()
    except (crypto.CryptoError, ValueError):
        return False
    return True


def _dump_with_sessions(app: Flask, session: Session, config: Config, world: World) -> tuple[object, dict]:  # type: ignore[type-arg]
    """Officer A logged in (office key in the store), officer B half-way (account key in the store)."""
    client = logged_in_client(app, world.officer_a)
    assert client.get(f"/clearing/fall/{world.case_a.id}").status_code == 200
    halfway = app.test_client()
    assert submit_password(halfway, world.officer_b.login, world.officer_b.password).status_code == 303
    with new_session(app) as db:
        purposes = sorted(row.purpose for row in db.scalars(select(SecretSession)))
    assert purposes == ["login", "staff"]
    return client, dump_database(app)


def test_a_dump_with_the_session_store_but_without_the_cookie_decrypts_nothing(
    app: Flask, session: Session, world: World, config: Config
) -> None:
    _client, dump = _dump_with_sessions(app, session, config, world)
    values = dump_values(dump)
    candidates = {bytes(v) for v in values if isinstance(v, bytes | memoryview) and len(bytes(v)) == 32}
    assert len(candidates) > 10  # public keys, hashes, session ids, lookup ids, the receipt salt...
    keys = {k for c in candidates for k in _session_key_candidates(c)}

    cases = dump["report_case"]
    grants = dump["office_key_grant"]
    stored_sessions = dump["secret_session"]
    accesses = dump["reporter_access"]
    attempts = []
    for key in keys:
        for c in cases:
            attempts.append(
                lambda key=key, c=c: crypto.open_sealed(
                    key, bytes(c["sealed_case_key"]), purpose="case-key", record_id=c["id"]
                )
            )
            attempts.append(
                lambda key=key, c=c: case_crypto.decrypt_report(key, c["id"], bytes(c["report_ciphertext"]))
            )
        for g in grants:
            record = office_key_record_id(g["municipality_id"], g["holder"])
            attempts.append(
                lambda key=key, g=g, record=record: crypto.open_sealed(
                    key, bytes(g["sealed_private_key"]), purpose=OFFICE_KEY_PURPOSE, record_id=record
                )
            )
        for s in stored_sessions:
            attempts.append(
                lambda key=key, s=s: crypto.box_decrypt(
                    key, bytes(s["ciphertext"]), purpose=f"session-{s['purpose']}", record_id=s["subject_id"]
                )
            )
        for a in accesses:
            attempts.append(
                lambda key=key, a=a: crypto.box_decrypt(
                    key, bytes(a["wrapped_case_key"]), purpose="reporter-case-key", record_id=a["case_id"]
                )
            )
    assert len(attempts) > 100
    opened = [attempt for attempt in attempts if _opens(attempt)]
    assert opened == []

    # Nor is anything readable lying about in clear.
    for secret in (
        "Fall in Astadt",
        world.a.recovery_key,
        world.officer_a.password,
        world.officer_a.totp_secret,
        world.case_a.receipt_code.replace(" ", ""),
    ):
        assert dump_contains(dump, secret) == [], secret


def test_with_the_cookie_the_office_key_comes_back(app: Flask, session: Session, world: World, config: Config) -> None:
    client, _dump = _dump_with_sessions(app, session, config, world)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    token = cookie_session(app, client)["staff"]
    with new_session(app) as db:
        opened = secret_sessions.open_session(db, token, purpose="staff", touch=False)
        assert opened is not None
        # The server half holds the officer's office keyring (every epoch they reach), the current key newest.
        office_key = OfficeKeyring.decode(opened.secret).current
        municipality = db.get(Municipality, world.a.id)
        case = db.get(Case, world.case_a.id)
        assert municipality is not None
        assert case is not None
        assert crypto.public_key_of(office_key) == municipality.office_public_key
        case_key = case_crypto.open_case_key(office_key, case.sealed_case_key, case.id)
        assert case_crypto.decrypt_report(case_key, case.id, case.report_ciphertext)["description"] == "Fall in Astadt"
        assert db.scalar(select(ReporterAccess).where(ReporterAccess.case_id == case.id)) is not None
    # The cookie carries the token only, never the key itself.
    for form in (
        office_key,
        office_key.hex().encode(),
        base64.b64encode(office_key),
        base64.urlsafe_b64encode(office_key).rstrip(b"="),
    ):
        assert form not in cookie.value.encode()

    # The cookie without the server half is a random string: delete the row and the session is gone.
    with new_session(app) as db:
        db.execute(SecretSession.__table__.delete())
        db.commit()
    response = client.get("/clearing/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/anmelden")


def test_cases_of_two_municipalities_need_their_own_office_key(
    app: Flask, session: Session, config: Config, town_a: Town
) -> None:
    b = add_town(session, "zweitstadt", "Zweitstadt")
    officer_b = add_person(session, config, b, "fachkraft-zwei")
    case_a = submit_case(session, config, town_a, description="nur für A")
    account, private_key = check_password(session, config, officer_b.login, officer_b.password)
    office_b = office_key_for(session, account, private_key)
    assert office_b is not None
    case = session.get(Case, case_a.id)
    assert case is not None
    with pytest.raises(crypto.CryptoError):
        case_crypto.open_case_key(office_b, case.sealed_case_key, case.id)
