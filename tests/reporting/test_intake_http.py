"""The whole reporter's path through HTTP: form -> receipt -> mailbox -> reply -> consent change."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import SecretSession
from reporting import codes
from reporting.content import CONSENT_NAMES
from reporting.models import Case, CaseCode, CaseEvent, CaseMessage
from tests.factories import add_town, office_message, office_view
from tests.reporting import files
from tests.web import (
    CODE_RE,
    MAILBOX,
    MAILBOX_LOGIN,
    csrf_token,
    full_report,
    open_mailbox,
    post_mailbox,
    post_report,
    read_receipt,
    submit,
)
from workers.models import OutboxEntry

# Dates on the pages are local to the service (BABEL_DEFAULT_TIMEZONE).
PAGE_TIMEZONE = ZoneInfo("Europe/Berlin")


# Start page and form ---------------------------------------------------------------------------


def test_start_page_lists_municipalities_and_links_to_their_forms(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    other = add_town(session, "beispielheim", "Beispielheim")
    page = client.get("/").get_data(as_text=True)
    for each in (town, other):
        assert f'href="/melden/{each.slug}"' in page
        assert each.name in page
    assert "110" in page


def test_form_explains_who_reads_what_happens_anonymity_and_retention(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    response = client.get(f"/melden/{town.slug}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Wer liest Ihre Meldung?" in page
    assert "Clearingstelle Musterstadt" in page
    assert "Was passiert danach?" in page
    assert "Was bleibt anonym?" in page
    assert "keine IP-Adresse" in page
    assert "Wie lange werden Daten gespeichert?" in page
    assert "3 Jahre" in page
    # The emergency numbers are in the HTML of the danger question itself, not added by a script.
    danger = page[
        page.index('<fieldset class="danger"') : page.index("</fieldset>", page.index('<fieldset class="danger"'))
    ]
    assert "110" in danger
    assert "112" in danger
    # The only script is the self-hosted proof of work (reporting.challenge); the form works without it.
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == ['<script src="/static/js/challenge.js" defer>'], scripts


def test_form_in_english_on_request(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    page = client.get(f"/melden/{town.slug}?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page


# The whole path --------------------------------------------------------------------------------


def test_whole_path_form_receipt_mailbox_reply_consents(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    photo = files.encode(files.pattern(), "PNG")
    response = post_report(client, town, uploads=[("Screenshot Beitrag.png", photo)])
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/melden/{town.slug}/eingang")

    # The receipt: 16 digits in groups of four, not cached, shown until the reporter confirms.
    code, receipt = read_receipt(client, town)
    assert receipt.status_code == 200
    assert "no-store" in receipt.headers["Cache-Control"]
    assert "nicht wiederhergestellt" in receipt.get_data(as_text=True)
    # No emergency box for a report without acute danger (the code itself may hold the digits 110).
    main = receipt.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]
    assert "110" not in main.replace(code, "")
    receipt_path = f"/melden/{town.slug}/eingang"
    assert client.post(receipt_path, data={"csrf_token": csrf_token(client, receipt_path)}).status_code == 303
    again = client.get(receipt_path)
    assert again.status_code == 200
    text = again.get_data(as_text=True)
    assert "Hier wird kein Zugangscode angezeigt" in text
    assert not CODE_RE.search(text)
    assert code.replace(" ", "") not in text.replace(" ", "")

    # One case, one "new report" job carrying the case id only.
    case = session.scalars(select(Case)).one()
    assert case.status == "received"
    assert case.urgency == "normal"
    jobs = session.scalars(select(OutboxEntry).where(OutboxEntry.job == "notify_new_report")).all()
    assert [job.args for job in jobs] == [{"case_id": case.id}]

    # The mailbox: status in words with the date.
    page = open_mailbox(client, code)
    assert "Eingegangen" in page
    received = case.status_changed_at.astimezone(PAGE_TIMEZONE)
    assert f"seit {received:%d.%m.%Y}" in page
    assert "Ihre Meldung ist eingegangen" in page
    assert "Screenshot Beitrag.png" in page
    assert "Noch keine Nachrichten" in page

    # A reply with a file.
    reply = post_mailbox(
        client, "nachricht", {"body": "Heute kam noch ein Brief."}, [("Brief.pdf", files.pdf_with_author("Brief"))]
    )
    assert reply.status_code == 303
    page = client.get(MAILBOX).get_data(as_text=True)
    assert "Heute kam noch ein Brief." in page
    assert "Brief.pdf" in page
    assert "Ihre Nachricht wurde verschlüsselt gesendet." in page
    assert "Sie haben eine Nachricht gesendet" in page

    # Consents: withdraw counselling, keep police, grant statistics.
    assert 'id="consent_counselling" name="consent_counselling" value="y" checked' in page
    changed = post_mailbox(client, "einwilligungen", {"consent_police": "y", "consent_statistics": "y"})
    assert changed.status_code == 303
    page = client.get(MAILBOX).get_data(as_text=True)
    assert "Einwilligung zurückgezogen: Weitergabe an eine Beratungsstelle" in page
    assert "Einwilligung erteilt: Anonyme Statistik" in page
    assert 'id="consent_counselling" name="consent_counselling" value="y" checked' not in page
    assert 'id="consent_statistics" name="consent_statistics" value="y" checked' in page
    session.expire_all()
    case = session.get(Case, case.id)
    assert case is not None
    assert not case.consent_counselling
    assert case.consent_police
    assert case.consent_statistics
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert {(e.kind, e.detail) for e in events} >= {
        ("received", None),
        ("consent_granted", "counselling"),
        ("consent_granted", "police"),
        ("reporter_message", None),
        ("consent_withdrawn", "counselling"),
        ("consent_granted", "statistics"),
    }

    # The office reads all of it with its key.
    view = office_view(session, town, case.id)
    assert view.messages == [("reporter", "Heute kam noch ein Brief.")]
    assert set(view.files) == {"Screenshot Beitrag.png", "Brief.pdf"}
    assert view.files["Brief.pdf"][0].metadata_warning
    assert view.files["Brief.pdf"][1] == files.pdf_with_author("Brief")
    jobs = session.scalars(select(OutboxEntry).order_by(OutboxEntry.created_at)).all()
    assert all(job.args == {"case_id": case.id} for job in jobs)
    assert [job.job for job in jobs].count("notify_case_activity") == 2


def test_report_round_trip_every_field_reaches_the_office(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    sent = full_report(done_counselling="y", consent_statistics="y", consent_no_forwarding="y")
    submit(client, town, sent, [("Foto.png", files.encode(files.pattern(), "PNG"))])
    view = office_view(session, town)
    report = view.report
    assert report["reporter_role"] == sent["reporter_role"]
    assert report["affected_role"] == sent["affected_role"]
    assert report["incident_types"] == sent["incident_types"]
    assert report["motives"] == sent["motives"]
    assert report["description"] == sent["description"]
    assert report["incident_date"] == sent["incident_date"]
    assert report["incident_month"] == sent["incident_month"]
    assert report["incident_time"] == sent["incident_time"]
    assert report["ongoing"] is True
    assert report["known_since"] == sent["known_since"]
    assert report["channel"] == sent["channel"]
    assert report["place"] == sent["place"]
    assert report["platform"] == sent["platform"]
    assert report["urls"] == sent["urls"].splitlines()
    assert report["perpetrator"] == sent["perpetrator"]
    assert report["perpetrator_description"] == sent["perpetrator_description"]
    assert report["evidence_found"] == sent["evidence_found"]
    assert report["already_done"] == {"police": True, "supervisor": True, "counselling": True}
    assert report["police_reference"] == sent["police_reference"]
    assert report["acute_danger"] is False
    assert report["contact"] == sent["contact"]
    assert report["contact_email"] == sent["contact_email"]
    assert report["contact_phone"] == sent["contact_phone"]
    # Every field of the form is accounted for: in the report, as a consent flag, or as a file.
    form_fields = set(sent) - {"website", "done_police", "done_supervisor", "done_counselling"}
    consents = {f"consent_{name}" for name in CONSENT_NAMES}
    assert form_fields - consents <= set(report)
    case = view.case
    assert {name: case.consent(name) for name in CONSENT_NAMES} == {
        "counselling": True,
        "police": True,
        "employer": False,
        "prosecutor": False,
        "statistics": True,
        "no_forwarding": True,
    }
    assert set(view.files) == {"Foto.png"}
    assert view.files["Foto.png"][0].media_type == "image/png"


def test_clear_columns_hold_only_the_allowed_codes(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    submit(client, town)
    case = session.scalars(select(Case)).one()
    # A new clear column must be a decision: ARCHITECTURE.md, "What is stored in clear".
    assert set(Case.__table__.columns.keys()) == {
        "id",
        "municipality_id",
        "reference",
        "received_at",
        "status",
        "status_changed_at",
        "urgency",
        "affected_role",
        "channel",
        "incident_month",
        "perpetrator_context",
        *(f"consent_{name}" for name in CONSENT_NAMES),
        "deletion_requested_at",
        # The reporter's address for "a message is waiting" mails, sealed (only with contact by mail).
        "reporter_notify_ciphertext",
        # The clearing office's own bookkeeping: the 7-day acknowledgement and the officer in charge.
        "acknowledged_at",
        "assigned_to",
        # Arrived while the municipality was flooded (reporting.flood): about the hour, not the reporter.
        "flood_marked",
        "sealed_case_key",
        # Which office key epoch the case key is sealed to (a small number, issue 13 item 4).
        "office_key_epoch",
        "report_ciphertext",
    }
    assert case.municipality_id == town.id
    assert re.fullmatch(r"K-[A-Z0-9]{8}", case.reference)
    assert case.status == "received"
    assert case.urgency == "normal"
    assert case.affected_role in codes.AFFECTED_ROLES
    assert case.channel in codes.CHANNELS
    assert case.perpetrator_context in codes.PERPETRATORS
    assert case.incident_month == "2025-03"
    assert case.deletion_requested_at is None
    assert case.acknowledged_at is None
    assert case.assigned_to is None
    clear_codes = {(c.kind, c.code) for c in session.scalars(select(CaseCode).where(CaseCode.case_id == case.id))}
    assert clear_codes == {
        ("incident_type", "threat"),
        ("incident_type", "hate_speech"),
        ("motive", "racism"),
        ("motive", "political_engagement"),
    }
    for event in session.scalars(select(CaseEvent)):
        assert event.detail is None or event.detail in CONSENT_NAMES
    # The ciphertexts do not contain what was typed.
    assert case.reporter_notify_ciphertext is not None
    for blob in (case.report_ciphertext, case.sealed_case_key, case.reporter_notify_ciphertext):
        assert b"Parkplatz" not in blob
        assert b"person@example.org" not in blob


def test_acute_danger_marks_the_case_acute_and_the_receipt_shows_110(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    response = post_report(client, town, full_report(acute_danger="yes"))
    assert response.status_code == 303
    _code, receipt = read_receipt(client, town)
    page = receipt.get_data(as_text=True)
    assert "akuter Gefahr" in page
    assert "110" in page
    assert "als dringend markiert" in page
    assert session.scalars(select(Case)).one().urgency == "acute"


def test_office_message_appears_in_the_mailbox(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    code = submit(client, town)
    case = session.scalars(select(Case)).one()
    body = "Guten Tag, wir haben Ihre Meldung erhalten und melden uns bis Freitag."
    office_message(session, town, case, body)
    page = open_mailbox(client, code)
    assert body in page
    assert "message-office" in page
    assert "Clearingstelle" in page


def test_deletion_request_records_the_date(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    code = submit(client, town)
    open_mailbox(client, code)
    refused = post_mailbox(client, "loeschen", {})
    assert refused.status_code == 422
    assert "Bitte bestätigen Sie" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.scalars(select(Case)).one().deletion_requested_at is None

    response = post_mailbox(client, "loeschen", {"confirm": "y"})
    assert response.status_code == 303
    session.expire_all()
    case = session.scalars(select(Case)).one()
    assert case.deletion_requested_at is not None
    assert utcnow() - case.deletion_requested_at < timedelta(minutes=1)
    page = client.get(MAILBOX).get_data(as_text=True)
    when = case.deletion_requested_at.astimezone(PAGE_TIMEZONE)
    assert f"Sie haben am {when:%d.%m.%Y} die Löschung beantragt." in page
    assert "Ihr Löschwunsch liegt vor." in page
    kinds = session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
    assert kinds.count("deletion_requested") == 1


def test_leaving_ends_the_mailbox_session(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    code = submit(client, town)
    open_mailbox(client, code)
    session.expire_all()
    assert (
        session.scalar(select(func.count()).select_from(SecretSession).where(SecretSession.purpose == "mailbox")) == 1
    )
    response = client.post("/postfach/verlassen", data={"csrf_token": csrf_token(client, MAILBOX)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(MAILBOX_LOGIN)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(SecretSession)) == 0
    after = client.get(MAILBOX)
    assert after.status_code == 303
    assert after.headers["Location"].endswith(MAILBOX_LOGIN)
    # The page after leaving reminds the user to close the browser.
    assert "Browser" in client.get(MAILBOX_LOGIN).get_data(as_text=True)


def test_idle_mailbox_closes_after_15_minutes(client: FlaskClient, session: Session) -> None:
    town = add_town(session)
    code = submit(client, town)
    open_mailbox(client, code)
    row = session.scalars(select(SecretSession).where(SecretSession.purpose == "mailbox")).one()
    # Each request extends the session by 15 minutes from now.
    assert timedelta(minutes=14) < row.expires_at - utcnow() <= timedelta(minutes=15)
    session.execute(update(SecretSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    session.commit()
    response = client.get(MAILBOX)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(MAILBOX_LOGIN)
    assert "geschlossen" in client.get(MAILBOX_LOGIN).get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(SecretSession)) == 0
    # Posting to the closed mailbox changes nothing.
    reply = post_mailbox(client, "nachricht", {"body": "zu spät"}, token_from=MAILBOX_LOGIN)
    assert reply.status_code == 303
    assert session.scalar(select(func.count()).select_from(CaseMessage)) == 0
