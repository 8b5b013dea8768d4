"""Journey 3, the partner organisation: a referral read, acknowledged, accepted, answered and closed; another declined.

Everything is set up through the browser as people do it: two reports through the public form,
the demo officer assesses each case and refers it to the demo counselling centre (its agreement
asks for no second pair of eyes), and the demo partner user works through the referrals. At the
end the officer's case pages show the partner's state, feedback and the same referral reference.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from clearing.demo import DEMO_SLUG
from reporting.content import CONSENT_BY_NAME
from tests.browser.steps import CLOSE, DECLINE, expect_state, next_steps, open_referral, send_update
from tests.journeys import steps
from tests.journeys.conftest import Journey
from tests.journeys.site import Site

COUNSELLING = "Opferberatung für Betroffene rechter und rassistischer Gewalt"
FIRST = "Am Schalter des Bürgerbüros wurde ich als Volksverräterin beschimpft und bedroht."
SECOND = "Unter dem Beitrag der Gemeinde stehen seit Tagen beleidigende Kommentare über mich."
FEEDBACK = "Wir haben Kontakt aufgenommen; ein erstes Beratungsgespräch ist vereinbart."
REASON = "Online-Beleidigungen begleitet bei uns eine andere Stelle; bitte an die Antidiskriminierungsstelle."
REFERENCE_RE = re.compile(r"Weiterleitung (W-[0-9A-F]{4}-[0-9A-F]{4})")


def refer_to_counselling(officer: Page, description: str) -> str:
    """Inbox -> case -> assessment -> preview -> confirm; returns the referral's reference on the case page."""
    officer.get_by_role("navigation", name="Bereiche").get_by_role("link", name="Eingang").click()
    row = officer.get_by_role("row").filter(has_text=description)
    expect(row).to_have_count(1)
    steps.checked(officer, "the inbox")
    row.get_by_role("link").first.click()
    expect(officer.get_by_role("heading", level=1)).to_contain_text("Fall ")
    steps.checked(officer, "the case page")

    assessment = officer.get_by_role("region", name="Bewertung")
    assessment.get_by_role("radio", name="Hoch", exact=True).check()
    assessment.get_by_role("radio", name="Stufe 1: verbale Aggression oder Sachbeschädigung").check()
    assessment.get_by_role("button", name="Bewertung speichern").click()
    expect(officer.get_by_role("status").first).to_contain_text("Die Bewertung wurde gespeichert.")
    steps.checked(officer, "the case page after the assessment")

    referrals = officer.get_by_role("region", name="Weiterleitungen")
    referrals.get_by_role("link", name=f"Vorschau und Weiterleitung an {COUNSELLING}").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text(f"Weiterleitung an {COUNSELLING}")
    # The preview speaks in words: the report form's labels and answers, no codes, no rule ids.
    preview = officer.get_by_role("main")
    expect(preview).to_contain_text("Beleidigung oder Verleumdung")
    expect(preview).to_contain_text(description)
    for code in ("insult_defamation", "incident_types", "partners[", "False", "True"):
        expect(preview).not_to_contain_text(code)
    steps.checked(officer, "the referral preview")
    officer.get_by_role("button", name="Weiterleitung bestätigen").click()
    expect(officer.get_by_role("status").first).to_contain_text("Die Weiterleitung wurde verschlüsselt gesendet.")
    steps.checked(officer, "the case page after the referral")
    card = officer.get_by_role("region", name="Weiterleitungen")
    expect(card).to_contain_text(f"{COUNSELLING}: gesendet")
    match = REFERENCE_RE.search(card.inner_text())
    assert match, card.inner_text()
    return match.group(1)


def case_page_of(officer: Page, description: str) -> None:
    officer.get_by_role("navigation", name="Bereiche").get_by_role("link", name="Eingang").click()
    officer.get_by_role("row").filter(has_text=description).get_by_role("link").first.click()
    expect(officer.get_by_role("heading", level=1)).to_contain_text("Fall ")
    steps.checked(officer, "the case page with the partner's answer")


def test_partner_journey(journey: Journey, site: Site) -> None:
    # 1) Two reports come in through the public form.
    reporter = journey.new_page()
    steps.send_report(reporter, DEMO_SLUG, FIRST, consents=(str(CONSENT_BY_NAME["counselling"].label),))
    steps.send_report(reporter, DEMO_SLUG, SECOND, consents=(str(CONSENT_BY_NAME["counselling"].label),))

    # 2) The demo officer refers both cases to the counselling centre.
    officer = journey.new_page()
    steps.log_in_as(officer, site.login(steps.OFFICER))
    first_reference = refer_to_counselling(officer, FIRST)
    second_reference = refer_to_counselling(officer, SECOND)

    # 3) The partner logs in with password and code and works through the first referral.
    partner = journey.new_page()
    steps.log_in_as(partner, site.login(steps.PARTNER))
    expect(partner.get_by_role("heading", level=1)).to_contain_text("Weiterleitungen an")
    portal = partner.get_by_role("table")
    expect(portal).to_contain_text(f"Weiterleitung {first_reference}")
    expect(portal).to_contain_text(f"Weiterleitung {second_reference}")
    open_referral(partner, first_reference)
    content = partner.get_by_role("region", name="Inhalt")
    expect(content).to_contain_text(FIRST)
    expect(content).to_contain_text("Beleidigung oder Verleumdung")
    assert next_steps(partner) == ["Eingang bestätigen", "Annehmen", DECLINE]
    steps.checked(partner, "the first referral")
    send_update(partner, "Eingang bestätigen")
    expect_state(partner, "empfangen")
    steps.checked(partner, "the referral, acknowledged")
    send_update(partner, "Annehmen")
    expect_state(partner, "angenommen")
    send_update(partner, text=FEEDBACK)
    expect_state(partner, FEEDBACK)
    send_update(partner, CLOSE, outcome="Beratung begonnen")
    expect_state(partner, "abgeschlossen")
    assert next_steps(partner) == []
    steps.checked(partner, "the referral, closed")

    # 4) The second referral is declined, with the reason the form asks for.
    open_referral(partner, second_reference)
    steps.checked(partner, "the second referral")
    send_update(partner, DECLINE, text=REASON)
    expect_state(partner, "abgelehnt")
    steps.checked(partner, "the referral, declined")

    # 5) The officer's case pages show the partner's state, outcome and words under the same reference.
    case_page_of(officer, FIRST)
    referrals = officer.get_by_role("region", name="Weiterleitungen")
    expect(referrals).to_contain_text(f"Weiterleitung {first_reference}")
    expect(referrals).to_contain_text(f"{COUNSELLING}: abgeschlossen")
    expect(referrals).to_contain_text("Beratung begonnen")
    expect(referrals).to_contain_text(FEEDBACK)
    case_page_of(officer, SECOND)
    referrals = officer.get_by_role("region", name="Weiterleitungen")
    expect(referrals).to_contain_text(f"Weiterleitung {second_reference}")
    expect(referrals).to_contain_text(f"{COUNSELLING}: abgelehnt")
    expect(referrals).to_contain_text(REASON)
