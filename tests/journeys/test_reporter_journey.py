"""Journey 1: a reporter on a phone, keyboard only, JavaScript off: form, receipt, mailbox, the officer's
message, a reply with a photo, one consent withdrawn, deletion asked for. Once in German, once in English."""

from __future__ import annotations

import io
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import FilePayload, Locator, Page, Route, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import select

from clearing.cases import service
from clearing.demo import DEMO_SLUG
from core.accounts import account_by_login
from core.app import state
from core.clock import SystemClock
from core.custody import office_key_from_recovery
from core.db import session_scope
from core.models import Municipality
from core.staff import Staff
from reporting.models import Case
from tests.journeys import steps
from tests.journeys.guard import guard
from tests.journeys.site import Journey, Site

# What the reporter reads and chooses, in each language (the app's own catalogue).
WORDS = {
    "de": {
        "report_link": "Vorfall melden: Musterstadt",
        "who": "Wer meldet?",
        "witness": "Ich habe es beobachtet",
        "role": "Welche Rolle hat die betroffene Person?",
        "mayor": "Bürgermeisterin oder Bürgermeister",
        "threat": "Bedrohung",
        "describe": "Beschreiben Sie, was passiert ist",
        "where": "Wo ist es passiert?",
        "letter": "Per Brief",
        "statistics": "Meine Meldung darf anonym in die Statistik eingehen.",
        "send_report": "Meldung verschlüsselt absenden",
        "received": "Ihre Meldung ist eingegangen",
        "noted": "Ich habe den Code notiert",
        "mailbox": "Ihr Postfach",
        "code": "Ihr Zugangscode",
        "open": "Postfach öffnen",
        "messages": "Nachrichten",
        "office_message": "Nachricht der Clearingstelle",
        "your_message": "Ihre Nachricht",
        "reply": "Ihre Nachricht oder Ergänzung",
        "files": "Weitere Dateien (Bilder oder PDF)",
        "send": "Verschlüsselt senden",
        "sent": "Ihre Nachricht wurde verschlüsselt gesendet.",
        "consent_statistics": "Anonyme Statistik",
        "save_consents": "Einwilligungen speichern",
        "consents_changed": "Ihre Einwilligungen wurden geändert.",
        "withdrawn": "Einwilligung zurückgezogen: Anonyme Statistik",
        "status": "Stand Ihrer Meldung",
        "confirm_deletion": "Ja, ich möchte, dass meine Meldung gelöscht wird.",
        "ask_deletion": "Löschung beantragen",
        "deletion_saved": "Ihr Löschwunsch wurde gespeichert. Die Clearingstelle löscht Ihre Meldung.",
        "deletion_present": "Ihr Löschwunsch liegt vor.",
    },
    "en": {
        "report_link": "Report an incident: Musterstadt",
        "who": "Who is reporting?",
        "witness": "I witnessed it",
        "role": "What role does the affected person have?",
        "mayor": "Mayor",
        "threat": "Threat",
        "describe": "Describe what happened",
        "where": "Where did it happen?",
        "letter": "By letter",
        "statistics": "My report may be included anonymously in the statistics.",
        "send_report": "Send report encrypted",
        "received": "Your report has been received",
        "noted": "I have noted the code",
        "mailbox": "Your mailbox",
        "code": "Your access code",
        "open": "Open mailbox",
        "messages": "Messages",
        "office_message": "Message from the clearing office",
        "your_message": "Your message",
        "reply": "Your message or additional information",
        "files": "More files (images or PDF)",
        "send": "Send encrypted",
        "sent": "Your message has been sent in encrypted form.",
        "consent_statistics": "Anonymous statistics",
        "save_consents": "Save consents",
        "consents_changed": "Your consents have been updated.",
        "withdrawn": "Consent withdrawn: Anonymous statistics",
        "status": "Status of your report",
        "confirm_deletion": "Yes, I want my report to be deleted.",
        "ask_deletion": "Ask for deletion",
        "deletion_saved": "Your deletion request has been saved. The clearing office will delete your report.",
        "deletion_present": "Your deletion request has been received.",
    },
}
TAB_LIMIT = 400


