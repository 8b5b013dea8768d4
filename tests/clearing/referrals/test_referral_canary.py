"""The canary through referrals: a marker typed into every field of a report, a file's name and content,
the assessment notes and the partners' feedback must afterwards be found nowhere in clear: not in any
column of any table, not in the logs, not in any mail, not in the outbox's job arguments.

Ciphertexts are searched as text too (bytes decoded as latin-1), so a field stored unencrypted in a
binary column is caught as well.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.config import Config
from core.models import Municipality
from tests.conftest import make_test_config
from tests.factories import (
    Alliance,
    build_alliance,
    decrypt_files,
    decrypt_packet,
    notify_address,
    partner_private_key,
    pdf_with,
    referral_key_for_partner,
    referral_to,
)
from tests.leaks import dump_database
from tests.smtp import SmtpServer
from tests.web import (
    flashes,
    logged_in_client,
    mailbox_client,
    offered_files,
    officer_path,
    post,
    refer,
    submit_report_form,
)
from workers.models import OutboxEntry

CANARY = "kanarie-q7z5x"
REPORTER_ADDRESS = f"{CANARY}@example.org"
OFFICE_ADDRESS = "clearingstelle@astadt.example"


@pytest.fixture
def app_config(migrated_database: str, tmp_path: Path, smtp_server: SmtpServer) -> Config:
    return make_test_config(migrated_database, tmp_path / "instance", smtp_url=smtp_server.url)


@pytest.fixture
def quiet_test_smtp_server() -> Iterator[None]:
    """aiosmtpd logs every line it receives (the test's own server, not the product): keep it out of the capture."""
    server_log = logging.getLogger("mail.log")
    level = server_log.level
    server_log.setLevel(logging.WARNING)
    yield
    server_log.setLevel(level)


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def _found_in_database(app: Flask) -> list[str]:
    places = []
    for table, rows in dump_database(app).items():
        for row in rows:
            for column, value in row.items():
                if CANARY in _as_text(value).lower():
                    places.append(f"{table}.{column}")
    return places


def test_the_canary_reaches_the_partner_and_nothing_else(
    app: Flask,
    session: Session,
    config: Config,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    quiet_test_smtp_server: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    alliance: Alliance = build_alliance(session, config, "astadt", "Astadt")
    session.execute(update(Municipality).where(Municipality.id == alliance.town.id).values(notify_email=OFFICE_ADDRESS))
    session.commit()
    town = alliance.town

    file_name = f"{CANARY}-screenshot.pdf"
    reported = submit_report_form(
        app,
        session,
        town,
        files=[(file_name, pdf_with(CANARY))],
        description=f"Beschreibung {CANARY}",
        place=f"Ort {CANARY}",
        platform=f"Plattform {CANARY}",
        urls=f"https://example.org/{CANARY}\nhttps://{CANARY}.example.net/profil",
        perpetrator_description=f"Täter {CANARY}",
        evidence_found=f"Gefunden von {CANARY}",
        police_reference=f"Az. {CANARY}",
        done_police="y",
        contact_email=REPORTER_ADDRESS,
        contact_phone=f"0170 {CANARY}",
        incident_month="2025-03",
    )
    officer = officer_path(app, alliance, reported.case_id, notes=f"Bewertung {CANARY}")
    assert (
        post(
            officer, f"/clearing/fall/{reported.case_id}/nachricht", {"body": "Wir haben Ihre Meldung erhalten."}
        ).status_code
        == 303
    )
    files = offered_files(officer, reported.case_id, "opferberatung")
    assert list(files) == [file_name]
    assert refer(officer, reported.case_id, "opferberatung", files=list(files.values())).status_code == 303
    assert refer(officer, reported.case_id, "antidiskriminierung").status_code == 303

    # The partner reads everything it was given, downloads the file and answers with the canary.
    counselling = referral_to(session, reported.case_id, alliance.partner_ids["opferberatung"])
    key = referral_key_for_partner(
        counselling, partner_private_key(session, config, alliance.partners["opferberatung"])
    )
    packet = json.dumps(decrypt_packet(counselling, key), ensure_ascii=False)
    for shared in (
        f"Beschreibung {CANARY}",
        f"Ort {CANARY}",
        f"Täter {CANARY}",
        REPORTER_ADDRESS,
        f"https://example.org/{CANARY}",
    ):
        assert shared in packet
    assert decrypt_files(session, counselling, key) == [(file_name, pdf_with(CANARY))]

    partner = logged_in_client(app, alliance.partners["opferberatung"])
    path = f"/partner/weiterleitung/{counselling.id}"
    page = partner.get(path).get_data(as_text=True)
    assert f"Beschreibung {CANARY}" in page
    file_path = page.split(f"{path}/datei/", 1)[1].split('"', 1)[0]
    download = partner.get(f"{path}/datei/{file_path}")
    assert download.data == pdf_with(CANARY)
    assert post(partner, path, {"state": "accepted", "text": f"Rückmeldung {CANARY}"}).status_code == 303
    assert (
        post(
            partner, path, {"state": "completed", "outcome": "counselling_started", "text": f"Abschluss {CANARY}"}
        ).status_code
        == 303
    )
    anti = logged_in_client(app, alliance.partners["antidiskriminierung"])
    anti_path = f"/partner/weiterleitung/{referral_to(session, reported.case_id, alliance.partner_ids['antidiskriminierung']).id}"
    assert post(anti, anti_path, {"state": "declined", "text": f"Ablehnung {CANARY}"}).status_code == 303

    # The office reads the feedback; the reporter sees the kind of partner.
    office_page = officer.get(f"/clearing/fall/{reported.case_id}").get_data(as_text=True)
    for feedback in (f"Rückmeldung {CANARY}", f"Abschluss {CANARY}", f"Ablehnung {CANARY}"):
        assert feedback in office_page
    mailbox = mailbox_client(app, reported.receipt_code).get("/postfach/ansicht").get_data(as_text=True)
    assert "Weitergeleitet an: eine Beratungsstelle" in mailbox
    assert "verschlüsselt" in flashes(partner.get(path).get_data(as_text=True))

    # Nowhere in the database.
    assert _found_in_database(app) == []
    session.expire_all()
    for entry in session.scalars(select(OutboxEntry)):
        assert CANARY not in json.dumps(entry.args).lower(), entry.job

    # Nowhere in the logs (the product's log records and whatever reached the process's output).
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records
    assert CANARY not in logged.lower()
    out, err = capfd.readouterr()
    assert CANARY not in (out + err).lower()

    # Mails went to the partners, the office and the reporter: none carries the canary, except the
    # reporter's own address as the recipient of the mail addressed to it.
    mails = smtp_server.mails
    recipients = {address for mail in mails for address in mail.rcpt_tos}
    assert {
        notify_address(town, "opferberatung"),
        notify_address(town, "antidiskriminierung"),
        OFFICE_ADDRESS,
        REPORTER_ADDRESS,
    } <= recipients
    for mail in mails:
        message = mail.message
        if mail.rcpt_tos == (REPORTER_ADDRESS,):
            assert message["To"] == REPORTER_ADDRESS
            del message["To"]
        raw = message.as_bytes().decode("latin-1").lower() + mail.text.lower() + mail.mail_from.lower()
        assert CANARY not in raw, mail.subject
