"""The clearing office in a real browser: a report is opened, assessed and answered; the reporter reads the answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from babel.dates import format_date
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect

from clearing.cases.deadlines import add_months
from tests.browser.axe import check_accessibility
from tests.browser.conftest import new_context
from tests.browser.steps import COORDINATOR, OFFICER, RECEIPT_CODE_RE, log_in, small_png

pytestmark = pytest.mark.browser

DESCRIPTION = "Im Bürgerbüro wurde ich am Schalter als Volksverräter beschimpft."
OFFICE_MESSAGE = "Danke für Ihre Meldung. Wir haben sie geprüft und melden uns zu den nächsten Schritten."
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SAFE_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]*$")


@pytest.fixture
def second_context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    ctx = new_context(browser, live_server)
    yield ctx
    ctx.close()


def submit_report(page: Page, form_path: str) -> str:
    """The reporter's side, by label, with a PNG as evidence; returns the receipt code."""
    page.goto(form_path)
    page.get_by_role("radio", name="Ich bin selbst betroffen").check()
    page.get_by_role("radio", name="Beschäftigte oder Beschäftigter der Verwaltung").check()
    page.get_by_role("checkbox", name="Beleidigung oder Verleumdung").check()
    page.get_by_label("Beschreiben Sie, was passiert ist").fill(DESCRIPTION)
    page.get_by_role("radio", name="Im Dienstgebäude oder am Arbeitsplatz").check()
    page.get_by_label("Beweise als Dateien (Bilder oder PDF)").set_input_files(
        {"name": "bildschirmfoto.png", "mimeType": "image/png", "buffer": small_png()}
    )
    page.get_by_role("radio", name="Nur über das Postfach (empfohlen, am sichersten)").check()
    page.get_by_role("button", name="Meldung verschlüsselt absenden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Meldung ist eingegangen")
    code = page.get_by_test_id("receipt-code").inner_text().strip()
    assert RECEIPT_CODE_RE.match(code), code
    return code


def change_status(page: Page, action: str) -> None:
    workflow = page.get_by_role("region", name="Status und Zuständigkeit")
    workflow.get_by_label("Nächster Schritt").select_option(label=action)
    workflow.get_by_role("button", name="Status ändern").click()


