"""The partner organisation in a real browser: acknowledge, accept, give feedback, close; and decline.

The referrals are prepared through the services (the officer's side has its own journey); the
partner clicks only what a person sees: the radios by their labels, the outcome by its label.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from clearing.referrals.models import Referral
from clearing.referrals.service import referral_reference
from core.app import state
from core.db import session_scope
from tests.browser.axe import check_accessibility
from tests.browser.steps import CLOSE, DECLINE, expect_state, log_in, next_steps, open_referral, send_update
from tests.factories import Alliance, build_alliance, refer_case, submit_case

pytestmark = pytest.mark.browser

FEEDBACK = "Wir haben Kontakt aufgenommen; ein erstes Gespräch ist vereinbart."
REASON = "Für diesen Fall sind wir nicht zuständig: bitte an die Antidiskriminierungsstelle."


@pytest.fixture(scope="module")
def alliance(live_app: Flask) -> Alliance:
    komma = state(live_app)
    with session_scope(komma.session_factory) as session:
        return build_alliance(session, komma.config, "partnerbrowser", "Partnerbrowser")


def _referred(app: Flask, alliance: Alliance, description: str) -> str:
    komma = state(app)
    with session_scope(komma.session_factory) as session:
        case = submit_case(session, komma.config, alliance.town, description=description)
        return refer_case(session, alliance.town, alliance.officer, case.id)


def _state(app: Flask, referral_id: str) -> tuple[str, str | None]:
    with session_scope(state(app).session_factory) as session:
        row = session.execute(select(Referral.state, Referral.outcome).where(Referral.id == referral_id)).one()
        return row.state, row.outcome


def test_a_partner_acknowledges_accepts_reports_back_and_closes_and_declines_another(
    page: Page, live_app: Flask, alliance: Alliance
) -> None:
    kept = _referred(live_app, alliance, "Drohbrief an die Bürgermeisterin, zweite Seite mit Hakenkreuz.")
    declined = _referred(live_app, alliance, "Beleidigende Kommentare unter dem Beitrag der Gemeinde.")
    partner = alliance.partners["opferberatung"]
    log_in(page, live_app, partner.login, partner.password)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Weiterleitungen an")
    check_accessibility(page, "the partner portal")

    # The first referral: the radios carry their labels, and each step moves the state on.
    open_referral(page, referral_reference(kept))
    expect(page.get_by_role("region", name="Inhalt")).to_contain_text("Drohbrief an die Bürgermeisterin")
    assert next_steps(page) == ["Eingang bestätigen", "Annehmen", DECLINE]
    check_accessibility(page, "a referral to the partner")
    send_update(page, "Eingang bestätigen")
    expect_state(page, "empfangen")
    assert next_steps(page) == ["Annehmen", DECLINE]
    send_update(page, "Annehmen")
    expect_state(page, "angenommen")
    send_update(page, text=FEEDBACK)
    expect_state(page, FEEDBACK)
    assert _state(live_app, kept) == ("accepted", None)
    # Closing without an outcome is refused in words, and changes nothing.
    send_update(page, CLOSE)
    expect(page).to_have_title(re.compile(r"^Fehler:"))
    expect(page.get_by_role("alert")).to_contain_text("Bitte wählen Sie ein Ergebnis.")
    check_accessibility(page, "a refused closing")
    assert _state(live_app, kept) == ("accepted", None)
    send_update(page, CLOSE, outcome="Beratung begonnen")
    expect_state(page, "abgeschlossen")
    expect(page.get_by_role("region", name="Ihre bisherigen Rückmeldungen")).to_contain_text("Beratung begonnen")
    assert next_steps(page) == []
    assert _state(live_app, kept) == ("completed", "counselling_started")
    check_accessibility(page, "a closed referral")

    # The second referral is declined: first without a reason (refused), then with one.
    open_referral(page, referral_reference(declined))
    send_update(page, DECLINE)
    expect(page.get_by_role("alert")).to_contain_text("Bitte geben Sie einen Grund für die Ablehnung an.")
    assert _state(live_app, declined)[0] == "sent"
    send_update(page, DECLINE, text=REASON)
    expect_state(page, "abgelehnt")
    expect(page.get_by_role("region", name="Ihre bisherigen Rückmeldungen")).to_contain_text(REASON)
    assert _state(live_app, declined) == ("declined", None)
    check_accessibility(page, "a declined referral")
