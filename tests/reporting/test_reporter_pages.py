"""Issue 11 on the reporter's pages: the receipt's print facts, the report in the mailbox, the form's marks and messages."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reporting.models import Case
from tests.factories import add_town, office_message
from tests.web import full_report, mailbox_login, open_mailbox, post_report, read_receipt, submit


def between(page: str, start: str, end: str) -> str:
    begin = page.index(start)
    return page[begin : page.index(end, begin)]


def test_receipt_carries_code_mailbox_address_office_and_date_and_no_keyboard_advice_for_phones(
    client: FlaskClient, session: Session
) -> None:
    town = add_town(session)
    submit(client, town)
    _code, response = read_receipt(client, town)
    page = response.get_data(as_text=True)
    facts = between(page, '<dl class="receipt-facts">', "</dl>")
    assert "http://127.0.0.1:5000/postfach</span>" in facts  # the configured public address, no ?lang=
    assert "Clearingstelle Musterstadt" in facts
    assert re.search(r"\d{1,2}\.\d{1,2}\.\d{2,4}</dd>", facts), facts
    # The copy and print buttons wait, hidden, for their self-hosted script.
    assert re.search(r'<div class="actions no-print" hidden data-enhance="copy">', page)
    assert '<script src="/static/js/receipt.js" defer></script>' in page
    assert '<p class="no-print" role="status" data-copy-status></p>' in page
    # "Strg+P" only inside the hint that CSS shows where a keyboard is likely.
    assert page.count("Strg+P") == 1
    assert re.search(r'<span class="keyboard-hint">[^<]*Strg\+P', page)
    assert "no-store" in response.headers["Cache-Control"]


def test_receipt_survives_the_language_switch_until_noted(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    code = submit(client, town)
    english = client.get(f"/melden/{town.slug}/eingang?lang=en").get_data(as_text=True)
    assert code in english
    assert 'lang="en"' in english
    assert client.get(f"/melden/{town.slug}/eingang?lang=de").status_code == 200
    assert code in client.get(f"/melden/{town.slug}/eingang").get_data(as_text=True)


def test_emergency_numbers_are_tel_links_on_every_reporter_page(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    for path in ("/", f"/melden/{town.slug}", "/postfach"):
        page = client.get(path).get_data(as_text=True)
        assert '<a href="tel:110">110</a>' in page, path
        assert '<a href="tel:112">112</a>' in page, path
    form = client.get(f"/melden/{town.slug}").get_data(as_text=True)
    danger = between(form, '<fieldset class="danger"', "</fieldset>")
    assert '<a href="tel:110">110</a>' in danger
    submit(client, town, full_report(acute_danger="yes"))
    receipt = client.get(f"/melden/{town.slug}/eingang").get_data(as_text=True)
    alert = between(receipt, '<div class="emergency" role="alert">', "</div>")
    assert '<a href="tel:110">110</a>' in alert
    assert '<a href="tel:112">112</a>' in alert


def test_required_fields_are_marked_and_explained(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    page = client.get(f"/melden/{town.slug}").get_data(as_text=True)
    assert "sind mit „(Pflichtangabe)“ gekennzeichnet" in page
    form = page[page.index("<form") :]
    # The six required questions, each marked once in its label or legend.
    assert form.count('<span class="required-mark">(Pflichtangabe)</span>') == 6
    textarea = between(form, '<label for="description">', "</textarea>")
    assert "(Pflichtangabe)" in textarea
    assert 'required aria-required="true"' in textarea
    assert (
        len(
            re.findall(
                r'role="radiogroup" aria-required="true"[^>]*>\s*<legend>[^<]*<span class="required-mark">', form
            )
        )
        == 4
    )
    for radios in ("acute_danger", "reporter_role", "affected_role", "channel"):
        assert f'id="{radios}-0" required name="{radios}"' in form, radios


def test_error_summary_lists_one_message_per_field_in_page_order_and_takes_the_focus(
    client: FlaskClient, session: Session
) -> None:
    town = add_town(session)
    data = full_report(
        reporter_role=None,
        incident_types=None,
        description="",
        incident_month="2025-130",
        incident_time="25:999",
        channel=None,
        contact="phone",
        contact_phone="",
    )
    response = post_report(client, town, data, [("notiz.png", b"kein Bild")])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    summary = between(page, '<div class="error-summary"', "</div>")
    assert "autofocus" in summary.split(">", 1)[0]
    targets = re.findall(r'<li><a href="#([^"]+)">', summary)
    assert targets == [
        "reporter_role-0",
        "incident_types-0",
        "description",
        "incident_month",
        "incident_time",
        "channel-0",
        "files",
        "contact_phone",
    ]
    # Each target exists once, and the page shows them in this order.
    positions = [page.index(f'id="{target}"') for target in targets]
    assert positions == sorted(positions)
    # One message per field: the format hint alone, no technical length message beside it.
    month = between(page, '<div class="field field-error">\n  <label for="incident_month">', "</div>")
    assert month.count("error-message") == 1
    assert "JJJJ-MM" in month
    assert "Field cannot be longer" not in page
    assert page.count('class="error-summary"') == 1  # the file error is in the one summary


def test_mailbox_shows_the_reporters_own_report_in_the_forms_words(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    page = open_mailbox(client, submit(client, town))
    report = between(page, '<section aria-labelledby="ihre-meldung">', "</section>")
    for words in (
        "Wer meldet?</dt>",
        "Ich bin selbst betroffen",
        "Mitglied des Gemeinderats, Stadtrats oder Kreistags",
        "Bedrohung, Hassrede oder Hetze",
        "Nach der Ratssitzung wurde ich auf dem Parkplatz bedroht und beschimpft.",
        "Rassismus, Feindschaft wegen des Amtes oder politischer Arbeit",
        "05.03.2025",
        "19:30",
        "Im öffentlichen Raum",
        "Parkplatz am Rathaus",
        "https://example.org/profil/2",
        "Bürgerin oder Bürger",
        "Ich habe bereits Anzeige bei der Polizei erstattet",
        "ST/1234/25",
        "person@example.org",
        "Sind Sie jetzt in akuter Gefahr?</dt>\n    <dd>Nein</dd>",
    ):
        assert words in report, words
    for code in ("public_space", "council_member", "hate_speech", "True", "False"):
        assert code not in report, code


def test_mailbox_messages_have_no_stray_blank_lines(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    code = submit(client, town)
    case = session.scalars(select(Case)).one()
    body = "Guten Tag,\nwir melden uns bis Freitag."
    office_message(session, town, case, body)
    page = open_mailbox(client, code)
    # The pre-wrap box holds the text and nothing else (site.css: `.message > div`).
    assert f"<div>{body}</div>" in page


def test_malformed_code_gets_the_format_and_the_right_code_opens(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    code = submit(client, town)
    for attempt in ("1234", "1234 5678 9012 345a", "1" * 17):
        assert "Der Code hat 16 Ziffern" in mailbox_login(client, attempt).get_data(as_text=True), attempt
    assert mailbox_login(client, code.replace(" ", "-")).status_code == 303
