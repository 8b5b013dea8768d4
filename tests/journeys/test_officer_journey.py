"""Journey 2, the clearing officer: TOTP login -> inbox -> acute case first -> assess -> refer with four
eyes -> message the reporter -> the partner's feedback -> close.

Everything happens through the browser as people do it: the officer confirms a notification address
(the link comes by mail), two reports come in through the public form (one in acute danger) and the
new-report mail arrives without content; the acute case is pinned on top of the inbox; its
assessment moves it on; the police referral waits for a second officer (the demo's second officer
approves it in a context of her own); the counselling referral goes out at once, and the demo
partner user answers it in a third context. At the end the officer's case page shows the case
closed, the partner's state, outcome and feedback, and the staff timeline in words.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from clearing.demo import DEMO_ACCOUNTS, DEMO_SLUG
from reporting.content import CONSENT_BY_NAME
from tests.browser.steps import CLOSE, expect_state, open_referral, send_update
from tests.journeys import steps
from tests.journeys.conftest import Journey
from tests.journeys.site import Site

# The demo's second officer (clearing.demo.DEMO_ACCOUNTS): the second pair of eyes.
SECOND_OFFICER = next(login for login, role, *_ in DEMO_ACCOUNTS[1:] if role == "officer")
OFFICER_NAME = DEMO_ACCOUNTS[0][2]
ADDRESS = "fachkraft@musterstadt.example"

ACUTE = "Nach der Ratssitzung hat mir ein Mann vor dem Rathaus aufgelauert und gedroht, mich umzubringen."
CALM = "In einer E-Mail an das Bürgerbüro werde ich als Volksverräter beschimpft."
MESSAGE = "Danke für Ihre Meldung. Wir haben die Polizei und eine Beratungsstelle eingeschaltet."
FEEDBACK = "Wir haben Kontakt aufgenommen; ein erstes Beratungsgespräch hat stattgefunden."
CLOSING_REASON = "Die Polizei ermittelt; die Beratung ist abgeschlossen."

COUNSELLING = "Opferberatung für Betroffene rechter und rassistischer Gewalt"
POLICE = "Polizeipräsidium, Staatsschutz (Ansprechstelle für Amts- und Mandatsträger)"
REFERENCE = r"Weiterleitung (W-[0-9A-F]{4}-[0-9A-F]{4})"
CASE_REFERENCE_RE = re.compile(r"Fall (K-[A-Z0-9]{8})")
CONSENTED = (str(CONSENT_BY_NAME["counselling"].label), str(CONSENT_BY_NAME["police"].label))
CASES_RE = re.compile(r"^\d+ F(all|älle)$")  # the inbox table's name: how many cases it lists


def confirm_address(officer: Page, site: Site) -> None:
    """The officer's own notification address, on the account page, confirmed by the link mailed to it."""
    officer.get_by_role("navigation", name="Bereiche").get_by_role("link", name="Konto").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Ihr Konto")
    steps.checked(officer, "the account page")
    officer.get_by_label("Neue E-Mail-Adresse").fill(ADDRESS)
    officer.get_by_role("button", name="Bestätigungslink senden").click()
    expect(officer.get_by_role("status")).to_contain_text(f"Bestätigungslink an {ADDRESS}")
    steps.checked(officer, "the account page, address pending")
    mail = site.wait_for_mail(to=ADDRESS)
    link = steps.CONFIRM_LINK_RE.search(mail.text)
    assert link, mail.text
    officer.goto(link.group(0))
    expect(officer.get_by_role("heading", level=1)).to_have_text("E-Mail-Adresse bestätigen")
    steps.checked(officer, "the confirmation page")
    officer.get_by_role("button", name="Adresse bestätigen").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("E-Mail-Adresse bestätigt")
    steps.checked(officer, "the address confirmed")


def inbox(page: Page) -> Locator:
    """The inbox by its link in the main navigation; its table of cases."""
    page.get_by_role("navigation", name="Bereiche").get_by_role("link", name="Eingang").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Eingang der Clearingstelle")
    return page.get_by_role("table", name=CASES_RE)


