"""The accessibility statement and the Leichte Sprache page in a real browser, keyboard only and with axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import check_accessibility

pytestmark = pytest.mark.browser


def test_accessibility_statement_names_contact_date_and_conciliation_body(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name="Barrierefreiheit").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erklärung zur Barrierefreiheit")
    expect(page.get_by_role("heading", name="Stand der Vereinbarkeit mit den Anforderungen")).to_be_visible()
    expect(page.get_by_role("heading", name="Nicht barrierefreie Inhalte")).to_be_visible()
    expect(page.get_by_text("zuletzt am", exact=False)).to_be_visible()
    contact = page.get_by_role("link", name="meldestelle@localhost")
    expect(contact).to_have_attribute("href", "mailto:meldestelle@localhost")
    expect(page.get_by_text("Schlichtungsstelle nach § 16 Behindertengleichstellungsgesetz (BGG)")).to_be_visible()
    expect(page.get_by_text("Mauerstraße 53")).to_be_visible()
    check_accessibility(page, "the accessibility statement")


def test_plain_language_page_leads_to_the_form_and_the_mailbox_by_keyboard(page: Page) -> None:
    page.goto("/barrierefreiheit")
    page.get_by_role("link", name="Informationen in Leichter Sprache").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Die Meldestelle in Leichter Sprache")
    for question in ("Was ist eine Meldung?", "Was ist der Code?", "Was ist das Postfach?"):
        expect(page.get_by_role("heading", name=question, level=2)).to_be_visible()
    expect(page.get_by_role("main").get_by_role("link", name="110")).to_have_attribute("href", "tel:110")
    check_accessibility(page, "the Leichte Sprache page")

    page.get_by_role("link", name="Meldung machen für Musterstadt").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vorfall melden: Musterstadt")

    page.go_back()
    page.get_by_role("link", name="Zum Postfach").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Postfach")