def photo() -> bytes:
    """A small real PNG, as a phone camera's picture would be after the app strips its metadata."""
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (180, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


# Keyboard only ---------------------------------------------------------------------------------


def has_focus(target: Locator) -> bool:
    return bool(target.evaluate("el => el === document.activeElement || el.contains(document.activeElement)"))


def tab_to(page: Page, target: Locator) -> None:
    """Press Tab (Shift+Tab once the end is passed) until the target, or a control inside it, has the focus."""
    for key in ("Tab", "Shift+Tab"):
        for _ in range(TAB_LIMIT):
            if has_focus(target):
                return
            page.keyboard.press(key)
    raise AssertionError(f"Tab never reached {target}")


def type_into(page: Page, field: Locator, text: str) -> None:
    tab_to(page, field)
    page.keyboard.type(text)


def press(page: Page, control: Locator, key: str = "Enter") -> None:
    """Tab to a button, link or checkbox and press it (Enter for buttons and links, Space for checkboxes)."""
    tab_to(page, control)
    page.keyboard.press(key)


def attach(page: Page, file_input: Locator, file: FilePayload) -> None:
    """Tab to a file input and open the file chooser with Space, as a keyboard user does."""
    tab_to(page, file_input)
    for _ in range(3):
        try:
            # Chromium sometimes drops the first activation right after focusing: press again.
            with page.expect_file_chooser(timeout=5_000) as chooser:
                page.keyboard.press("Space")
        except PlaywrightTimeoutError:
            continue
        chooser.value.set_files(file)
        return
    raise AssertionError("Space on the file input never opened the file chooser")


def choose(page: Page, group: Locator, option: Locator) -> None:
    """Tab into a radio group, then the arrow keys until the option is chosen (Space if it has the focus)."""
    tab_to(page, group)
    if has_focus(option):
        page.keyboard.press("Space")
    for _ in range(20):
        if option.is_checked():
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrow keys never chose {option}")


# The accessibility guard where scripts are off --------------------------------------------------


def checker(journey: Journey) -> Callable[[Page, str], None]:
    """steps.checked for pages without JavaScript: axe-core needs scripts (and timers), so the document
    as the phone shows it is served once, unchanged, to a phone of the same size with scripts on."""
    mirror = journey.new_page(phone=True, javascript=True)

    def check(page: Page, what: str) -> None:
        page.wait_for_load_state()
        url, html = page.url, page.content()
        document = url.split("#", 1)[0]

        def serve(route: Route) -> None:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

        mirror.route(lambda requested: requested == document, serve)
        try:
            mirror.goto(url)
            steps.checked(mirror, what)
        finally:
            mirror.unroute_all()
        guard(page).checked.add(urlsplit(url).path)

    return check


# The officer's part, arranged through the product's service -------------------------------------


def officer_writes(site: Site, description_start: str, body: str) -> None:
    """The officer answers the newest report of the demo municipality (journey 2 does this in the browser)."""
    komma = state(site.app)
    with session_scope(komma.session_factory) as session:
        municipality = session.scalar(select(Municipality).where(Municipality.slug == DEMO_SLUG))
        officer = account_by_login(session, steps.OFFICER)
        assert municipality is not None
        assert officer is not None
        staff = Staff(officer, office_key_from_recovery(session, municipality, site.recovery_key))
        newest = select(Case).where(Case.municipality_id == municipality.id).order_by(Case.received_at.desc())
        case = session.scalars(newest.limit(1)).one()
        case_file = service.open_case_file(session, staff, case, today=SystemClock().today())
        assert case_file.report["description"].startswith(description_start)
        service.send_message(session, staff, case, body)


# The journey -------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["de", "en"])
def test_reporter_on_a_phone_by_keyboard_without_javascript(journey: Journey, site: Site, language: str) -> None:
    words = WORDS[language]
    description = f"Drohbrief im Briefkasten des Rathauses ({language})."
    office_text = f"Guten Tag,\nwir haben Ihre Meldung gelesen ({language}). Haben Sie ein Foto des Briefs?"
    reply_text = f"Ja, hier ist das Foto ({language})."
    phone = journey.new_page(phone=True, javascript=False)
    checked = checker(journey)

    phone.goto("/")
    checked(phone, "the start page")
    if language == "en":
        press(phone, phone.get_by_role("navigation", name="Sprache").get_by_role("link", name="English"))
        expect(phone.locator("html")).to_have_attribute("lang", "en")
        checked(phone, "the start page in English")
    press(phone, phone.get_by_role("link", name=words["report_link"]))
    expect(phone.get_by_role("heading", level=1)).to_have_text(words["report_link"])
    checked(phone, "the report form")

    # The form, by keyboard: radio groups with the arrow keys, checkboxes with Space, text typed.
    choose(phone, phone.get_by_role("radiogroup", name=words["who"]), phone.get_by_role("radio", name=words["witness"]))
    choose(
        phone,
        phone.get_by_role("radiogroup", name=words["role"]),
        phone.get_by_role("radio", name=words["mayor"], exact=True),
    )
    press(phone, phone.get_by_role("checkbox", name=words["threat"], exact=True), "Space")
    type_into(phone, phone.get_by_label(words["describe"]), description)
    choose(
        phone, phone.get_by_role("radiogroup", name=words["where"]), phone.get_by_role("radio", name=words["letter"])
    )
    press(phone, phone.get_by_role("checkbox", name=words["statistics"]), "Space")
    expect(phone.get_by_role("checkbox", name=words["statistics"])).to_be_checked()
    press(phone, phone.get_by_role("button", name=words["send_report"]))

    # The receipt.
    expect(phone.get_by_role("heading", level=1)).to_have_text(words["received"])
    code = phone.get_by_test_id("receipt-code").inner_text().strip()
    assert steps.RECEIPT_CODE_RE.match(code), code
    checked(phone, "the receipt")
    officer_writes(site, description, office_text)
    press(phone, phone.get_by_role("button", name=words["noted"]))

    # The mailbox, opened with the code typed.
    expect(phone.get_by_role("heading", level=1)).to_have_text(words["mailbox"])
    checked(phone, "the mailbox login")
    type_into(phone, phone.get_by_label(words["code"]), code)
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("region", name=words["status"])).to_be_visible()
    checked(phone, "the mailbox")
    expect(phone.get_by_text(description)).to_be_visible()  # their own report, decrypted for them
    messages = phone.get_by_role("region", name=words["messages"])
    from_office = messages.get_by_role("article", name=words["office_message"])
    for line in office_text.splitlines():
        expect(from_office).to_contain_text(line)

    # A reply with a photo: the file input opens the chooser from the keyboard too.
    type_into(phone, phone.get_by_label(words["reply"]), reply_text)
    attach(phone, phone.get_by_label(words["files"]), {"name": "brief.png", "mimeType": "image/png", "buffer": photo()})
    press(phone, phone.get_by_role("button", name=words["send"]))
    expect(phone.get_by_role("status")).to_contain_text(words["sent"])
    checked(phone, "the mailbox after the reply")
    mine = phone.get_by_role("region", name=words["messages"]).get_by_role("article", name=words["your_message"])
    expect(mine).to_contain_text(reply_text)
    expect(mine).to_contain_text("brief.png")

    # One consent withdrawn.
    statistics = phone.get_by_role("checkbox", name=words["consent_statistics"])
    expect(statistics).to_be_checked()
    press(phone, statistics, "Space")
    press(phone, phone.get_by_role("button", name=words["save_consents"]))
    expect(phone.get_by_role("status")).to_contain_text(words["consents_changed"])
    checked(phone, "the mailbox after withdrawing a consent")
    expect(phone.get_by_role("checkbox", name=words["consent_statistics"])).not_to_be_checked()
    expect(phone.get_by_role("region", name=words["status"])).to_contain_text(words["withdrawn"])

    # Deletion asked for.
    press(phone, phone.get_by_role("checkbox", name=words["confirm_deletion"]), "Space")
    press(phone, phone.get_by_role("button", name=words["ask_deletion"]))
    expect(phone.get_by_role("status")).to_contain_text(words["deletion_saved"])
    checked(phone, "the mailbox after asking for deletion")

    # What the reporter must see at the end: their report, the officer's message, the deletion request.
    expect(phone.get_by_text(description)).to_be_visible()
    expect(from_office).to_contain_text(office_text.splitlines()[1])
    expect(phone.get_by_text(words["deletion_present"])).to_be_visible()
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 375
