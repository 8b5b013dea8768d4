"""The reporter's path in a real browser: by label, by keyboard, without JavaScript, checked by axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import check_accessibility
from tests.browser.conftest import new_context
from tests.browser.steps import RECEIPT_CODE_RE, small_png

pytestmark = pytest.mark.browser

BORDER_WIDTH = "el => parseFloat(getComputedStyle(el).borderTopWidth)"


def active_element_id(page: Page) -> str:
    return page.evaluate("() => document.activeElement ? document.activeElement.id : ''")


def test_skip_link_is_first_and_moves_focus_to_main(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Zum Inhalt springen")
    expect(skip).to_be_focused()
    box = skip.bounding_box()  # it moves on screen when focused, for sighted keyboard users too
    assert box is not None
    assert box["x"] >= 0, box
    assert box["y"] >= 0, box
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


def test_report_mailbox_and_reply_by_label(page: Page, form_path: str) -> None:
    page.goto("/")
    check_accessibility(page, "the start page")

    page.get_by_role("link", name="Vorfall melden: Musterstadt").click()
    expect(page).to_have_url(re.compile(re.escape(form_path) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Vorfall melden: Musterstadt")

    # An empty submission: the summary comes first and links to each field.
    page.get_by_role("button", name="Meldung verschlüsselt absenden").click()
    expect(page).to_have_title(re.compile(r"^Fehler:"))
    summary = page.locator(".error-summary").first
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading")).to_have_text("Bitte prüfen Sie Ihre Angaben")
    first_after_heading = page.evaluate(
        "() => { const h1 = document.querySelector('main h1');"
        " let el = h1.nextElementSibling; return el ? el.className : ''; }"
    )
    assert "error-summary" in first_after_heading, "the error summary must directly follow the page heading"
    assert page.evaluate(
        "() => !!(document.querySelector('.error-summary').compareDocumentPosition("
        "document.querySelector('form[enctype]')) & Node.DOCUMENT_POSITION_FOLLOWING)"
    ), "the error summary must come before the form"
    links = summary.get_by_role("link")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert {"#reporter_role-0", "#affected_role-0", "#incident_types-0", "#description", "#channel-0"} <= set(hrefs)
    for href in hrefs:
        assert href is not None
        expect(page.locator(href)).to_have_count(1)
    summary.get_by_role("link", name=re.compile("^Beschreiben Sie, was passiert ist")).click()
    expect(page.get_by_label("Beschreiben Sie, was passiert ist")).to_be_focused()
    expect(page.get_by_label("Beschreiben Sie, was passiert ist")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "the form with errors shown")

    # Fill everything by its label, as a person (or a screen reader user) would.
    page.get_by_role("radio", name="Ich bin selbst betroffen").check()
    page.get_by_role("radio", name="Beschäftigte oder Beschäftigter der Verwaltung").check()
    page.get_by_role("checkbox", name="Bedrohung").check()
    page.get_by_role("checkbox", name="Beleidigung oder Verleumdung").check()
    page.get_by_label("Beschreiben Sie, was passiert ist").fill("Am Schalter wurde ich beschimpft und bedroht.")
    page.get_by_role("checkbox", name="Feindschaft wegen des Amtes oder politischer Arbeit").check()
    page.get_by_label("Ungefährer Monat (JJJJ-MM)").fill("2025-10")
    page.get_by_label("Uhrzeit (wenn bekannt)").fill("14:30")
    page.get_by_role("radio", name="Im Dienstgebäude oder am Arbeitsplatz").check()
    page.get_by_label("Ort (frei, wenn Sie möchten)").fill("Bürgerbüro")
    page.get_by_label("Links zu Beiträgen oder Profilen").fill("https://example.org/beitrag/1")
    page.get_by_role("radio", name="Bürgerin oder Bürger").check()
    page.get_by_label("Beweise als Dateien (Bilder oder PDF)").set_input_files(
        {"name": "bildschirmfoto.png", "mimeType": "image/png", "buffer": small_png()}
    )
    page.get_by_label("Ich habe meine Vorgesetzten informiert").check()
    page.get_by_label("Meine Meldung darf anonym in die Statistik eingehen.").check()
    page.get_by_role("radio", name="Nur über das Postfach (empfohlen, am sichersten)").check()
    page.get_by_role("button", name="Meldung verschlüsselt absenden").click()

    # The receipt: 16 digits in groups of four, shown once.
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Meldung ist eingegangen")
    code = page.get_by_test_id("receipt-code").inner_text().strip()
    assert RECEIPT_CODE_RE.match(code), code
    expect(page.get_by_text("kann nicht wiederhergestellt werden")).to_be_visible()
    check_accessibility(page, "the receipt page")

    # A reload shows the same code until the reporter confirms having noted it.
    page.reload()
    assert page.get_by_test_id("receipt-code").inner_text().strip() == code

    # The mailbox, opened with the code.
    page.get_by_role("button", name="Ich habe den Code notiert").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Postfach")
    check_accessibility(page, "the mailbox login")
    page.get_by_label("Ihr Zugangscode").fill(code)
    page.get_by_role("button", name="Postfach öffnen").click()
    status = page.get_by_role("region", name="Stand Ihrer Meldung")
    expect(status).to_contain_text("Aktueller Stand: Eingegangen")
    expect(status).to_contain_text("bildschirmfoto.png")
    check_accessibility(page, "the mailbox")

    page.get_by_label("Ihre Nachricht oder Ergänzung").fill("Heute kam noch ein Brief an.")
    page.get_by_role("button", name="Verschlüsselt senden").click()
    expect(page.get_by_role("status")).to_contain_text("Ihre Nachricht wurde verschlüsselt gesendet.")
    messages = page.get_by_role("region", name="Nachrichten")
    expect(messages.get_by_role("article", name="Ihre Nachricht")).to_contain_text("Heute kam noch ein Brief an.")
    check_accessibility(page, "the mailbox after a reply")


def test_acute_danger_and_submission_without_javascript(nojs_page: Page, form_path: str) -> None:
    page = nojs_page
    assert page.evaluate("() => 1") == 1  # Playwright's own evaluation still works; the page's scripts do not
    page.goto(form_path)
    emergency = page.locator("#notruf")
    expect(emergency).to_be_visible()
    before = emergency.evaluate(BORDER_WIDTH)
    page.get_by_role("radio", name="Ja").check()
    after = emergency.evaluate(BORDER_WIDTH)
    assert after > before, f"the emergency box must stand out after 'Ja' (border {before}px -> {after}px)"
    expect(emergency).to_contain_text("110")

    page.get_by_role("radio", name="Ich habe es beobachtet").check()
    page.get_by_role("radio", name="Bürgermeisterin oder Bürgermeister").check()
    page.get_by_role("checkbox", name="Hassrede oder Hetze").check()
    page.get_by_label("Beschreiben Sie, was passiert ist").fill("Drohung vor dem Rathaus.")
    page.get_by_role("radio", name="Im öffentlichen Raum").check()
    page.get_by_role("button", name="Meldung verschlüsselt absenden").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Meldung ist eingegangen")
    expect(page.get_by_role("alert")).to_contain_text("110")
    assert RECEIPT_CODE_RE.match(page.get_by_test_id("receipt-code").inner_text().strip())


def test_javascript_is_really_off(nojs_page: Page) -> None:
    nojs_page.set_content("<p id=x>static</p><script>document.getElementById('x').textContent='script ran'</script>")
    expect(nojs_page.locator("#x")).to_have_text("static")


@pytest.mark.parametrize(
    ("path", "what"),
    [("/barrierefreiheit", "the accessibility statement"), ("/?lang=en", "the start page in English")],
)
def test_more_pages_are_accessible(page: Page, path: str, what: str) -> None:
    page.goto(path)
    check_accessibility(page, what)


def test_axe_helper_reports_violations(page: Page) -> None:
    """The helper must fail loudly: a page with known violations is not passed."""
    page.set_content('<html><head><title>x</title></head><body><main><img src="data:,"></main></body></html>')
    with pytest.raises(AssertionError, match=r"image-alt \[critical\]") as failure:
        check_accessibility(page, "a page with known violations")
    message = str(failure.value)
    assert "html-has-lang [serious]" in message
    assert "    img: Fix any of the following" in message  # the target selector and the remedy


# Issue 11: receipt, mailbox and form as a person meets them ---------------------------------


def submit_minimal_report(page: Page, form_path: str) -> str:
    """The required answers only, by label; returns the receipt code shown."""
    page.goto(form_path)
    page.get_by_role("radio", name="Ich habe es beobachtet").check()
    page.get_by_role("radio", name="Bürgermeisterin oder Bürgermeister").check()
    page.get_by_role("checkbox", name="Bedrohung").check()
    page.get_by_label("Beschreiben Sie, was passiert ist").fill("Ein Drohbrief im Briefkasten.")
    page.get_by_role("radio", name="Per Brief").check()
    page.get_by_role("button", name="Meldung verschlüsselt absenden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Meldung ist eingegangen")
    code = page.get_by_test_id("receipt-code").inner_text().strip()
    assert RECEIPT_CODE_RE.match(code), code
    return code


def no_sideways_scroll(page: Page, what: str) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 320, f"{what} scrolls sideways at 320 px: {width} px wide"


def test_receipt_survives_reload_language_switch_and_back_until_noted(page: Page, form_path: str) -> None:
    code = submit_minimal_report(page, form_path)
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.get_by_test_id("receipt-code").inner_text().strip() == code
    check_accessibility(page, "the receipt in English")
    page.get_by_role("link", name="Deutsch").click()
    assert page.get_by_test_id("receipt-code").inner_text().strip() == code
    page.go_back()  # back to the English receipt: still the code, fetched again (no-store)
    assert page.get_by_test_id("receipt-code").inner_text().strip() == code
    page.go_forward()
    page.reload()
    assert page.get_by_test_id("receipt-code").inner_text().strip() == code

    page.get_by_role("button", name="Ich habe den Code notiert").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Postfach")
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hier wird kein Zugangscode angezeigt")
    assert code not in page.content()
    page.go_back()  # the English receipt further back: gone as well
    expect(page.get_by_role("heading", level=1)).to_have_text("No access code is shown here")
    assert code not in page.content()


def test_receipt_copy_button_is_an_enhancement_and_says_it_copied(page: Page, nojs_page: Page, form_path: str) -> None:
    code = submit_minimal_report(page, form_path)
    facts = page.locator("dl.receipt-facts")
    expect(facts).to_contain_text("/postfach")
    expect(facts).to_contain_text("Clearingstelle Musterstadt")
    copy = page.get_by_role("button", name="Code kopieren")
    expect(copy).to_be_visible()
    copy.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(re.compile("^Der Code wurde kopiert"))
    check_accessibility(page, "the receipt after copying")
    # Printed: the code, the mailbox address, the office and the date; no buttons.
    page.emulate_media(media="print")
    expect(page.get_by_test_id("receipt-code")).to_have_text(code)
    expect(facts).to_be_visible()
    expect(copy).to_be_hidden()
    expect(page.get_by_role("button", name="Ich habe den Code notiert")).to_be_hidden()
    page.emulate_media(media="screen")

    submit_minimal_report(nojs_page, form_path)
    expect(nojs_page.get_by_role("button", name="Code kopieren")).to_be_hidden()
    expect(nojs_page.get_by_role("button", name="Seite drucken")).to_be_hidden()
    expect(nojs_page.get_by_text("Zum Drucken wählen Sie")).to_be_visible()


def test_no_keyboard_print_advice_on_a_phone(browser: Browser, live_server: str, form_path: str) -> None:
    context = new_context(browser, live_server, viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        submit_minimal_report(phone, form_path)
        expect(phone.get_by_text("Zum Drucken wählen Sie")).to_be_visible()
        expect(phone.get_by_text("Strg+P")).to_be_hidden()
    finally:
        context.close()
    desktop = new_context(browser, live_server)
    try:
        page = desktop.new_page()
        submit_minimal_report(page, form_path)
        expect(page.get_by_text("Strg+P")).to_be_visible()
    finally:
        desktop.close()


def test_failed_submit_focuses_the_summary_without_javascript(nojs_page: Page, form_path: str) -> None:
    page = nojs_page
    page.goto(form_path)
    page.get_by_label("Ungefährer Monat (JJJJ-MM)").fill("2025-130")
    page.get_by_role("button", name="Meldung verschlüsselt absenden").click()
    summary = page.get_by_role("alert").filter(has_text="Bitte prüfen Sie Ihre Angaben")
    expect(summary).to_be_focused()
    links = summary.get_by_role("link")
    hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
    assert hrefs == [
        "#reporter_role-0",
        "#affected_role-0",
        "#incident_types-0",
        "#description",
        "#incident_month",
        "#channel-0",
    ]
    tops = [page.locator(href).evaluate("el => el.getBoundingClientRect().top + window.scrollY") for href in hrefs]
    assert tops == sorted(tops), "the summary lists the errors in page order"
    month = page.get_by_label("Ungefährer Monat (JJJJ-MM)")
    expect(month).to_have_attribute("aria-invalid", "true")
    assert page.locator(".field-error .error-message").filter(has_text="JJJJ-MM").count() == 1
    # Keyboard: Tab from the focused summary reaches its first link, Enter moves to the field.
    page.keyboard.press("Tab")
    expect(links.first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("radio", name="Ich bin selbst betroffen")).to_be_focused()
    # Every required question is marked in words, and the page explains the mark first.
    expect(page.get_by_text("sind mit „(Pflichtangabe)“ gekennzeichnet")).to_be_visible()
    assert page.locator("form .required-mark").count() == 6
    expect(page.get_by_label("Beschreiben Sie, was passiert ist")).to_have_attribute("aria-required", "true")
    # (axe-core cannot run where scripts are off; the same page is checked with them on above.)


def test_emergency_numbers_can_be_called_from_the_page(page: Page, form_path: str) -> None:
    page.goto(form_path)
    danger = page.get_by_role("radiogroup", name=re.compile("^Sind Sie jetzt in akuter Gefahr"))
    expect(danger.get_by_role("link", name="110")).to_have_attribute("href", "tel:110")
    expect(danger.get_by_role("link", name="112")).to_have_attribute("href", "tel:112")
    footer = page.get_by_role("contentinfo")
    expect(footer.get_by_role("link", name="110")).to_have_attribute("href", "tel:110")
    expect(footer.get_by_role("link", name="112")).to_have_attribute("href", "tel:112")


def test_reporter_pages_reflow_at_320_px(browser: Browser, live_server: str, form_path: str) -> None:
    context = new_context(browser, live_server, viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.goto("/")
        no_sideways_scroll(page, "the start page")
        page.goto(form_path)
        no_sideways_scroll(page, "the form")
        page.get_by_label("Beweise als Dateien (Bilder oder PDF)").set_input_files(
            {
                "name": "ein-sehr-langer-dateiname-ohne-leerzeichen-bildschirmfoto.txt",
                "mimeType": "text/plain",
                "buffer": b"x",
            }
        )
        page.get_by_label("Beschreiben Sie, was passiert ist").fill(
            "Donaudampfschifffahrtsgesellschaftskapitänsmütze " * 3
        )
        page.get_by_role("button", name="Meldung verschlüsselt absenden").click()
        expect(page.get_by_role("alert").first).to_be_visible()
        no_sideways_scroll(page, "the form with errors")
        code = submit_minimal_report(page, form_path)
        no_sideways_scroll(page, "the receipt")
        page.get_by_role("button", name="Ich habe den Code notiert").click()
        no_sideways_scroll(page, "the mailbox login")
        page.get_by_label("Ihr Zugangscode").fill(code)
        page.get_by_role("button", name="Postfach öffnen").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Postfach")
        no_sideways_scroll(page, "the mailbox")
        check_accessibility(page, "the mailbox at 320 px")
    finally:
        context.close()


def test_mailbox_shows_the_report_and_explains_a_malformed_code(page: Page, form_path: str) -> None:
    code = submit_minimal_report(page, form_path)
    page.get_by_role("button", name="Ich habe den Code notiert").click()
    page.get_by_label("Ihr Zugangscode").fill("1234 5678")
    page.get_by_role("button", name="Postfach öffnen").click()
    expect(page.get_by_role("alert")).to_contain_text("Der Code hat 16 Ziffern")
    expect(page.get_by_role("alert")).to_be_focused()
    check_accessibility(page, "the mailbox login with a malformed code")
    page.get_by_label("Ihr Zugangscode").fill(code)
    page.get_by_role("button", name="Postfach öffnen").click()
    report = page.get_by_role("region", name="Ihre Meldung")
    expect(report).to_contain_text("Ein Drohbrief im Briefkasten.")
    expect(report).to_contain_text("Bürgermeisterin oder Bürgermeister")
    expect(report).to_contain_text("Per Brief")
    check_accessibility(page, "the mailbox with the report")
