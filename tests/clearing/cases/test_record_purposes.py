"""Each record kind under the case key has its own purpose and binding (issue 13, item 3).

The attack: with write access to the database, copy an internal note's or the assessment's
ciphertext into the message table, or move a file to another message or case. Each test does
that with SQL against the real database, then reads the pages a reporter and an officer see.
"""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

import crypto
from clearing.cases.models import Assessment, CaseNote
from core.config import Config
from core.db import new_id
from reporting import case_crypto
from reporting.models import Attachment, CaseMessage
from tests.factories import Alliance, build_alliance, case_row, office_case_key, pdf_with
from tests.web import MAILBOX, logged_in_client, mailbox_client, officer_path, post, post_mailbox, submit_report_form

NOTE = "Intern: die Kollegin kennt den Täter persönlich"
ASSESSMENT_NOTES = "Bewertung intern: Gefährdung ernst nehmen"
OFFICE_MESSAGE = "Guten Tag, wir haben Ihre Meldung erhalten."
UNREADABLE_MESSAGE = "Dieser Eintrag lässt sich nicht als Nachricht öffnen"


@pytest.fixture
def alliance(session: Session, config: Config) -> Alliance:
    return build_alliance(session, config, "astadt", "Astadt")


def _section(page: str, anchor: str) -> str:
    """One section of the case page, from its heading id to the next section."""
    return page.split(f'id="{anchor}"', 1)[1].split("</section>", 1)[0]


def _case_with_note(app: Flask, session: Session, alliance: Alliance) -> tuple[str, str, FlaskClient]:
    """A report, assessed with notes; an internal note and a message to the reporter. (case id, code, officer)."""
    reported = submit_report_form(app, session, alliance.town)
    officer = officer_path(app, alliance, reported.case_id, notes=ASSESSMENT_NOTES)
    base = f"/clearing/fall/{reported.case_id}"
    assert post(officer, f"{base}/notiz", {"note": NOTE}).status_code == 303
    assert post(officer, f"{base}/nachricht", {"body": OFFICE_MESSAGE}).status_code == 303
    return reported.case_id, reported.receipt_code, officer


def _copy_into_messages(session: Session, case_id: str, row_id: str, ciphertext: bytes, fmt: int) -> None:
    session.execute(
        text(
            "INSERT INTO case_message (id, case_id, author, created_at, ciphertext, crypto_format)"
            " VALUES (:id, :case_id, 'office', CURRENT_TIMESTAMP, :ciphertext, :fmt)"
        ),
        {"id": row_id, "case_id": case_id, "ciphertext": ciphertext, "fmt": fmt},
    )
    session.commit()


