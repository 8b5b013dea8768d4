"""Notification addresses in a real browser: set on the account or office page, confirmed by the link from the mail."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update
from werkzeug.serving import make_server

from core import create_app
from core.db import session_scope, utcnow
from core.devserver import AnonymousRequestHandler
from core.models import EmailConfirmation
from tests.browser.axe import check_accessibility
from tests.browser.conftest import new_context, require_browser_tools
from tests.browser.steps import log_in
from tests.conftest import empty_tables, make_test_config
from tests.factories import Person, Town, add_person, add_town, config_of
from tests.smtp import SmtpServer, free_port

pytestmark = pytest.mark.browser

LINK_RE = re.compile(r"http://127\.0\.0\.1:\d+/e-mail-bestaetigen/[A-Za-z0-9_-]+")


@pytest.fixture
def mail_app(migrated_database: str, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[tuple[Flask, str]]:
    """The app with the SMTP sink, served on a port its links name; jobs run inline."""
    require_browser_tools()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(
        make_test_config(migrated_database, tmp_path / "instance", smtp_url=smtp_server.url, base_url=base_url)
    )
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=AnonymousRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="address-test-server", daemon=True)
    thread.start()
    try:
        yield app, base_url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        empty_tables(app)
        app.extensions["komma"].engine.dispose()


@pytest.fixture
def town(mail_app: tuple[Flask, str]) -> Town:
    with session_scope(mail_app[0].extensions["komma"].session_factory) as session:
        return add_town(session, "linkstadt", "Linkstadt")


def person(app: Flask, town: Town, login: str, role: str) -> Person:
    with session_scope(app.extensions["komma"].session_factory) as session:
        return add_person(session, config_of(app), town, login, role)


@pytest.fixture
def page(browser: Browser, mail_app: tuple[Flask, str]) -> Iterator[Page]:
    context = new_context(browser, mail_app[1])
    yield context.new_page()
    context.close()


def link_from_mail(smtp_server: SmtpServer, to: str, count: int) -> str:
    mail = smtp_server.wait_for(count)[count - 1]
    assert mail.rcpt_tos == (to,)
    match = LINK_RE.search(mail.text)
    assert match, mail.text
    return match.group(0)


def ask_for(page: Page, label: str, address: str) -> None:
    page.get_by_label(label).fill(address)
    page.get_by_role("button", name="Bestätigungslink senden").click()


def test_a_staff_member_confirms_their_address_with_the_link_from_the_mail(
    mail_app: tuple[Flask, str], town: Town, page: Page, smtp_server: SmtpServer
) -> None:
    app, _ = mail_app
    officer = person(app, town, "link-fachkraft", "officer")
    log_in(page, app, officer.login, officer.password)
    page.get_by_role("navigation", name="Bereiche").get_by_role("link", name="Konto").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Konto")
    expect(page.get_by_text("Sie haben keine bestätigte Adresse hinterlegt")).to_be_visible()
    check_accessibility(page, "the account page")

    ask_for(page, "Neue E-Mail-Adresse", "fachkraft at linkstadt")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Bitte geben Sie eine gültige E-Mail-Adresse ein")
    expect(summary).to_contain_text("Es wurde noch nichts gespeichert.")
    check_accessibility(page, "the account page with an invalid address")
    assert smtp_server.mails == []

    ask_for(page, "Neue E-Mail-Adresse", "fachkraft@linkstadt.example")
    expect(page.get_by_text("Wir haben einen Bestätigungslink an fachkraft@linkstadt.example gesendet")).to_be_visible()
    expect(page.get_by_text("Wartet auf Bestätigung: fachkraft@linkstadt.example")).to_be_visible()
    check_accessibility(page, "the account page with a pending address")

    link = link_from_mail(smtp_server, "fachkraft@linkstadt.example", 1)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("E-Mail-Adresse bestätigen")
    check_accessibility(page, "the confirmation page")
    page.get_by_role("button", name="Adresse bestätigen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("E-Mail-Adresse bestätigt")
    check_accessibility(page, "the confirmed page")
    page.get_by_role("link", name="Zur Kontoseite").click()
    expect(page.get_by_text("Bestätigte Adresse: fachkraft@linkstadt.example")).to_be_visible()

    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("Dieser Bestätigungslink wurde schon benutzt.")
    check_accessibility(page, "a used link")

    # A second address whose link expires: the confirmed one stays.
    page.goto("/konto")
    ask_for(page, "Neue E-Mail-Adresse", "spaeter@linkstadt.example")
    expired = link_from_mail(smtp_server, "spaeter@linkstadt.example", 2)
    with session_scope(app.extensions["komma"].session_factory) as session:
        session.execute(update(EmailConfirmation).values(expires_at=utcnow() - timedelta(minutes=1)))
    page.goto(expired)
    expect(page.get_by_role("alert")).to_contain_text("Dieser Bestätigungslink ist abgelaufen")
    expect(page.get_by_role("alert")).to_contain_text("Es wurde nichts geändert.")
    check_accessibility(page, "an expired link")
    page.goto("/konto")
    expect(page.get_by_text("Bestätigte Adresse: fachkraft@linkstadt.example")).to_be_visible()

    page.get_by_role("button", name="E-Mail-Adresse entfernen").click()
    expect(page.get_by_text("Ihre E-Mail-Adresse wurde entfernt.")).to_be_visible()
    expect(page.get_by_text("Sie haben keine bestätigte Adresse hinterlegt")).to_be_visible()


def test_a_coordinator_sets_the_office_address(
    mail_app: tuple[Flask, str], town: Town, page: Page, smtp_server: SmtpServer
) -> None:
    app, _ = mail_app
    coordinator = person(app, town, "link-koordination", "coordinator")
    log_in(page, app, coordinator.login, coordinator.password)
    page.get_by_role("navigation", name="Bereiche").get_by_role("link", name="Benachrichtigungen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Benachrichtigungsadresse der Clearingstelle")
    check_accessibility(page, "the office address page")
    ask_for(page, "Neue Adresse der Clearingstelle", "")
    expect(page.get_by_role("alert")).to_contain_text("Bitte geben Sie eine E-Mail-Adresse ein.")
    check_accessibility(page, "the office address page with an error")

    ask_for(page, "Neue Adresse der Clearingstelle", "clearing@linkstadt.example")
    expect(page.get_by_text("Wartet auf Bestätigung: clearing@linkstadt.example")).to_be_visible()
    page.goto(link_from_mail(smtp_server, "clearing@linkstadt.example", 1))
    page.get_by_role("button", name="Adresse bestätigen").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Benachrichtigungen der Clearingstelle gehen jetzt an clearing@linkstadt.example"
    )
    page.goto("/verwaltung/benachrichtigungen")
    expect(page.get_by_text("Bestätigte Adresse: clearing@linkstadt.example")).to_be_visible()
