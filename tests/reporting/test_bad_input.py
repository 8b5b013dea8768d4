"""Bad input to the intake form and the mailbox: each refused with a clear German message, no case, no 500."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from core.config import Config
from reporting.content import FIELD_BY_NAME
from reporting.forms import MESSAGE_LIMIT
from reporting.models import Case
from tests.conftest import make_test_config
from tests.factories import Town, add_town, count_cases, office_view, receipt_derivations
from tests.reporting import files
from tests.web import (
    MAILBOX,
    MAILBOX_LOGIN,
    csrf_token,
    full_report,
    mailbox_login,
    open_mailbox,
    post_form,
    post_mailbox,
    post_report,
    submit,
)

MAX_FILES = 5
MAX_FILE_BYTES = 200_000
SCRIPT = "<script>alert(1)</script>"
# Escaped once by the sender: decoding the entities must not turn it into a tag.
ENCODED_SCRIPT = "&lt;script&gt;alert(2)&lt;/script&gt;"
TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z!]")


@pytest.fixture
def app_config(migrated_database: str, tmp_path: Path) -> Config:
    # Small files keep the oversized request fast.
    return make_test_config(
        migrated_database, tmp_path / "instance", max_files=MAX_FILES, max_file_bytes=MAX_FILE_BYTES
    )


@pytest.fixture
def town(session: Session) -> Town:
    return add_town(session)


def page(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def refused(response: TestResponse, session: Session, *messages: str, status: int = 422) -> str:
    """The response refuses with every given message, and nothing was stored."""
    text = page(response)
    assert response.status_code == status, text
    for message in messages:
        assert message in text, f"{message!r} not in the page"
    assert count_cases(session) == 0
    return text


def field_error(text: str, field_id: str) -> str:
    match = re.search(rf'<p class="error-message" id="{field_id}-error">(.*?)</p>', text, re.S)
    assert match, f"no error message for {field_id}"
    return match.group(1)


def multipart(fields: list[tuple[str, bytes]], boundary: str = "komma-test-boundary") -> tuple[bytes, str]:
    """A multipart body built by hand, so a field can carry bytes that are not UTF-8."""
    head = b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="'
    parts = [head + name.encode() + b'"\r\n\r\n' + value + b"\r\n" for name, value in fields]
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def as_fields(data: dict[str, Any]) -> list[tuple[str, bytes]]:
    fields: list[tuple[str, bytes]] = []
    for name, value in data.items():
        for each in value if isinstance(value, list) else [value]:
            fields.append((name, str(each).encode()))
    return fields


# CSRF, sizes, files ---------------------------------------------------------------------------


def test_missing_csrf_token_is_refused(client: FlaskClient, session: Session, town: Town) -> None:
    response = post_form(client, f"/melden/{town.slug}", full_report(), csrf=False)
    refused(response, session, "Das Formular ist abgelaufen", "nichts gespeichert", status=400)
    forged = post_form(client, f"/melden/{town.slug}", {**full_report(), "csrf_token": "forged"}, csrf=False)
    refused(forged, session, "Das Formular ist abgelaufen", status=400)
    no_login = client.post(MAILBOX_LOGIN, data={"code": "1234 5678 9012 3456"})
    assert no_login.status_code == 400
    assert "Das Formular ist abgelaufen" in page(no_login)


def test_oversized_body_is_refused_with_413(
    client: FlaskClient, session: Session, town: Town, app_config: Config
) -> None:
    huge = b"\xff\xd8\xff" + b"\0" * (app_config.max_request_bytes + 1024)
    response = post_report(client, town, uploads=[("riesig.jpg", huge)])
    text = refused(response, session, "zu groß", "nichts gespeichert", status=413)
    assert "Bitte wählen Sie weniger oder kleinere Dateien" in text


def test_file_over_the_per_file_limit_is_refused(client: FlaskClient, session: Session, town: Town) -> None:
    big = files.pdf_with_author("x" * (MAX_FILE_BYTES + 10))
    response = post_report(client, town, uploads=[("gross.pdf", big)])
    refused(response, session, "Die Datei „gross.pdf“ ist größer als")


def test_too_many_files_are_refused(client: FlaskClient, session: Session, town: Town) -> None:
    photo = files.encode(files.pattern(), "PNG")
    uploads = [(f"foto{i}.png", photo) for i in range(MAX_FILES + 1)]
    text = refused(
        post_report(client, town, uploads=uploads), session, f"Bitte wählen Sie höchstens {MAX_FILES} Dateien aus."
    )
    assert "Bitte wählen Sie Ihre Dateien erneut aus." in text


def test_content_that_is_not_an_accepted_type_is_refused(client: FlaskClient, session: Session, town: Town) -> None:
    response = post_report(client, town, uploads=[("urlaub.jpg", b"Dies ist nur Text, kein Bild.\n" * 20)])
    refused(response, session, "Die Datei „urlaub.jpg“ ist kein Bild (JPEG, PNG, WebP, GIF) und kein PDF.")
    empty = post_report(client, town, uploads=[("leer.png", b"")])
    refused(empty, session, "Die Datei „leer.png“ ist leer.")
    damaged = post_report(client, town, uploads=[("kaputt.png", files.encode(files.pattern(), "PNG")[:60])])
    refused(damaged, session, "Die Datei „kaputt.png“ ist beschädigt")


def test_decompression_bomb_is_refused(client: FlaskClient, session: Session, town: Town) -> None:
    bomb = files.png_bomb()
    assert len(bomb) < MAX_FILE_BYTES
    response = post_report(client, town, uploads=[("bombe.png", bomb)])
    refused(response, session, "Das Bild „bombe.png“ ist zu groß zum Verarbeiten.")


# Text ------------------------------------------------------------------------------------------


def test_invalid_utf8_in_a_field_is_refused(client: FlaskClient, session: Session, town: Town) -> None:
    path = f"/melden/{town.slug}"
    fields = [("csrf_token", csrf_token(client, path).encode())]
    fields += [(name, value) for name, value in as_fields(full_report()) if name != "description"]
    fields.append(("description", b"Ich wurde bedroht \xff\xfe\xfa und beleidigt."))
    body, content_type = multipart(fields)
    response = client.post(path, data=body, content_type=content_type)
    text = refused(response, session, "nicht gelesen werden")
    assert "nicht gelesen werden" in field_error(text, "description")
    # The rest of the report is kept for the next try.
    assert 'value="Parkplatz am Rathaus"' in text


def test_invalid_utf8_in_a_reply_is_refused(client: FlaskClient, session: Session, town: Town) -> None:
    code = submit(client, town)
    open_mailbox(client, code)
    body, content_type = multipart(
        [("csrf_token", csrf_token(client, MAILBOX).encode()), ("body", b"Antwort \xff\xfe\xfa")]
    )
    response = client.post("/postfach/nachricht", data=body, content_type=content_type)
    assert response.status_code == 422
    assert "nicht gelesen werden" in page(response)
    assert office_view(session, town).messages == []


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("description", FIELD_BY_NAME["description"].max_length),
        ("place", FIELD_BY_NAME["place"].max_length),
        ("platform", FIELD_BY_NAME["platform"].max_length),
        ("urls", FIELD_BY_NAME["urls"].max_length),
        ("perpetrator_description", FIELD_BY_NAME["perpetrator_description"].max_length),
        ("evidence_found", FIELD_BY_NAME["evidence_found"].max_length),
        ("police_reference", FIELD_BY_NAME["police_reference"].max_length),
        ("contact_phone", 40),
    ],
)
def test_100000_characters_in_a_field_are_refused(
    client: FlaskClient, session: Session, town: Town, field: str, limit: int
) -> None:
    value = "https://example.org/" + "a" * 99_980 if field == "urls" else "Ä" * 100_000
    text = refused(post_report(client, town, full_report(**{field: value})), session, "höchstens")
    assert f"höchstens {limit} Zeichen" in field_error(text, field)
    assert "Bitte prüfen Sie Ihre Angaben" in text


def test_100000_characters_in_every_field_at_once(client: FlaskClient, session: Session, town: Town) -> None:
    long = "x" * 100_000
    data = full_report(
        description=long,
        place=long,
        platform=long,
        urls=long,
        perpetrator_description=long,
        evidence_found=long,
        police_reference=long,
        contact_email=long,
        contact_phone=long,
        incident_month=long,
        incident_time=long,
        incident_date=long,
        known_since=long,
    )
    text = refused(post_report(client, town, data), session, "Bitte prüfen Sie Ihre Angaben")
    for field in (
        "description",
        "place",
        "platform",
        "urls",
        "perpetrator_description",
        "evidence_found",
        "police_reference",
        "contact_phone",
    ):
        assert "höchstens" in field_error(text, field), field
    for field in ("contact_email", "incident_month", "incident_time", "incident_date", "known_since"):
        assert field_error(text, field).strip(), field
    # A reply, too.
    code = submit(client, town)
    open_mailbox(client, code)
    reply = post_mailbox(client, "nachricht", {"body": long})
    assert reply.status_code == 422
    assert f"höchstens {MESSAGE_LIMIT} Zeichen" in page(reply)


def test_markup_is_stripped_from_every_field_and_rendered_escaped(
    client: FlaskClient, session: Session, town: Town
) -> None:
    data = full_report(
        description=f"Vorher {SCRIPT} nachher <b>fett</b> {ENCODED_SCRIPT}",
        place=f"Rathaus {SCRIPT}",
        platform=f'<img src=x onerror="alert(1)">Netz {ENCODED_SCRIPT}',
        urls=f"https://example.org/beitrag{SCRIPT}\nhttps://example.org/{ENCODED_SCRIPT}",
        perpetrator_description=f"<a href='javascript:alert(1)'>Mann</a> {SCRIPT}",
        evidence_found=f"ich {SCRIPT}",
        police_reference=f"ST-1 {ENCODED_SCRIPT}",
        contact_email="<b>person</b>@example.org",
        contact_phone=f"0170 {SCRIPT}",
    )
    response = post_report(client, town, data)
    assert response.status_code == 303, page(response)
    report = office_view(session, town).report

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [s for each in value for s in strings(each)]
        if isinstance(value, dict):
            return [s for each in value.values() for s in strings(each)]
        return []

    for text in strings(report):
        assert not TAG_RE.search(text), text
    assert "Vorher alert(1) nachher fett" in report["description"]
    assert report["contact_email"] == "person@example.org"

    code = client.get(f"/melden/{town.slug}/eingang").get_data(as_text=True)
    match = re.search(r'data-testid="receipt-code">([\d ]+)<', code)
    assert match
    open_mailbox(client, match.group(1))
    name = f'<img src=x onerror="alert(3)">{SCRIPT}.pdf'
    reply = post_mailbox(
        client,
        "nachricht",
        {"body": f"Antwort {SCRIPT} {ENCODED_SCRIPT} <i>kursiv</i>"},
        [(name, files.pdf_with_author("x"))],
    )
    assert reply.status_code == 303
    mailbox = page(client.get(MAILBOX))
    assert "Antwort alert(1)" in mailbox
    assert "<script>alert" not in mailbox
    assert "<img src=x" not in mailbox
    assert "<i>kursiv" not in mailbox
    assert "alert(2)" in mailbox
    for author, body in office_view(session, town).messages:
        assert author == "reporter"
        assert not TAG_RE.search(body), body


def test_markup_in_a_refused_form_is_shown_escaped(client: FlaskClient, session: Session, town: Town) -> None:
    data = full_report(description="", place='"><script>alert(1)</script>', incident_time='"><script>alert(4)</script>')
    text = refused(post_report(client, town, data), session, "Bitte beschreiben Sie kurz")
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(4)" in text or "alert(4)" not in text


def test_control_characters_are_removed_from_every_field(client: FlaskClient, session: Session, town: Town) -> None:
    hidden = "\x00\x07\u202e\u200b"
    data = full_report(
        description=f"Be{hidden}droht",
        place=f"Rat{hidden}haus",
        platform=f"Netz{hidden}werk",
        perpetrator_description=f"Ma{hidden}nn",
        evidence_found=f"ic{hidden}h",
        police_reference=f"ST{hidden}-1",
        contact_email=f"per{hidden}son@example.org",
        contact_phone=f"0170{hidden}123",
    )
    assert post_report(client, town, data).status_code == 303
    report = office_view(session, town).report
    assert report["description"] == "Bedroht"
    assert report["place"] == "Rathaus"
    assert report["platform"] == "Netzwerk"
    assert report["perpetrator_description"] == "Mann"
    assert report["evidence_found"] == "ich"
    assert report["police_reference"] == "ST-1"
    assert report["contact_email"] == "person@example.org"
    assert report["contact_phone"] == "0170123"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("incident_date", "2025-13-45", "Datum"),
        ("incident_date", "2999-01-01", "Das Datum liegt in der Zukunft"),
        ("known_since", "gestern", "Datum"),
        ("incident_month", "13/2025", "Bitte geben Sie den Monat als JJJJ-MM an"),
        ("incident_month", "2025-13", "Bitte geben Sie den Monat als JJJJ-MM an"),
        ("incident_time", "25:99", "Bitte geben Sie die Uhrzeit als HH:MM an"),
        ("urls", "javascript:alert(1)", "Dies ist kein gültiger Link"),
        ("urls", "https://example.org/a\nftp://example.org/b", "Dies ist kein gültiger Link"),
        ("urls", "\n".join(f"https://example.org/{i}" for i in range(21)), "höchstens 20 Links"),
        ("contact_email", "keine-adresse", "Bitte geben Sie eine gültige E-Mail-Adresse an"),
        ("contact_email", "", "Bitte geben Sie eine Adresse an"),
    ],
)
def test_malformed_values_get_a_field_message(
    client: FlaskClient, session: Session, town: Town, field: str, value: str, message: str
) -> None:
    data = full_report(**{field: value})
    if field == "incident_month":
        data.pop("incident_date")
    text = refused(post_report(client, town, data), session, message)
    assert message in field_error(text, field)
    assert "Bitte prüfen Sie Ihre Angaben" in text
    assert f'href="#{field}"' in text


def test_phone_contact_without_number_and_missing_choices(client: FlaskClient, session: Session, town: Town) -> None:
    data = full_report(contact="phone", contact_phone="", incident_types=None, affected_role=None, channel=None)
    data["reporter_role"] = "not-a-role"
    text = refused(post_report(client, town, data), session)
    assert "Bitte geben Sie eine Nummer an" in field_error(text, "contact_phone")
    assert "Bitte wählen Sie mindestens eine Art des Vorfalls" in field_error(text, "incident_types")
    assert "Bitte wählen Sie die Rolle der betroffenen Person" in field_error(text, "affected_role")
    assert "Bitte wählen Sie aus, wo es passiert ist" in field_error(text, "channel")
    assert field_error(text, "reporter_role").strip()
    assert "Not a valid" not in text


def test_a_refused_form_keeps_every_value_and_names_the_files_to_choose_again(
    client: FlaskClient, session: Session, town: Town
) -> None:
    data = full_report(incident_types=None, acute_danger="yes", consent_employer="y", contact="phone")
    photo = files.encode(files.pattern(), "PNG")
    text = refused(
        post_report(client, town, data, [("Beweisfoto.png", photo), ("Chatverlauf.pdf", files.pdf_with_author("x"))]),
        session,
        "Bitte wählen Sie mindestens eine Art des Vorfalls",
    )
    assert 'value="Parkplatz am Rathaus"' in text
    assert 'value="Kein Netzwerk"' in text
    assert 'value="ST/1234/25"' in text
    assert 'value="person@example.org"' in text
    assert 'value="0170 1234567"' in text
    assert 'value="2025-03-05"' in text
    assert 'value="19:30"' in text
    assert ">Nach der Ratssitzung wurde ich auf dem Parkplatz bedroht und beschimpft.</textarea>" in text
    assert ">Ein Mann, etwa 50 Jahre alt</textarea>" in text
    assert "https://example.org/beitrag/1\nhttps://example.org/profil/2</textarea>" in text

    def checked(name: str, value: str) -> bool:
        return re.search(rf'name="{name}" value="{re.escape(value)}" checked>', text) is not None

    assert checked("acute_danger", "yes")
    assert not checked("acute_danger", "no")
    assert checked("reporter_role", "affected")
    assert checked("affected_role", "council_member")
    assert checked("channel", "public_space")
    assert checked("motives", "racism")
    assert checked("motives", "political_engagement")
    assert not checked("motives", "antisemitism")
    assert checked("perpetrator", "citizen")
    assert checked("contact", "phone")
    for box in (
        "ongoing",
        "done_police",
        "done_supervisor",
        "consent_counselling",
        "consent_police",
        "consent_employer",
    ):
        assert checked(box, "y"), box
    for box in ("done_counselling", "consent_prosecutor", "consent_statistics", "consent_no_forwarding"):
        assert not checked(box, "y"), box
    assert "Bitte wählen Sie Ihre Dateien erneut aus." in text
    assert "Beweisfoto.png" in text
    assert "Chatverlauf.pdf" in text


# Flooding --------------------------------------------------------------------------------------


def test_honeypot_is_refused_with_a_message(client: FlaskClient, session: Session, town: Town) -> None:
    text = refused(post_report(client, town, full_report(website="https://spam.example")), session)
    assert "Ihre Meldung konnte nicht angenommen werden" in text
    # The page does not say which field gave the bot away, and the trap is empty again.
    assert 'name="website" value=""' in text


# The receipt code ------------------------------------------------------------------------------


def test_wrong_receipt_code_costs_one_derivation_like_a_right_one(
    client: FlaskClient, session: Session, town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = submit(client, town)
    calls = receipt_derivations(monkeypatch)
    wrong = "0000 0000 0000 0001" if code != "0000 0000 0000 0001" else "0000 0000 0000 0002"
    response = mailbox_login(client, wrong)
    assert response.status_code == 200
    assert "Dieser Zugangscode wurde nicht gefunden" in page(response)
    assert len(calls) == 1
    calls.clear()
    # A malformed code is told the (public) format and costs nothing: its form gives away no secret.
    for attempt in ("12345", "abcd efgh ijkl mnop", "1234 5678 9012 34567", "1234 5678 9012 345O"):
        response = mailbox_login(client, attempt)
        assert response.status_code == 200
        text = page(response)
        assert "Der Code hat 16 Ziffern" in text, attempt
        assert "nicht gefunden" not in text, attempt
        assert text.count('class="error-message"') == 1, attempt
        assert calls == [], attempt
    response = mailbox_login(client, code.replace(" ", "-"))
    assert response.status_code == 303
    assert len(calls) == 1
    # Same work on both paths: the derivation dominates, the rest is a lookup and an AES-GCM open.
    assert "nicht gefunden" not in page(client.get(MAILBOX))


def test_empty_receipt_code_gets_a_message(client: FlaskClient) -> None:
    response = mailbox_login(client, "")
    assert response.status_code == 200
    assert "Bitte geben Sie Ihren 16-stelligen Zugangscode ein." in page(response)


def test_unknown_or_closed_municipality_is_a_404_page(client: FlaskClient, session: Session, town: Town) -> None:
    for path in ("/melden/gibt-es-nicht", "/melden/gibt-es-nicht/eingang"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Seite nicht gefunden" in page(response)
    response = client.post("/melden/gibt-es-nicht", data={"csrf_token": csrf_token(client, f"/melden/{town.slug}")})
    assert response.status_code == 404
    closed = add_town(session, "geschlossen", "Geschlossen")
    from core.models import Municipality

    row = session.get(Municipality, closed.id)
    assert row is not None
    row.accepts_reports = False
    session.commit()
    assert client.get(f"/melden/{closed.slug}").status_code == 404
    assert f"/melden/{closed.slug}" not in page(client.get("/"))
    assert session.scalar(select(func.count()).select_from(Case)) == 0
