"""Steps the browser tests and the journeys share: staff login with TOTP, a small image, a partner's answers."""

from __future__ import annotations

import io
import re
import time

import pyotp
from flask import Flask
from PIL import Image
from playwright.sync_api import Page, expect

from core.accounts import account_by_login, totp_secret_with_password
from core.app import state
from core.db import session_scope
from tests.browser.axe import check_accessibility

OFFICER = ("demo-fachkraft", "demo-passwort-fachkraft")
COORDINATOR = ("demo-koordination", "demo-passwort-koordination")
RECEIPT_CODE_RE = re.compile(r"^\d{4} \d{4} \d{4} \d{4}$")
SENT = "Ihre Rückmeldung wurde verschlüsselt an die Clearingstelle gesendet."
CLOSE = "Abschließen (bitte ein Ergebnis wählen)"
DECLINE = "Ablehnen (bitte unten einen Grund angeben)"
FEEDBACK_LABEL = "Rückmeldung an die Clearingstelle (bei Ablehnung: Grund)"


def open_referral(page: Page, reference: str) -> None:
    """From the portal's list to one referral, by its reference."""
    page.get_by_role("navigation", name="Bereiche").get_by_role("link", name="Weiterleitungen").click()
    page.get_by_role("link", name=f"Weiterleitung {reference}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Weiterleitung {reference}")


def send_update(page: Page, step: str | None = None, *, text: str = "", outcome: str | None = None) -> None:
    """Choose the next step by its label (and an outcome, a text), then send."""
    form = page.get_by_role("region", name="Stand ändern und Rückmeldung geben")
    if step:
        form.get_by_role("radio", name=step).check()
    if outcome:
        form.get_by_label("Ergebnis (bei Abschluss)").select_option(label=outcome)
    if text:
        form.get_by_label(FEEDBACK_LABEL).fill(text)
    form.get_by_role("button", name="Verschlüsselt senden").click()


def expect_state(page: Page, state_words: str) -> None:
    """The page says it was sent, and the history's last entry carries the new state."""
    expect(page.get_by_role("status")).to_contain_text(SENT)
    history = page.get_by_role("region", name="Ihre bisherigen Rückmeldungen")
    expect(history).to_contain_text(state_words)


def next_steps(page: Page) -> list[str]:
    """The labels of the radios offered as the next step."""
    group = page.get_by_role("group", name="Nächster Schritt")
    if not group.count():
        return []
    return [
        label.strip() for label in group.get_by_role("radio").evaluate_all("rs => rs.map(r => r.labels[0].innerText)")
    ]


def small_png() -> bytes:
    image = Image.new("RGB", (24, 16), (30, 80, 120))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def totp_code(app: Flask, login: str, password: str) -> str:
    """A code the app will accept now: codes cannot be reused, so take a step after the last one used."""
    komma = state(app)
    with session_scope(komma.session_factory) as session:
        account = account_by_login(session, login)
        assert account is not None, login
        # The secret is sealed to the account key: only the password opens it, as at the login.
        secret, last_step = totp_secret_with_password(komma.config, account, password), account.last_totp_step
    assert secret is not None, login
    totp = pyotp.TOTP(secret)
    step = max(int(time.time()) // totp.interval, last_step + 1)
    while step > int(time.time()) // totp.interval + 1:  # the app accepts one step ahead at most
        time.sleep(1)
    return totp.generate_otp(step)


def log_in(page: Page, app: Flask, login: str, password: str, *, check_pages: bool = False) -> None:
    """Password first, then the TOTP code, both filled by label."""
    page.goto("/anmelden")
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmeldung für Mitarbeitende")
    if check_pages:
        check_accessibility(page, "the staff login")
    page.get_by_label("Benutzername").fill(login)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Weiter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sicherheitscode")
    if check_pages:
        check_accessibility(page, "the TOTP code page")
    page.get_by_label("Sicherheitscode aus Ihrer Authenticator-App").fill(totp_code(app, login, password))
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("navigation", name="Bereiche").get_by_role("button", name="Abmelden")).to_be_visible()
