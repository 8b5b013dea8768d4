"""Staff login over HTTP: one message for every refusal, no code reuse, growing delay, a renewed
session, idle timeout, logout (also everywhere), no open redirect, TOTP enrolment.
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from urllib.parse import unquote

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import secret_sessions
from core.config import Config
from core.db import utcnow
from core.models import Account, SecretSession
from core.staff import STAFF_IDLE
from tests.factories import Person, Town, add_person, add_town, config_of, new_session
from tests.web import (
    CSRF_VALUE_RE,
    cookie_session,
    csrf_token,
    log_in,
    logged_in_client,
    staff_csrf,
    submit_code,
    submit_password,
    totp_code,
)

WRONG_LOGIN = "Benutzername oder Passwort ist falsch."
WRONG_CODE = "Der Code ist falsch oder wurde schon benutzt."
DELAYED = "Zu viele Fehlversuche."


@pytest.fixture
def config(app: Flask) -> Config:
    return config_of(app)


@pytest.fixture
def town(session: Session) -> Town:
    return add_town(session, "anmeldestadt", "Anmeldestadt")


@pytest.fixture
def officer(session: Session, config: Config, town: Town) -> Person:
    return add_person(session, config, town, "fachkraft", display_name="Frieda Fachkraft")


def _staff_rows(app: Flask, person: Person) -> list[SecretSession]:
    with new_session(app) as db:
        return list(
            db.scalars(
                select(SecretSession).where(SecretSession.subject_id == person.id, SecretSession.purpose == "staff")
            )
        )


def _is_logged_in(client: FlaskClient) -> bool:
    response = client.get("/konto")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/anmelden")
        return False
    assert response.status_code == 200
    return True


def test_the_same_message_for_an_unknown_login_and_a_wrong_password(app: Flask, officer: Person) -> None:
    unknown = submit_password(app.test_client(), "niemand-hier", "irgendein passwort")
    wrong = submit_password(app.test_client(), officer.login, "irgendein passwort")
    assert unknown.status_code == wrong.status_code == 200
    pages = []
    for response, login in ((unknown, "niemand-hier"), (wrong, officer.login)):
        page = response.get_data(as_text=True)
        assert WRONG_LOGIN in page
        pages.append(CSRF_VALUE_RE.sub("", page.replace(login, "<login>")))
    assert pages[0] == pages[1]


def test_a_totp_code_cannot_be_used_twice(app: Flask, officer: Person) -> None:
    client = app.test_client()
    code = totp_code(app, officer)
    assert submit_password(client, officer.login, officer.password).status_code == 303
    assert submit_code(client, code).status_code == 303
    client.post("/abmelden", data={"csrf_token": staff_csrf(client)})
    assert not _is_logged_in(client)
    assert submit_password(client, officer.login, officer.password).status_code == 303
    replayed = submit_code(client, code)
    assert replayed.status_code == 200
    assert WRONG_CODE in replayed.get_data(as_text=True)
    assert not _is_logged_in(client)
    # The next step's code still works.
    assert submit_code(client, totp_code(app, officer)).status_code == 303
    assert _is_logged_in(client)


def test_failed_logins_are_delayed_over_http(app: Flask, session: Session, officer: Person) -> None:
    client = app.test_client()
    for _ in range(3):
        assert WRONG_LOGIN in submit_password(client, officer.login, "not the password").get_data(as_text=True)
    session.expire_all()
    account = session.get(Account, officer.id)
    assert account is not None
    assert account.failed_logins == 3
    assert account.locked_until is not None
    # Delayed: even the right password does not pass now.
    delayed = submit_password(client, officer.login, officer.password)
    assert delayed.status_code == 200
    assert DELAYED in delayed.get_data(as_text=True)
    # Once the delay is over, the right password and code log in and reset the count.
    session.execute(
        update(Account).where(Account.id == officer.id).values(locked_until=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    log_in(app, client, officer)
    session.expire_all()
    account = session.get(Account, officer.id)
    assert account is not None
    assert (account.failed_logins, account.locked_until) == (0, None)


def test_the_session_is_renewed_at_login(app: Flask, officer: Person) -> None:
    client = app.test_client()
    csrf_token(client, "/anmelden")
    anonymous_cookie = client.get_cookie("komma_session")
    assert anonymous_cookie is not None
    assert submit_password(client, officer.login, officer.password).status_code == 303
    pending_cookie = client.get_cookie("komma_session")
    assert pending_cookie is not None
    pending = cookie_session(app, client)
    assert set(pending) == {"csrf_token", "login_pending"}
    assert submit_code(client, totp_code(app, officer)).status_code == 303
    staff_cookie = client.get_cookie("komma_session")
    assert staff_cookie is not None
    after = cookie_session(app, client)
    assert set(after) == {"staff"}  # nothing carried over, not even the CSRF token
    assert len({anonymous_cookie.value, pending_cookie.value, staff_cookie.value}) == 3
    assert after["staff"] != pending["login_pending"]
    with new_session(app) as db:
        assert db.scalars(select(SecretSession.purpose).where(SecretSession.subject_id == officer.id)).all() == [
            "staff"
        ]
    # A cookie from before the login (planted by someone else, say) opens nothing.
    for old in (anonymous_cookie, pending_cookie):
        other = app.test_client()
        other.set_cookie("komma_session", old.value)
        assert not _is_logged_in(other)
        assert other.get("/anmelden/code").headers["Location"].startswith("/anmelden")


def test_idle_sessions_end_after_30_minutes(app: Flask, officer: Person) -> None:
    client = logged_in_client(app, officer)
    (row,) = _staff_rows(app, officer)
    assert row.idle_seconds == 30 * 60 == STAFF_IDLE.total_seconds()
    assert timedelta(minutes=29) < row.expires_at - utcnow() <= timedelta(minutes=30)
    # Activity keeps it alive: each request moves the end.
    with new_session(app) as db:
        db.execute(
            update(SecretSession)
            .where(SecretSession.id_hash == row.id_hash)
            .values(expires_at=utcnow() + timedelta(minutes=1))
        )
        db.commit()
    assert _is_logged_in(client)
    (row,) = _staff_rows(app, officer)
    assert row.expires_at - utcnow() > timedelta(minutes=29)
    # 30 idle minutes: the session is gone, and so is its server half.
    with new_session(app) as db:
        db.execute(
            update(SecretSession)
            .where(SecretSession.id_hash == row.id_hash)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.commit()
    response = client.get("/clearing/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/anmelden")
    assert _staff_rows(app, officer) == []


def test_expired_sessions_are_purged(app: Flask, officer: Person) -> None:
    logged_in_client(app, officer)
    with new_session(app) as db:
        db.execute(update(SecretSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert secret_sessions.purge_expired(db) == 1
        db.commit()
    assert _staff_rows(app, officer) == []


def test_logout_deletes_the_server_half(app: Flask, officer: Person) -> None:
    client = logged_in_client(app, officer)
    cookie = client.get_cookie("komma_session")
    assert cookie is not None
    assert len(_staff_rows(app, officer)) == 1
    response = client.post("/abmelden", data={"csrf_token": staff_csrf(client)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/anmelden"
    assert _staff_rows(app, officer) == []
    assert not _is_logged_in(client)
    # The old cookie, replayed, opens nothing.
    replay = app.test_client()
    replay.set_cookie("komma_session", cookie.value)
    assert not _is_logged_in(replay)


def test_log_out_everywhere_ends_the_other_devices_too(
    app: Flask, session: Session, config: Config, town: Town, officer: Person
) -> None:
    colleague = add_person(session, config, town, "kollegin")
    laptop = logged_in_client(app, officer)
    phone = logged_in_client(app, officer)
    other_person = logged_in_client(app, colleague)
    assert len(_staff_rows(app, officer)) == 2
    response = laptop.post("/konto/ueberall-abmelden", data={"csrf_token": staff_csrf(laptop)})
    assert response.status_code == 303
    assert not _is_logged_in(laptop)
    assert not _is_logged_in(phone)
    assert _staff_rows(app, officer) == []
    assert _is_logged_in(other_person)  # nobody else is logged out


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/clearing/",
        "https://evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "%2F%2Fevil.example",
        "/%2F/evil.example",
        "/%5Cevil.example",
        # Browsers drop tabs and newlines inside a URL: "/<tab>/evil.example" is "//evil.example".
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D%0ASet-Cookie:%20x=1",
        "/%20/evil.example",
    ],
)
def test_no_open_redirect_after_login(app: Flask, officer: Person, target: str) -> None:
    response = log_in(app, app.test_client(), officer, next_path=target)
    location = response.headers["Location"]
    assert location == "/clearing/"
    assert "evil" not in unquote(location)


def test_a_path_on_this_site_is_followed_after_login(app: Flask, officer: Person) -> None:
    client = app.test_client()
    response = client.get("/verwaltung/freischalten")
    assert response.status_code == 302
    target = response.headers["Location"]
    assert target == "/anmelden?next=/verwaltung/freischalten"
    assert (
        log_in(app, client, officer, next_path="/verwaltung/freischalten").headers["Location"]
        == "/verwaltung/freischalten"
    )


def test_totp_enrolment_shows_a_qr_code_and_the_secret(
    app: Flask, session: Session, config: Config, town: Town
) -> None:
    newcomer = add_person(session, config, town, "neuling", totp_confirmed=False)
    client = app.test_client()
    assert submit_password(client, newcomer.login, newcomer.password).status_code == 303
    page = client.get("/anmelden/code").get_data(as_text=True)
    qr = re.search(r'<img src="(data:image/svg\+xml[^"]+)"', page)
    assert qr is not None
    svg = _data_uri(qr.group(1))
    assert svg.lstrip().startswith(("<?xml", "<svg"))
    assert "<path" in svg
    grouped = " ".join(newcomer.totp_secret[i : i + 4] for i in range(0, len(newcomer.totp_secret), 4))
    assert grouped in page
    assert (
        pyotp.TOTP(newcomer.totp_secret)
        .provisioning_uri(name=newcomer.login, issuer_name="Komm.A Meldestelle")
        .startswith("otpauth://totp/")
    )
    assert submit_code(client, totp_code(app, newcomer)).status_code == 303
    session.expire_all()
    account = session.get(Account, newcomer.id)
    assert account is not None
    assert account.totp_confirmed
    # Once confirmed, the secret is not shown again.
    again = app.test_client()
    assert submit_password(again, newcomer.login, newcomer.password).status_code == 303
    page = again.get("/anmelden/code").get_data(as_text=True)
    assert "data:image/svg+xml" not in page
    assert grouped not in page


def _data_uri(uri: str) -> str:
    header, _, data = uri.partition(",")
    if header.endswith(";base64"):
        return base64.b64decode(data).decode()
    return unquote(data)


def test_the_code_step_needs_the_password_step(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/anmelden/code")
    assert response.status_code == 303
    assert response.headers["Location"] == "/anmelden"


def test_a_form_sent_after_the_session_ended_leads_back_to_a_page(
    app: Flask, session: Session, config: Config, town: Town, officer: Person
) -> None:
    # The session ran out while a form was open: the form's action is POST-only, so the login
    # must not send the officer back to it (that would be a "method not allowed" page).
    newcomer = add_person(session, config, town, "neuling", grant=False)
    client = app.test_client()
    response = client.post(
        f"/verwaltung/freischalten/{newcomer.id}", data={"csrf_token": csrf_token(client, "/anmelden")}
    )
    assert response.status_code == 302
    login_page = response.headers["Location"]
    assert login_page.startswith("/anmelden")
    next_path = login_page.partition("next=")[2] or None
    final = log_in(app, client, officer, next_path=unquote(next_path) if next_path else None)
    assert client.get(final.headers["Location"]).status_code == 200
