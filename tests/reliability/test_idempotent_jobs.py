"""Every job is idempotent: running it twice (or again after a crash between the mail and the
commit) sends one mail; the deadline scan twice creates each reminder once. Jobs run inline here
(no Redis): the same run_entry a worker calls, after the commit that queued them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clearing.cases import service
from clearing.cases.models import Reminder
from clearing.partners.models import PartnerOrganisation
from clearing.referrals.labels import REMINDER_LABELS
from clearing.referrals.models import Referral
from core.db import session_scope, utcnow
from reporting.models import Case
from tests.factories import (
    DESCRIPTION,
    Office,
    add_office,
    assess_case,
    officer_staff,
    refer_with_files,
    submit_to_office,
)
from tests.reliability.conftest import delivered, entry_for, outbox
from tests.reliability.smtp_server import SmtpServer, text_of
from tests.web import logged_in_client
from workers.jobs import JobContext, handler_for, run_entry
from workers.models import OutboxEntry


@pytest.fixture
def mail_app(make_app: Callable[..., Flask], smtp: SmtpServer) -> Flask:
    smtp.start()
    return make_app(smtp_url=smtp.url)


@pytest.fixture
def db(mail_app: Flask) -> Iterator[Session]:
    session: Session = mail_app.extensions["komma"].session_factory()
    yield session
    session.rollback()
    session.close()


def run_again(app: Flask, entry_id: str) -> None:
    """Twice more: once as a duplicate delivery (skipped: done), once as after a crash between
    the mail and the commit of completed_at (the handler runs again, mail_once's marker holds)."""
    factory = app.extensions["komma"].session_factory
    with app.app_context():  # as in the worker, whose jobs run in the app context
        assert run_entry(app, entry_id) is False
        with session_scope(factory) as session:
            session.execute(update(OutboxEntry).where(OutboxEntry.id == entry_id).values(completed_at=None))
        assert run_entry(app, entry_id) is True
    # And the handler twice within one run.
    with app.app_context(), session_scope(factory) as session:
        entry = session.get(OutboxEntry, entry_id)
        assert entry is not None
        context = JobContext.of(app, entry_id)
        handler_for(entry.job)(session, context, **entry.args)
        handler_for(entry.job)(session, context, **entry.args)


def check_notification(smtp: SmtpServer, addresses: list[str], *, subject: str, forbidden: list[str]) -> None:
    """One mail per address; it says that something waits and where to log in, never what."""
    for address in addresses:
        (message,) = smtp.to(address)
        text = text_of(message)
        assert message["Subject"] == subject
        assert "http://127.0.0.1:5000/anmelden" in text
        assert "Guten Tag" in text
        for word in forbidden:
            assert word not in text, (address, word)
        assert not re.search(r"\bK-[A-Z0-9]{8}\b", text), "a case reference in a mail"


def case_words(session: Session, office: Office, case_id: str) -> list[str]:
    case = session.get(Case, case_id)
    partner = session.get(PartnerOrganisation, office.partner_id)
    assert case is not None
    assert partner is not None
    return [
        case.id,
        case.reference,
        DESCRIPTION,
        "Parkplatz",
        "Ratssitzung",
        partner.name,
        "Opferberatung",
        "betroffen@",
    ]


def test_each_notification_job_mails_once_however_often_it_runs(mail_app: Flask, db: Session, smtp: SmtpServer) -> None:
    app = mail_app
    config = app.extensions["komma"].config
    office = add_office(db, config, "dstadt", alliance=True)

    # A new report: the office address and the officer, once each.
    case_id = submit_to_office(db, config, office).case_id
    new_report = entry_for(app, "notify_new_report", case_id=case_id)
    assert new_report.completed_at is not None
    run_again(app, new_report.id)
    forbidden = case_words(db, office, case_id)
    check_notification(
        smtp, office.office_addresses, subject="Komm.A Meldestelle: Neue Meldung eingegangen", forbidden=forbidden
    )

    # A referral: the partner's notification address and its user, once each.
    staff = officer_staff(db, office.town, office.officer)
    case = db.get(Case, case_id)
    assert case is not None
    assess_case(db, staff, case)
    db.commit()
    referral = refer_with_files(db, staff, case)
    db.commit()
    assert referral.state == "sent"
    waiting = entry_for(app, "notify_partner_referral", referral_id=referral.id)
    assert waiting.completed_at is not None
    run_again(app, waiting.id)
    partner_addresses = [office.partner_notify_email, office.partner_email]
    check_notification(
        smtp, partner_addresses, subject="Komm.A Meldestelle: Eine Weiterleitung wartet", forbidden=forbidden
    )
    assert smtp.count() == 4
    for address in office.office_addresses:
        assert delivered(app, new_report.id, address)
        assert not delivered(app, waiting.id, address)
    for address in partner_addresses:
        assert delivered(app, waiting.id, address)
        assert not delivered(app, new_report.id, address)


def test_the_deadline_scan_reminds_once_and_each_reminder_mails_once(
    mail_app: Flask, db: Session, smtp: SmtpServer
) -> None:
    app = mail_app
    config = app.extensions["komma"].config
    office = add_office(db, config, "estadt", alliance=True)
    # An unacknowledged report received 8 days ago (7 days are allowed) ...
    late = submit_to_office(db, config, office).case_id
    # ... and a referral the partner has not answered although it was due yesterday.
    referred = submit_to_office(db, config, office).case_id
    staff = officer_staff(db, office.town, office.officer)
    case = db.get(Case, referred)
    assert case is not None
    service.send_message(db, staff, case, "Wir haben Ihre Meldung erhalten.")  # acknowledged in time
    assess_case(db, staff, case)
    db.commit()
    referral = refer_with_files(db, staff, case)
    db.commit()
    db.execute(update(Case).where(Case.id == late).values(received_at=utcnow() - timedelta(days=8)))
    db.execute(update(Referral).where(Referral.id == referral.id).values(due_at=utcnow() - timedelta(days=1)))
    db.commit()
    smtp.messages.clear()

    runner = app.test_cli_runner()
    first = runner.invoke(args=["jobs", "run", "deadlines"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "deadlines: 2"
    second = runner.invoke(args=["jobs", "run", "deadlines"])
    assert second.output.strip() == "deadlines: 0"
    db.expire_all()
    reminders = {r.kind: r for r in db.scalars(select(Reminder))}
    assert set(reminders) == {"acknowledgement", "partner_response"}
    assert reminders["acknowledgement"].case_id == late
    assert reminders["partner_response"].referral_id == referral.id

    # Each reminder mailed the office address and the officer once, and once only.
    entries = outbox(app, "notify_reminder")
    assert len(entries) == 2
    for entry in entries:
        assert entry.completed_at is not None
        run_again(app, entry.id)
    for address in office.office_addresses:
        assert len(smtp.to(address)) == 2, address
    assert smtp.count() == 4
    forbidden = case_words(db, office, late) + case_words(db, office, referred)
    for message in smtp.messages:
        assert message["Subject"] == "Komm.A Meldestelle: Erinnerung"
        text = text_of(message)
        assert "/anmelden" in text
        for word in forbidden:
            assert word not in text, word

    # The officer's inbox lists both reminders.
    page = logged_in_client(app, office.officer).get("/clearing/").get_data(as_text=True)
    for kind in ("acknowledgement", "partner_response"):
        assert str(REMINDER_LABELS[kind]) in page, kind