def open_case(page: Page, description: str) -> str:
    """From the inbox to the case whose summary is `description`; returns the case reference."""
    inbox(page).get_by_role("row").filter(has_text=description).get_by_role("link").first.click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Fall K-")
    match = CASE_REFERENCE_RE.search(heading.inner_text())
    assert match, heading.inner_text()
    return match.group(1)


def section(page: Page, name: str) -> Locator:
    return page.get_by_role("region", name=name)


def status_of(page: Page) -> str:
    """The case's status as the facts at the top of the case page state it."""
    text = page.get_by_role("main").inner_text()
    match = re.search(r"^Status\s*\n\s*(.+)$", text, re.M)
    assert match, text
    return match.group(1).strip()


def refer(officer: Page, partner: str, flash: str) -> None:
    """Preview and confirm a referral to `partner` from the case page."""
    section(officer, "Weiterleitungen").get_by_role("link", name=f"Vorschau und Weiterleitung an {partner}").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text(f"Weiterleitung an {partner}")
    steps.checked(officer, f"the referral preview for {partner}")
    officer.get_by_role("button", name="Weiterleitung bestätigen").click()
    expect(officer.get_by_role("status").first).to_contain_text(flash)
    assert officer.url.endswith("#weiterleitungen"), officer.url
    steps.checked(officer, "the case page after a referral")


def referral_reference(officer: Page, partner: str) -> str:
    """The shared reference of the referral to `partner`, as its card on the case page shows it."""
    text = section(officer, "Weiterleitungen").inner_text()
    match = re.search(re.escape(partner) + r": [^\n]*\n+\s*" + REFERENCE, text)
    assert match, text
    return match.group(1)


