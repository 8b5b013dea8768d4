"""Shared steps of the journeys: the demo logins, logging in as a person does, and the accessibility guard.

Every page a journey reaches must pass axe-core: call `checked(page)` once the page shows what
the journey came for. The `journey` fixture (conftest) records every main-frame navigation of its
pages and fails the test at its end if a page reached was never checked.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from urllib.parse import urlsplit

import pyotp
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from clearing.cases import service
from clearing.demo import DEMO_ACCOUNTS, DEMO_NETWORK_ACCOUNT, DEMO_PARTNER_ACCOUNTS, DEMO_SLUG
from core.accounts import account_by_login
from core.app import state
from core.custody import office_key_from_recovery
from core.db import session_scope
from core.models import Municipality
from core.staff import Staff
from reporting.models import Case
from tests.browser.axe import check_accessibility
from tests.journeys.guard import guard
from tests.journeys.site import PHONE_VIEWPORT, Login, Site  # noqa: F401 (PHONE_VIEWPORT: for journeys' own pages)

# The demo's staff (`komma demo`); the TOTP secrets are generated per run: Site.login(name) has them.
OFFICER, OFFICER_PASSWORD = DEMO_ACCOUNTS[0][0], DEMO_ACCOUNTS[0][3]
CONFIRM_LINK_RE = re.compile(r"https?://\S+/e-mail-bestaetigen/\S+")  # the link in an address confirmation
COORDINATOR, COORDINATOR_PASSWORD = DEMO_ACCOUNTS[1][0], DEMO_ACCOUNTS[1][3]
PARTNER, PARTNER_PASSWORD = DEMO_PARTNER_ACCOUNTS[0][0], DEMO_PARTNER_ACCOUNTS[0][3]
NETWORK_OPERATOR, NETWORK_OPERATOR_PASSWORD = DEMO_NETWORK_ACCOUNT[0], DEMO_NETWORK_ACCOUNT[3]

RECEIPT_CODE_RE = re.compile(r"^\d{4} \d{4} \d{4} \d{4}$")

# The last TOTP step used per secret: the app takes each code once, so a second login of the same
# account within 30 s must use the next step (the app accepts one step ahead at most).
_USED_STEPS: dict[str, int] = {}


def checked(page: Page, what: str = "") -> None:
    """Assert axe-core finds no WCAG 2.1 A/AA violation on the page as it is now, and note its path as checked."""
    page.wait_for_load_state()
    path = urlsplit(page.url).path
    check_accessibility(page, what or path)
    guard(page).checked.add(path)


def checked_once(page: Page, what: str = "") -> None:
    """checked(), unless this page already passed axe-core at this path (a page a journey passes many times)."""
    if urlsplit(page.url).path not in guard(page).checked:
        checked(page, what)


def totp_code(secret: str) -> str:
    """A code the app accepts now and has not seen: a step after the last one used for this secret."""
    totp = pyotp.TOTP(secret)
    step = max(int(time.time()) // totp.interval, _USED_STEPS.get(secret, -1) + 1)
    while step > int(time.time()) // totp.interval + 1:
        time.sleep(0.5)
    _USED_STEPS[secret] = step
    return totp.generate_otp(step)


def log_in(page: Page, login: str, password: str, totp_secret: str) -> None:
    """Through the visible login form: user name and password, then the authenticator code; each page checked."""
    page.goto("/anmelden")
    expect(page.get_by_role("heading", level=1)).to_have_text("Anmeldung für Mitarbeitende")
    checked(page, "the staff login")
    page.get_by_label("Benutzername").fill(login)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Weiter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sicherheitscode")
    checked(page, "the TOTP code page")
    page.get_by_label("Sicherheitscode aus Ihrer Authenticator-App").fill(totp_code(totp_secret))
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("navigation", name="Bereiche").get_by_role("button", name="Abmelden")).to_be_visible()
    checked(page, f"the start page of {login}")


def log_in_as(page: Page, account: Login) -> None:
    """log_in with a demo login (`site.login(OFFICER)`)."""
    log_in(page, account.login, account.password, account.totp_secret)


def send_report(
    page: Page,
    slug: str,
    description: str,
    *,
    incident: str = "Beleidigung oder Verleumdung",
    acute: bool | None = None,
    consents: tuple[str, ...] = (),
    statistics: bool = True,
) -> str:
    """A reporter's report through the form, by label (no file, mailbox contact); the receipt code shown."""
    page.goto(f"/melden/{slug}")
    checked_once(page, "the report form")
    if acute is not None:  # the form's only yes/no question: "Sind Sie jetzt in akuter Gefahr?"
        page.get_by_role("radio", name="Ja" if acute else "Nein", exact=True).check()
    page.get_by_role("radio", name="Ich bin selbst betroffen").check()
    page.get_by_role("radio", name="Beschäftigte oder Beschäftigter der Verwaltung").check()
    page.get_by_role("checkbox", name=incident, exact=True).check()
    page.get_by_label("Beschreiben Sie, was passiert ist").fill(description)
    page.get_by_role("radio", name="Im Dienstgebäude oder am Arbeitsplatz").check()
    for consent in consents:
        page.get_by_role("checkbox", name=consent).check()
    page.get_by_role("checkbox", name="Meine Meldung darf anonym in die Statistik eingehen.").set_checked(statistics)
    page.get_by_role("radio", name="Nur über das Postfach (empfohlen, am sichersten)").check()
    page.get_by_role("button", name="Meldung verschlüsselt absenden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Meldung ist eingegangen")
    checked_once(page, "the receipt")
    code = page.get_by_test_id("receipt-code").inner_text().strip()
    assert RECEIPT_CODE_RE.match(code), code
    return code


def log_out(page: Page) -> None:
    """The "Abmelden" button in the main navigation; the page after it is checked."""
    page.get_by_role("navigation", name="Bereiche").get_by_role("button", name="Abmelden").click()
    page.wait_for_load_state()
    checked(page, "the page after logging out")


def table_row(page: Page, caption: str, row: str) -> Locator:
    """The row of the table named `caption` whose row header is `row`."""
    table = page.get_by_role("table", name=caption)
    return table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=row, exact=True))


def assess_every_case(site: Site) -> None:
    """Arranged, not clicked: the officer's part through the product's service (journey 2 does it in
    the browser): each open demo case reviewed, assessed as an insult, and marked assessed."""
    komma = state(site.app)
    with session_scope(komma.session_factory) as session:
        municipality = session.scalar(select(Municipality).where(Municipality.slug == DEMO_SLUG))
        officer = account_by_login(session, OFFICER)
        assert municipality is not None
        assert officer is not None
        staff = Staff(officer, office_key_from_recovery(session, municipality, site.recovery_key))
        received = select(Case).where(Case.municipality_id == municipality.id, Case.status == "received")
        for case in list(session.scalars(received)):
            service.change_status(session, staff, case, "in_review", "")
            service.save_assessment(
                session,
                staff,
                case,
                service.AssessmentInput(
                    urgency="normal",
                    escalation_level=1,
                    incident_types=["insult_defamation"],
                    motives=["racism"],
                    offences=["s185"],
                    phenomenon_area=None,
                    employer_duty=False,
                    case_conference=False,
                    known_on=date.today() - timedelta(days=1),
                    notes="",
                ),
            )
