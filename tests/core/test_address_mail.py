"""Notification addresses over HTTP with a real SMTP server: the link arrives, confirms once, and new reports reach it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Config
from core.models import Account, EmailConfirmation, Municipality
from tests.conftest import make_test_config
from tests.factories import Town, add_person, add_town, config_of, submit_case
from tests.leaks import dump_contains, dump_database
from tests.smtp import SmtpServer
from tests.web import logged_in_client, staff_csrf

BASE_URL = "https://meldestelle.example"
LINK_RE = re.compile(re.escape(BASE_URL) + r"(/e-mail-bestaetigen/[A-Za-z0-9_-]+)")
DESCRIPTION = "Nach der Ratssitzung wurde ich auf dem Parkplatz bedroht."
INVALID = "Bitte geben Sie eine gültige E-Mail-Adresse ein"


@pytest.fixture
def app_config(migrated_database: str, tmp_path: Path, smtp_server: SmtpServer) -> Config:
    """The app with the SMTP sink; jobs run inline after each commit (no Redis)."""
    return make_test_config(migrated_database, tmp_path / "instance", smtp_url=smtp_server.url, base_url=BASE_URL)


@pytest.fixture
def mail_app(app: Flask) -> Flask:
    return app


@pytest.fixture
def db(session: Session) -> Session:
    return session


@pytest.fixture
def town(db: Session) -> Town:
    return add_town(db, "mailstadt", "Mailstadt")


def link_in(smtp_server: SmtpServer, to: str) -> str:
    (mail,) = [m for m in smtp_server.wait_for(1) if m.rcpt_tos == (to,)]
    assert "bestätigen" in mail.subject
    match = LINK_RE.search(mail.text)
    assert match, mail.text
    return match.group(1)


def set_address(client: FlaskClient, address: str) -> str:
    response = client.post("/konto/e-mail", data={"address": address, "csrf_token": staff_csrf(client)})
    return response.get_data(as_text=True) if response.status_code == 200 else response.headers["Location"]


def confirm(client: FlaskClient, path: str) -> tuple[int, str]:
    shown = client.get(path)
    token = re.search(r'name="csrf_token" value="([^"]+)"', shown.get_data(as_text=True))
    response = client.post(path, data={"csrf_token": token.group(1) if token else ""})
    return response.status_code, response.get_data(as_text=True)


def test_the_link_in_the_mail_confirms_the_address_once(
    mail_app: Flask, db: Session, town: Town, smtp_server: SmtpServer
) -> None:
    officer = add_person(db, config_of(mail_app), town, "mail-fachkraft")
    client = logged_in_client(mail_app, officer)
    assert set_address(client, "fachkraft@mailstadt.example").endswith("/konto#e-mail")
    path = link_in(smtp_server, "fachkraft@mailstadt.example")
    token = path.rsplit("/", 1)[1]
    # The mail is sent; the database keeps neither the token nor anything that makes it again.
    assert dump_contains(dump_database(mail_app), token) == []
    assert db.scalars(select(EmailConfirmation.token_box)).one() is None

    page = client.get("/konto").get_data(as_text=True)
    assert "Wartet auf Bestätigung: fachkraft@mailstadt.example" in page
    assert "Sie haben keine bestätigte Adresse" in page

    assert "Adresse bestätigen" in client.get(path).get_data(as_text=True)
    assert db.scalar(select(Account.email).where(Account.id == officer.id)) == "", (
        "a GET (a mail scanner) confirms nothing"
    )
    status, text = confirm(client, path)
    assert status == 200
    assert "Ihre Benachrichtigungen gehen jetzt an fachkraft@mailstadt.example" in text
    assert "Bestätigte Adresse: <strong>fachkraft@mailstadt.example</strong>" in client.get("/konto").get_data(
        as_text=True
    )

    status, text = confirm(client, path)
    assert status == 410
    assert "Dieser Bestätigungslink wurde schon benutzt." in text
    assert "Es wurde nichts geändert." in text


def test_the_mail_is_german_word_for_word_whatever_language_the_page_was_in(
    mail_app: Flask, db: Session, town: Town, smtp_server: SmtpServer
) -> None:
    officer = add_person(db, config_of(mail_app), town, "mail-englisch")
    client = logged_in_client(mail_app, officer)
    response = client.post(
        "/konto/e-mail?lang=en", data={"address": "englisch@mailstadt.example", "csrf_token": staff_csrf(client)}
    )
    assert response.status_code == 303
    path = link_in(smtp_server, "englisch@mailstadt.example")
    (mail,) = smtp_server.mails
    assert mail.subject == "Komm.A Meldestelle: Bitte bestätigen Sie Ihre E-Mail-Adresse"
    # Word for word as before the texts went through gettext (the wire turns line ends into CRLF).
    assert mail.text.replace("\r\n", "\n") == (
        "Guten Tag,\n\n"
        "diese Adresse soll die Benachrichtigungsadresse Ihres Kontos in der Meldestelle werden.\n"
        "Bitte bestätigen Sie das innerhalb von 24 Stunden über diesen Link:\n"
        f"{BASE_URL}{path}\n\n"
        "Wenn Sie das nicht veranlasst haben, ignorieren Sie diese Nachricht; es ändert sich dann nichts.\n\n"
        "Diese Nachricht enthält aus Datenschutzgründen keine Inhalte.\n"
        "This message contains no content, for data protection reasons.\n"
    )


def test_an_invalid_address_gets_a_german_message_and_no_mail(
    mail_app: Flask, db: Session, town: Town, smtp_server: SmtpServer
) -> None:
    officer = add_person(db, config_of(mail_app), town, "mail-vertipper")
    client = logged_in_client(mail_app, officer)
    page = set_address(client, "fachkraft(at)mailstadt")
    assert INVALID in page
    assert 'aria-invalid="true"' in page
    assert db.scalars(select(EmailConfirmation)).all() == []
    assert smtp_server.mails == []
    status, text = confirm(client, "/e-mail-bestaetigen/ausgedachter-link")
    assert status == 410
    assert "Diesen Bestätigungslink gibt es nicht" in text


def test_a_new_report_reaches_the_officer_and_the_office_without_content(
    mail_app: Flask, db: Session, town: Town, smtp_server: SmtpServer
) -> None:
    config = config_of(mail_app)
    officer = add_person(db, config, town, "mail-eingang")
    coordinator = add_person(db, config, town, "mail-koordination", "coordinator")
    quiet = add_person(db, config, town, "mail-ohne-adresse")
    del quiet  # an officer without a confirmed address is simply not mailed

    officer_client = logged_in_client(mail_app, officer)
    set_address(officer_client, "eingang@mailstadt.example")
    confirm(officer_client, link_in(smtp_server, "eingang@mailstadt.example"))
    coordinator_client = logged_in_client(mail_app, coordinator)
    response = coordinator_client.post(
        "/verwaltung/benachrichtigungen",
        data={"address": "clearing@mailstadt.example", "csrf_token": staff_csrf(coordinator_client)},
    )
    assert response.status_code == 303
    office_link = link_in(smtp_server, "clearing@mailstadt.example")
    assert db.get(Municipality, town.id).notify_email == ""  # type: ignore[union-attr]
    status, text = confirm(coordinator_client, office_link)
    assert status == 200
    assert "Benachrichtigungen der Clearingstelle gehen jetzt an clearing@mailstadt.example" in text
    smtp_server.clear()

    submitted = submit_case(db, config, town, description=DESCRIPTION)
    mails = smtp_server.wait_for(2)
    assert sorted(m.rcpt_tos for m in mails) == [("clearing@mailstadt.example",), ("eingang@mailstadt.example",)]
    for mail in mails:
        assert mail.subject == "Komm.A Meldestelle: Neue Meldung eingegangen"
        assert f"{BASE_URL}/anmelden" in mail.text
        assert "keine Inhalte" in mail.text
        for secret in (DESCRIPTION, submitted.reference, "Bedrohung", "threat", "Rassismus", "racism"):
            assert secret not in mail.text
            assert secret not in mail.subject


def test_a_link_from_a_mail_program_keeps_the_reader_logged_in(
    mail_app: Flask, db: Session, town: Town, smtp_server: SmtpServer
) -> None:
    officer = add_person(db, config_of(mail_app), town, "hop-fachkraft")
    client = logged_in_client(mail_app, officer)
    set_address(client, "hop@mailstadt.example")
    path = link_in(smtp_server, "hop@mailstadt.example")
    # A click in a mail program is a cross-site navigation: the SameSite=Strict cookie stays home.
    arriving = mail_app.test_client(use_cookies=False).get(path)
    assert "Set-Cookie" not in arriving.headers, "no new session replaces the old"
    assert f'href="{path}?weiter=1"' in arriving.get_data(as_text=True)
    assert "csrf_token" not in arriving.get_data(as_text=True)
    # The link within the site brings the cookie along: the reader is still logged in and confirms.
    assert "Adresse bestätigen" in client.get(f"{path}?weiter=1").get_data(as_text=True)
    # Without any session (another device), "weiter" shows the form instead of hopping again.
    assert "Adresse bestätigen" in mail_app.test_client().get(f"{path}?weiter=1").get_data(as_text=True)
    status, _text = confirm(client, path)
    assert status == 200
    assert client.get("/konto").status_code == 200