def test_officer_journey(journey: Journey, site: Site) -> None:
    # 1) The officer logs in with password and TOTP code and confirms an address for notifications.
    officer = journey.new_page()
    steps.log_in_as(officer, site.login(steps.OFFICER))
    confirm_address(officer, site)

    # 2) Two reports come in, the acute one first; each new report is announced by a mail without content.
    reporter = journey.new_page()
    steps.send_report(reporter, DEMO_SLUG, ACUTE, incident="Bedrohung", acute=True, consents=CONSENTED)
    steps.send_report(reporter, DEMO_SLUG, CALM, incident="Bedrohung", acute=False, consents=CONSENTED)
    site.wait_for_mail(lambda m: "Neue Meldung" in m.subject, to=ADDRESS)
    announced = [m for m in site.smtp.mails if "Neue Meldung" in m.subject]
    for mail in announced:
        assert "/anmelden" in mail.text
        for content in (ACUTE, CALM, "Bedrohung", "Rathaus", "K-"):
            assert content not in mail.text, content
            assert content not in mail.subject, content

    # 3) The inbox: the acute case pinned on top although the other came in later; deadlines, assignee.
    cases = inbox(officer)
    rows = cases.get_by_role("row")
    expect(rows).to_have_count(3)  # the header and two cases
    expect(rows.nth(1)).to_contain_text(ACUTE[:60])
    expect(rows.nth(1)).to_contain_text("akut")
    expect(rows.nth(1)).to_contain_text("Eingangsbestätigung")
    expect(rows.nth(2)).to_contain_text(CALM)
    expect(rows.nth(2)).to_contain_text("niemand")
    # Staff pages use the screen: at 1280 px neither the page nor the table scrolls sideways.
    assert officer.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert officer.get_by_role("region", name=CASES_RE).evaluate("box => box.scrollWidth <= box.clientWidth")
    steps.checked(officer, "the inbox")

    # 4) The acute case: the section navigation leads to the assessment; saving it moves the case on.
    open_case(officer, ACUTE[:60])
    expect(officer.get_by_text("Akute Gefahr angegeben.")).to_be_visible()
    steps.checked(officer, "the acute case")
    sections = officer.get_by_role("navigation", name="Abschnitte des Falls")
    expect(sections.get_by_role("link")).to_have_text(
        ["Meldung", "Bewertung", "Weiterleitungen", "Nachrichten", "Status und Zuständigkeit", "Notizen", "Verlauf"]
    )
    sections.get_by_role("link", name="Bewertung").click()
    assert officer.url.endswith("#bewertung"), officer.url
    assessment = section(officer, "Bewertung")
    assessment.get_by_role("radio", name="Akut (Gefahr für Leib oder Leben)").check()
    assessment.get_by_role("radio", name="Stufe 2: Handgreiflichkeiten oder Drohungen").check()
    assessment.get_by_role("group", name="Bestätigte Art des Vorfalls").get_by_role(
        "checkbox", name="Bedrohung", exact=True
    ).check()
    assessment.get_by_role("checkbox", name="§ 241 StGB Bedrohung").check()
    assessment.get_by_role("button", name="Bewertung speichern").click()
    expect(officer.get_by_role("status").first).to_contain_text("Die Bewertung wurde gespeichert. Status: Bewertet.")
    assert officer.url.endswith("#bewertung"), officer.url
    assert status_of(officer) == "Bewertet"
    steps.checked(officer, "the case page after the assessment")

    # 5) Referrals: the police under four eyes waits for a second officer; counselling goes out at once.
    refer(officer, POLICE, "Eine zweite Fachkraft muss sie freigeben.")
    expect(section(officer, "Weiterleitungen")).to_contain_text(f"{POLICE}: wartet auf Freigabe")
    refer(officer, COUNSELLING, "Die Weiterleitung wurde verschlüsselt gesendet.")
    expect(section(officer, "Weiterleitungen")).to_contain_text(f"{COUNSELLING}: gesendet")
    assert status_of(officer) == "Weitergeleitet"
    counselling_reference = referral_reference(officer, COUNSELLING)

    second = journey.new_page()
    steps.log_in_as(second, site.login(SECOND_OFFICER))
    open_case(second, ACUTE[:60])
    steps.checked(second, "the acute case, for the second officer")
    section(second, "Weiterleitungen").get_by_role("button", name="Als zweite Fachkraft freigeben").click()
    expect(second.get_by_role("status").first).to_contain_text("Die Weiterleitung wurde freigegeben und gesendet.")
    expect(section(second, "Weiterleitungen")).to_contain_text(f"{POLICE}: gesendet")
    steps.checked(second, "the case page after the approval")

    # 6) A message to the reporter's mailbox; the case is now the officer's own ("Meine Fälle").
    messages = section(officer, "Nachrichten mit der meldenden Person")
    messages.get_by_label("Nachricht an die meldende Person").fill(MESSAGE)
    messages.get_by_role("button", name="Nachricht senden").click()
    expect(officer.get_by_role("status").first).to_contain_text("in das Postfach der meldenden Person gestellt")
    assert officer.url.endswith("#nachrichten"), officer.url
    expect(messages.get_by_role("article", name="Nachricht der Clearingstelle")).to_contain_text(MESSAGE)
    steps.checked(officer, "the case page after the message")
    workflow = section(officer, "Status und Zuständigkeit")
    workflow.get_by_label("Zuständige Person").select_option(label=OFFICER_NAME)
    workflow.get_by_role("button", name="Zuständigkeit speichern").click()
    expect(officer.get_by_role("status").first).to_contain_text("Die Zuständigkeit wurde geändert.")
    assert officer.url.endswith("#ablauf"), officer.url
    steps.checked(officer, "the case page after the assignment")

    # 7) The partner (a third context) acknowledges, accepts, reports back and closes.
    partner = journey.new_page()
    steps.log_in_as(partner, site.login(steps.PARTNER))
    open_referral(partner, counselling_reference)
    expect(section(partner, "Inhalt")).to_contain_text(ACUTE)
    steps.checked(partner, "the referral at the partner")
    send_update(partner, "Eingang bestätigen")
    expect_state(partner, "empfangen")
    send_update(partner, "Annehmen")
    expect_state(partner, "angenommen")
    send_update(partner, text=FEEDBACK)
    expect_state(partner, FEEDBACK)
    send_update(partner, CLOSE, outcome="Beratung begonnen")
    expect_state(partner, "abgeschlossen")
    steps.checked(partner, "the referral, closed by the partner")

    # 8) The officer's own cases, and a search by reference, lead back to it.
    inbox(officer)
    officer.get_by_role("navigation", name="Ansicht").get_by_role("link", name="Meine Fälle").click()
    mine = officer.get_by_role("table", name="1 Fall", exact=True)
    expect(mine.get_by_role("row")).to_have_count(2)
    expect(mine).to_contain_text(ACUTE[:60])
    expect(mine).to_contain_text(OFFICER_NAME)
    steps.checked(officer, "the inbox, my cases")
    calm_reference = open_case(officer, CALM)
    steps.checked(officer, "the other case")
    inbox(officer)
    officer.get_by_label("Fallnummer").fill(calm_reference.lower().replace("-", " "))
    officer.get_by_role("button", name="Fall suchen").click()
    found = officer.get_by_role("table", name="1 Fall", exact=True)
    expect(found).to_contain_text(CALM)
    steps.checked(officer, "the inbox, searched")
    officer.get_by_role("navigation", name="Ansicht").get_by_role("link", name="Meine Fälle").click()
    case_reference = open_case(officer, ACUTE[:60])

    # 9) The partner's state, outcome and words under the shared reference; closing with the police
    #    referral still open needs a reason, and the page says so.
    referrals = section(officer, "Weiterleitungen")
    expect(referrals).to_contain_text(f"Weiterleitung {counselling_reference}")
    expect(referrals).to_contain_text(f"{COUNSELLING}: abgeschlossen")
    expect(referrals).to_contain_text("Beratung begonnen")
    expect(referrals).to_contain_text(FEEDBACK)
    expect(referrals).to_contain_text(f"{POLICE}: gesendet")
    steps.checked(officer, "the case page with the partner's answer")
    workflow = section(officer, "Status und Zuständigkeit")
    workflow.get_by_label("Nächster Schritt").select_option(label="Fall abschließen")
    workflow.get_by_role("button", name="Status ändern").click()
    expect(officer.get_by_role("alert")).to_contain_text("Es gibt offene Weiterleitungen.")
    steps.checked(officer, "the case page, closing refused")
    workflow = section(officer, "Status und Zuständigkeit")
    workflow.get_by_label("Nächster Schritt").select_option(label="Fall abschließen")
    workflow.get_by_label(re.compile(r"^Begründung")).fill(CLOSING_REASON)
    workflow.get_by_role("button", name="Status ändern").click()
    expect(officer.get_by_role("status").first).to_contain_text("Der Status ist jetzt: Abgeschlossen.")
    assert officer.url.endswith("#ablauf"), officer.url

    # 10) What the officer must see at the end.
    expect(officer.get_by_role("heading", level=1)).to_have_text(f"Fall {case_reference}")
    assert status_of(officer) == "Abgeschlossen"
    referrals = section(officer, "Weiterleitungen")
    expect(referrals).to_contain_text(f"{COUNSELLING}: abgeschlossen")
    expect(referrals).to_contain_text(FEEDBACK)
    expect(section(officer, "Interne Notizen")).to_contain_text(CLOSING_REASON)
    timeline = section(officer, "Verlauf")
    for words in (
        "Meldung eingegangen",
        "Prüfung begonnen",
        "Bewertung gespeichert, Fall bewertet",
        "Weiterleitung gesendet an: Polizei",
        "Weiterleitung gesendet an: Beratungsstelle",
        "Nachricht an die meldende Person gesendet",
        "Fall abgeschlossen",
    ):
        expect(timeline).to_contain_text(words)
    for code in ("office_message", "forwarded", "in_review", "consent_granted"):
        expect(timeline).not_to_contain_text(code)
    steps.checked(officer, "the closed case")
