"""The coordinator's team page in a real browser: real roles, deactivating after a confirmation, reactivating."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect

from core.app import state
from core.db import session_scope
from tests.browser.axe import check_accessibility
from tests.browser.conftest import new_context
from tests.browser.steps import log_in
from tests.factories import Alliance, build_alliance, partner_org

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def alliance(live_app: Flask) -> Alliance:
    komma = state(live_app)
    with session_scope(komma.session_factory) as session:
        return build_alliance(session, komma.config, "teambrowser", "Teambrowser")


@pytest.fixture
def other_context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    ctx = new_context(browser, live_server)
    yield ctx
    ctx.close()


def test_the_coordinator_sees_real_roles_and_switches_an_account_off_and_on(
    page: Page, other_context: BrowserContext, live_app: Flask, alliance: Alliance
) -> None:
    with session_scope(state(live_app).session_factory) as session:
        counselling = partner_org(session, alliance.town, "opferberatung").name
    officer = other_context.new_page()
    log_in(officer, live_app, alliance.officer2.login, alliance.officer2.password)

    log_in(page, live_app, alliance.coordinator.login, alliance.coordinator.password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Team der Clearingstelle")
    partner_row = page.get_by_role("row").filter(has_text=alliance.partners["opferberatung"].login)
    expect(partner_row).to_contain_text(f"Partnerorganisation: {counselling}")
    expect(partner_row).not_to_contain_text("Koordination")
    own_row = page.get_by_role("row").filter(has_text=alliance.coordinator.login)
    expect(own_row).to_contain_text("Ihr Konto")
    expect(own_row.get_by_role("link")).to_have_count(0)
    check_accessibility(page, "the team page")

    row = page.get_by_role("row").filter(has_text=alliance.officer2.login)
    row.get_by_role("link", name="Deaktivieren").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("deaktivieren?")
    expect(page.get_by_role("main")).to_contain_text("kann sich danach nicht mehr anmelden")
    check_accessibility(page, "the deactivation's confirmation")
    page.get_by_role("button", name="Ja, Konto deaktivieren").click()
    expect(page.get_by_role("status")).to_contain_text("ist deaktiviert. Alle Sitzungen wurden beendet.")
    expect(row).to_contain_text("deaktiviert")
    check_accessibility(page, "the team page after a deactivation")

    # The officer's open session is over: the next click leads to the login.
    officer.reload()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Anmeldung für Mitarbeitende")

    row.get_by_role("button", name="Wieder aktivieren").click()
    expect(page.get_by_role("status")).to_contain_text("ist wieder aktiv")
    expect(row.get_by_role("link", name="Deaktivieren")).to_be_visible()
    log_in(officer, live_app, alliance.officer2.login, alliance.officer2.password)