def _mailbox(app: Flask, code: str) -> str:
    response = mailbox_client(app, code).get(MAILBOX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("fmt", [case_crypto.RECORD_FORMAT, case_crypto.LEGACY_FORMAT])
def test_an_internal_note_copied_into_the_message_table_is_never_shown_as_a_message(
    app: Flask, session: Session, alliance: Alliance, fmt: int
) -> None:
    case_id, code, officer = _case_with_note(app, session, alliance)
    note = session.scalars(select(CaseNote).where(CaseNote.case_id == case_id)).one()
    # Same id, same case, same ciphertext: before item 3 this opened as a message (shared purpose).
    # Marking the copy as a legacy row does not help: a new note was never under the old purpose.
    _copy_into_messages(session, case_id, note.id, note.ciphertext, fmt)

    mailbox = _mailbox(app, code)
    assert OFFICE_MESSAGE in mailbox
    assert NOTE not in mailbox

    page = officer.get(f"/clearing/fall/{case_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    messages = _section(html, "nachrichten")
    assert NOTE not in messages
    assert OFFICE_MESSAGE in messages
    assert UNREADABLE_MESSAGE in messages
    assert NOTE in _section(html, "notizen")  # the note itself still opens where it belongs


@pytest.mark.parametrize("fmt", [case_crypto.RECORD_FORMAT, case_crypto.LEGACY_FORMAT])
def test_assessment_notes_copied_into_the_message_table_are_never_shown_as_a_message(
    app: Flask, session: Session, alliance: Alliance, fmt: int
) -> None:
    case_id, code, officer = _case_with_note(app, session, alliance)
    assessment = session.get_one(Assessment, case_id)
    assert assessment.notes_ciphertext is not None
    # The assessment's notes were bound to the case id: a message row with that id took them.
    _copy_into_messages(session, case_id, case_id, assessment.notes_ciphertext, fmt)

    assert ASSESSMENT_NOTES not in _mailbox(app, code)
    html = officer.get(f"/clearing/fall/{case_id}").get_data(as_text=True)
    assert ASSESSMENT_NOTES not in _section(html, "nachrichten")
    assert UNREADABLE_MESSAGE in _section(html, "nachrichten")


def test_a_message_or_note_moved_into_the_assessment_or_the_notes_does_not_open_there(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    case_id, _code, officer = _case_with_note(app, session, alliance)
    message = session.scalars(select(CaseMessage).where(CaseMessage.case_id == case_id)).one()
    session.execute(
        text("UPDATE assessment SET notes_ciphertext = :blob WHERE case_id = :case_id"),
        {"blob": message.ciphertext, "case_id": case_id},
    )
    session.execute(
        text(
            "INSERT INTO case_note (id, case_id, created_at, ciphertext, crypto_format)"
            " VALUES (:id, :case_id, CURRENT_TIMESTAMP, :blob, 2)"
        ),
        {"id": message.id, "case_id": case_id, "blob": message.ciphertext},
    )
    session.commit()

    page = officer.get(f"/clearing/fall/{case_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert OFFICE_MESSAGE not in _section(html, "bewertung")
    assert "Die gespeicherten Anmerkungen lassen sich nicht öffnen" in _section(html, "bewertung")
    notes = _section(html, "notizen")
    assert OFFICE_MESSAGE not in notes
    assert NOTE in notes
    assert "Dieser Eintrag lässt sich nicht als Notiz öffnen" in notes


def test_a_message_relabelled_as_the_reporters_does_not_open(app: Flask, session: Session, alliance: Alliance) -> None:
    case_id, code, _officer = _case_with_note(app, session, alliance)
    session.execute(text("UPDATE case_message SET author = 'reporter' WHERE case_id = :id"), {"id": case_id})
    session.commit()
    assert OFFICE_MESSAGE not in _mailbox(app, code)


def test_an_attachment_moved_to_another_message_or_case_does_not_open(
    app: Flask, session: Session, alliance: Alliance
) -> None:
    reported = submit_report_form(app, session, alliance.town, files=[("meldung.pdf", pdf_with("zur Meldung"))])
    other = submit_report_form(app, session, alliance.town, files=[("anderer.pdf", pdf_with("anderer Fall"))])
    reporter = mailbox_client(app, reported.receipt_code)
    for body, uploads in (("Hier der Beleg", [("beleg.pdf", pdf_with("Beleg"))]), ("Noch etwas", [])):
        assert post_mailbox(reporter, "nachricht", {"body": body}, uploads).status_code == 303
    session.expire_all()
    first, second = session.scalars(
        select(CaseMessage).where(CaseMessage.case_id == reported.case_id).order_by(CaseMessage.created_at)
    ).all()
    by_message = {
        a.message_id: a for a in session.scalars(select(Attachment).where(Attachment.case_id == reported.case_id))
    }
    evidence, report_file = by_message[first.id], by_message[None]
    foreign = session.scalars(select(Attachment).where(Attachment.case_id == other.case_id)).one()

    # Unchanged, both files open for the office.
    officer = logged_in_client(app, alliance.officer)
    base = f"/clearing/fall/{reported.case_id}"
    assert officer.get(f"{base}/datei/{evidence.id}").status_code == 200
    assert officer.get(f"{base}/datei/{report_file.id}").status_code == 200

    # The message's file moved to the other message, the report's file to the first message, and a
    # file of another case (its ciphertext copied over) into this one.
    session.execute(text("UPDATE attachment SET message_id = :to WHERE id = :id"), {"to": second.id, "id": evidence.id})
    session.execute(
        text("UPDATE attachment SET message_id = :to WHERE id = :id"), {"to": first.id, "id": report_file.id}
    )
    session.execute(
        text("UPDATE attachment SET case_id = :to WHERE id = :id"), {"to": reported.case_id, "id": foreign.id}
    )
    session.commit()

    for moved in (evidence, report_file, foreign):
        assert officer.get(f"{base}/datei/{moved.id}").status_code == 404
    page = officer.get(base)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("beleg.pdf", "meldung.pdf", "anderer.pdf"):
        assert name not in html
    assert html.count("Eine Datei lässt sich nicht öffnen") == 3
    mailbox = reporter.get(MAILBOX).get_data(as_text=True)
    for name in ("beleg.pdf", "meldung.pdf", "anderer.pdf"):
        assert name not in mailbox
    assert "Hier der Beleg" in mailbox

    # Moved back, the file opens again: the binding is the place, not a mark on the row.
    session.execute(text("UPDATE attachment SET message_id = :to WHERE id = :id"), {"to": first.id, "id": evidence.id})
    session.commit()
    assert officer.get(f"{base}/datei/{evidence.id}").status_code == 200


def test_rows_from_before_the_migration_stay_readable(app: Flask, session: Session, alliance: Alliance) -> None:
    """Rows written under the old shared purpose (format 1) open as they did."""
    reported = submit_report_form(app, session, alliance.town)
    officer = officer_path(app, alliance, reported.case_id)
    case = case_row(session, reported.case_id)
    key = office_case_key(session, alliance.town, case)

    def legacy_box(body: str, record_id: str) -> bytes:
        return crypto.box_encrypt(key, json.dumps({"body": body}).encode(), purpose="message", record_id=record_id)

    message_id, note_id = new_id(), new_id()
    session.add(
        CaseMessage(
            id=message_id,
            case_id=case.id,
            author="office",
            ciphertext=legacy_box("Alte Nachricht", message_id),
            crypto_format=case_crypto.LEGACY_FORMAT,
        )
    )
    session.add(
        CaseNote(
            id=note_id,
            case_id=case.id,
            ciphertext=legacy_box("Alte Notiz", note_id),
            crypto_format=case_crypto.LEGACY_FORMAT,
        )
    )
    assessment = session.get_one(Assessment, case.id)
    assessment.notes_ciphertext = legacy_box("Alte Bewertung", case.id)
    assessment.notes_format = case_crypto.LEGACY_FORMAT
    session.commit()

    html = officer.get(f"/clearing/fall/{case.id}").get_data(as_text=True)
    assert "Alte Nachricht" in _section(html, "nachrichten")
    assert "Alte Notiz" in _section(html, "notizen")
    assert "Alte Bewertung" in _section(html, "bewertung")
    assert "Alte Nachricht" in _mailbox(app, reported.receipt_code)


def test_each_record_kind_has_its_own_purpose() -> None:
    """The purposes are distinct from each other and from the old shared one."""
    purposes = {
        case_crypto.MESSAGE_PURPOSE,
        case_crypto.INTERNAL_NOTE_PURPOSE,
        case_crypto.ASSESSMENT_NOTE_PURPOSE,
        case_crypto.ATTACHMENT_META_PURPOSE,
        case_crypto.ATTACHMENT_PURPOSE,
        "message",
        "report",
    }
    assert len(purposes) == 7