def test_report_is_assessed_and_answered(
    page: Page, second_context: BrowserContext, live_app: Flask, form_path: str, tmp_path: Path
) -> None:
    # 1) The reporter submits a report with a file and keeps the receipt code.
    code = submit_report(page, form_path)

    # 2) An officer logs in with password and TOTP.
    officer = second_context.new_page()
    log_in(officer, live_app, *OFFICER, check_pages=True)

    # 3) The inbox lists the case with its decrypted summary.
    expect(officer).to_have_url(re.compile(r"/clearing/$"))
    expect(officer.get_by_role("heading", level=1)).to_have_text("Eingang der Clearingstelle")
    row = officer.get_by_role("row").filter(has_text=DESCRIPTION)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Eingegangen")
    case_link = row.get_by_role("link")
    reference = case_link.inner_text().strip()
    assert reference
    check_accessibility(officer, "the inbox")

    # 4) The case page: the decrypted report and the file, downloaded as an attachment with a safe name.
    case_link.click()
    expect(officer.get_by_role("heading", level=1)).to_have_text(f"Fall {reference}")
    report = officer.get_by_role("region", name="Die Meldung")
    expect(report).to_contain_text(DESCRIPTION)
    file_link = report.get_by_role("link", name="bildschirmfoto.png")
    expect(file_link).to_be_visible()
    check_accessibility(officer, "the case page")
    with officer.expect_download() as download_info:
        file_link.click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename == "bildschirmfoto.png"
    assert SAFE_FILENAME_RE.match(download.suggested_filename), download.suggested_filename
    saved = tmp_path / "download"
    download.save_as(saved)
    assert saved.read_bytes().startswith(PNG_MAGIC)

    # 5) Review begins; the assessment is first sent incomplete, then filled in by label.
    case_url = officer.url
    change_status(officer, "Prüfung beginnen")
    expect(officer.get_by_role("status")).to_contain_text("Der Status ist jetzt: In Prüfung.")
    assessment = officer.get_by_role("region", name="Bewertung")
    checked = assessment.get_by_role("checkbox", checked=True)  # the report's own answers come pre-ticked
    while checked.count():
        checked.first.uncheck()
    assessment.get_by_role("button", name="Bewertung speichern").click()
    expect(officer).to_have_title(re.compile(r"^Fehler:"))
    summary = officer.locator(".error-summary")
    expect(summary).to_contain_text("Bitte wählen Sie die Eskalationsstufe.")
    expect(summary).to_contain_text("Bitte bestätigen Sie mindestens eine Art des Vorfalls.")
    summary.get_by_role("link", name=re.compile("^Eskalationsstufe")).click()
    expect(officer.get_by_role("radio", name="Stufe 1: verbale Aggression oder Sachbeschädigung")).to_be_focused()
    check_accessibility(officer, "the case page with errors shown")

    known_on = date.today() - timedelta(days=10)
    assessment = officer.get_by_role("region", name="Bewertung")
    assessment.get_by_role("radio", name="Hoch", exact=True).check()
    assessment.get_by_role("radio", name="Stufe 1: verbale Aggression oder Sachbeschädigung").check()
    assessment.get_by_role("group", name="Bestätigte Art des Vorfalls").get_by_role(
        "checkbox", name="Beleidigung oder Verleumdung"
    ).check()
    assessment.get_by_role("checkbox", name="§ 185 StGB Beleidigung").check()
    assessment.get_by_label("Kenntnis von Tat und Täter am").fill(known_on.isoformat())
    assessment.get_by_label("Begründung und Notizen zur Bewertung").fill("Beleidigung wegen des Amtes.")
    assessment.get_by_role("button", name="Bewertung speichern").click()
    expect(officer.get_by_role("status")).to_contain_text("Die Bewertung wurde gespeichert.")
    expect(officer).not_to_have_title(re.compile(r"^Fehler:"))
    complaint = officer.locator(".facts > div").filter(has_text="Strafantragsfrist (§ 77b StGB)")
    expect(complaint).to_contain_text(format_date(add_months(known_on, 3), "medium", locale="de_DE"))
    expect(complaint).to_contain_text(f"noch {(add_months(known_on, 3) - date.today()).days} Tage")

    # Saving the assessment moves the case on: no separate step.
    expect(officer.get_by_role("status")).to_contain_text("Status: Bewertet.")

    officer.get_by_label("Nachricht an die meldende Person").fill(OFFICE_MESSAGE)
    officer.get_by_role("button", name="Nachricht senden").click()
    expect(officer.get_by_role("status")).to_contain_text("in das Postfach der meldenden Person gestellt")
    messages = officer.get_by_role("region", name="Nachrichten mit der meldenden Person")
    expect(messages.get_by_role("article", name="Nachricht der Clearingstelle")).to_contain_text(OFFICE_MESSAGE)
    assert officer.url.split("#")[0] == case_url
    check_accessibility(officer, "the case page after assessment and reply")

    # 6) The reporter opens the mailbox with the code and reads the answer and the new status.
    page.goto("/postfach")
    page.get_by_label("Ihr Zugangscode").fill(code)
    page.get_by_role("button", name="Postfach öffnen").click()
    expect(page.get_by_role("region", name="Stand Ihrer Meldung")).to_contain_text("Aktueller Stand: Geprüft")
    inbox_messages = page.get_by_role("region", name="Nachrichten")
    expect(inbox_messages.get_by_role("article", name="Nachricht der Clearingstelle")).to_contain_text(OFFICE_MESSAGE)

    # 7) The officer's other pages, then logging out in the header; the inbox then asks for a login again.
    officer.get_by_role("navigation", name="Bereiche").get_by_role(
        "link", name="Kolleginnen und Kollegen freischalten"
    ).click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("Kolleginnen und Kollegen freischalten")
    check_accessibility(officer, "the grants page")
    officer.get_by_role("navigation", name="Bereiche").get_by_role("button", name="Abmelden").click()
    expect(officer).to_have_url(re.compile(r"/anmelden$"))
    expect(officer.get_by_role("status")).to_contain_text("Sie sind abgemeldet.")
    officer.goto("/clearing/")
    expect(officer).to_have_url(re.compile(r"/anmelden\?next=/clearing/$"))
    expect(officer.get_by_role("heading", level=1)).to_have_text("Anmeldung für Mitarbeitende")


def test_coordinator_team_and_account_pages_are_accessible(page: Page, live_app: Flask) -> None:
    log_in(page, live_app, *COORDINATOR)
    expect(page).to_have_url(re.compile(r"/verwaltung/team$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Team der Clearingstelle")
    expect(page.get_by_role("table", name="Konten Ihrer Kommune")).to_contain_text("demo-fachkraft")
    check_accessibility(page, "the coordinator's team page")

    page.get_by_role("navigation", name="Bereiche").get_by_role("link", name="Konto").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Konto")
    check_accessibility(page, "the account page")
