"""Arranging a clearing office for the reliability tests, through the product's own functions.

An office: a municipality with a notification address, an officer holding the office key (with a
mail address), a coordinator, and optionally the example alliance with one partner user of the
counselling centre. Reports come through the public form (HTTP) or through reporting.service.
"""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.cases import service
from clearing.cases.maintenance import scan_deadlines
from clearing.partners import agreements as agreement_rules
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.partners.models import PartnerOrganisation
from clearing.partners.service import add_partner_user, partner_by_key, partner_key_for, save_agreement
from clearing.referrals import portal
from clearing.referrals import service as referrals
from clearing.referrals.models import Referral
from core import secret_sessions
from core.accounts import Account, check_password
from core.config import Config
from core.custody import office_key_from_recovery
from core.db import utcnow
from core.models import Municipality
from core.staff import Staff
from reporting import service as reporting_service
from reporting.models import Attachment, Case
from reporting.service import Evidence, MailboxKey, NewReport
from reporting.uploads import CleanFile
from tests.clearing.helpers import PDF_BYTES, Person, Town, add_person, add_town
from tests.conftest import csrf_token

RECEIPT_RE = re.compile(r'data-testid="receipt-code">([\d ]+)<')
PARTNER = "opferberatung"
# Words a notification must never carry: they would tell a mail server what happened.
DESCRIPTION = "Nach der Ratssitzung wurde Frau Beispiel auf dem Parkplatz bedroht."


def pdf(text: str) -> bytes:
    return PDF_BYTES.replace(b"%%EOF", f"% {text}\n%%EOF".encode())


@dataclass(frozen=True)
class Office:
    town: Town
    officer: Person
    coordinator: Person
    notify_email: str
    officer_email: str
    partner_user: Person | None = None
    partner_id: str | None = None
    partner_email: str = ""
    partner_notify_email: str = ""

    @property
    def office_addresses(self) -> list[str]:
        return [self.notify_email, self.officer_email]


def add_office(session: Session, config: Config, slug: str, *, alliance: bool = False) -> Office:
    """A municipality whose new-report mails go to its notification address and its officer."""
    town = add_town(session, slug, slug.capitalize())
    notify_email = f"eingang@{slug}.example"
    officer_email = f"fachkraft@{slug}.example"
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    municipality.notify_email = notify_email
    officer = add_person(session, config, town, f"fachkraft-{slug}", display_name=f"Fachkraft {slug}")
    coordinator = add_person(session, config, town, f"koordination-{slug}", role="coordinator")
    _set_email(session, officer.id, officer_email)
    _set_email(session, coordinator.id, f"koordination@{slug}.example")
    session.commit()
    office = Office(town, officer, coordinator, notify_email, officer_email)
    if alliance:
        office = _add_alliance(session, config, office)
    return office


def _set_email(session: Session, account_id: str, address: str) -> None:
    account = session.get(Account, account_id)
    assert account is not None
    account.email = address


def _add_alliance(session: Session, config: Config, office: Office) -> Office:
    town = office.town
    spec = agreement_rules.parse_yaml(EXAMPLE_AGREEMENT)
    rules = tuple(dataclasses.replace(r, notify_email=f"{r.partner}@{town.slug}.example") for r in spec.partners)
    save_agreement(
        session, town.id, agreement_rules.AgreementSpec(rules), actor_id=office.coordinator.id, actor_role="coordinator"
    )
    session.commit()
    partner = partner_by_key(session, town.id, PARTNER)
    assert partner is not None
    created = add_partner_user(
        session, config, partner, login=f"beratung-{town.slug}", display_name="Beraterin", totp_confirmed=True
    )
    partner_email = f"beraterin@{town.slug}.example"
    created.account.email = partner_email
    session.commit()
    a = created.account
    user = Person(a.id, a.login, created.password, created.totp_secret, a.role, a.municipality_id)
    return dataclasses.replace(
        office,
        partner_user=user,
        partner_id=partner.id,
        partner_email=partner_email,
        partner_notify_email=partner.notify_email,
    )


# Staff as the product's functions take them -------------------------------------------------------------


def officer_staff(session: Session, office: Office) -> Staff:
    municipality = session.get(Municipality, office.town.id)
    account = session.get(Account, office.officer.id)
    assert municipality is not None
    assert account is not None
    return Staff(account, office_key_from_recovery(session, municipality, office.town.recovery_key))


def partner_staff(session: Session, config: Config, office: Office) -> Staff:
    assert office.partner_user is not None
    account, account_key = check_password(session, config, office.partner_user.login, office.partner_user.password)
    return Staff(account, partner_key_for(session, account, account_key))


# Reports ------------------------------------------------------------------------------------------------


def new_report(
    *, files: int = 0, statistics: bool = True, contact_email: str = "", description: str = DESCRIPTION
) -> NewReport:
    content: dict[str, Any] = {
        "reporter_role": "affected",
        "affected_role": "council_member",
        "channel": "public_space",
        "perpetrator": "citizen",
        "incident_types": ["threat"],
        "motives": ["racism"],
        "description": description,
        "place": "Parkplatz am Rathaus",
        "contact": "email" if contact_email else "mailbox",
        "contact_email": contact_email,
        "acute_danger": False,
    }
    evidence = [
        Evidence(f"beweis-{n}.pdf", CleanFile(pdf(f"Beweis {n}"), "application/pdf", ".pdf", True))
        for n in range(files)
    ]
    return NewReport(
        affected_role="council_member",
        channel="public_space",
        incident_types=["threat"],
        motives=["racism"],
        perpetrator="citizen",
        acute_danger=False,
        incident_month=date.today().strftime("%Y-%m"),
        consents={"counselling": True, "employer": True, "statistics": statistics},
        content=content,
        files=evidence,
    )


@dataclass(frozen=True)
class Reported:
    case_id: str
    receipt_code: str


def submit(session: Session, config: Config, office: Office, **report: Any) -> Reported:
    """A report as the intake form stores it, committed (which dispatches its notification)."""
    municipality = session.get(Municipality, office.town.id)
    assert municipality is not None
    submitted = reporting_service.submit_report(session, config, municipality, new_report(**report))
    session.commit()
    return Reported(submitted.case.id, submitted.receipt_code)


def report_form(**overrides: Any) -> dict[str, Any]:
    """The intake form as a browser posts it."""
    data: dict[str, Any] = {
        "reporter_role": "affected",
        "affected_role": "admin_staff",
        "channel": "email",
        "incident_types": ["insult_defamation"],
        "motives": ["racism"],
        "description": DESCRIPTION,
        "perpetrator": "citizen",
        "acute_danger": "no",
        "consent_counselling": "y",
        "contact": "mailbox",
    }
    data.update(overrides)
    return data


def post_report(app: Flask, slug: str, files: list[tuple[str, bytes]] | None = None) -> str:
    """Submit the form over HTTP; asserts the 303 and the receipt page; returns the receipt code."""
    client = app.test_client()
    path = f"/melden/{slug}"
    data = {**report_form(), "csrf_token": csrf_token(client, path)}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    match = RECEIPT_RE.search(page.get_data(as_text=True))
    assert match, "no receipt code on the receipt page"
    return match.group(1).replace(" ", "")


# A case with everything -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FullCase:
    case_id: str
    receipt_code: str
    referral_id: str


def mailbox_key(session: Session, config: Config, receipt_code: str) -> MailboxKey:
    return reporting_service.open_mailbox(session, config, receipt_code)


def assess(session: Session, staff: Staff, case: Case) -> None:
    service.change_status(session, staff, case, "in_review", "")
    service.save_assessment(
        session,
        staff,
        case,
        service.AssessmentInput(
            urgency="high",
            escalation_level=2,
            incident_types=["threat", "insult_defamation"],
            motives=["racism", "misogyny"],
            offences=["s185", "s241"],
            phenomenon_area=None,
            employer_duty=True,
            case_conference=False,
            known_on=date.today() - timedelta(days=3),
            notes="Begründung der Fachkraft: Drohung nach der Ratssitzung.",
        ),
    )
    session.flush()


def refer(session: Session, staff: Staff, case: Case) -> Referral:
    files = list(session.scalars(select(Attachment.id).where(Attachment.case_id == case.id)))
    return referrals.create_referral(session, staff, case, PARTNER, files)


def full_case(session: Session, config: Config, office: Office) -> FullCase:
    """Report with files, messages both ways, notes, assessment, a referral with files and partner
    feedback, reminders, a mailbox session, then closed. Every step through the product's services."""
    reported = submit(session, config, office, files=2, contact_email="betroffen@privat.example")
    key = mailbox_key(session, config, reported.receipt_code)
    reporting_service.add_reporter_message(
        session,
        key,
        "Nachtrag: es ging weiter.",
        [Evidence("nachtrag.pdf", CleanFile(pdf("Nachtrag"), "application/pdf", ".pdf", True))],
    )
    secret_sessions.create(
        session, purpose="mailbox", subject_id=key.case_id, secret=key.case_key, idle=timedelta(minutes=15)
    )
    session.commit()
    staff = officer_staff(session, office)
    case = session.get(Case, reported.case_id)
    assert case is not None
    service.send_message(session, staff, case, "Wir haben Ihre Meldung erhalten.")
    service.add_note(session, staff, case, "Interne Notiz: Rückruf vereinbart.")
    assess(session, staff, case)
    session.commit()
    referral = refer(session, staff, case)
    session.commit()
    partner = session.get(PartnerOrganisation, referral.partner_id)
    assert partner is not None
    pstaff = partner_staff(session, config, office)
    portal.open_packet(session, pstaff, referral, partner)
    portal.update(
        session, pstaff, referral, partner, state="accepted", outcome=None, text="Wir übernehmen die Beratung."
    )
    portal.update(
        session,
        pstaff,
        referral,
        partner,
        state="completed",
        outcome="counselling_started",
        text="Beratung hat begonnen.",
    )
    session.commit()
    # While it was open, its 3-month feedback and complaint deadlines came near: reminders.
    scan_deadlines(session, utcnow() + timedelta(days=100))
    service.change_status(session, staff, case, "closed", "Abgeschlossen nach Beratung.")
    session.commit()
    return FullCase(case.id, reported.receipt_code, referral.id)
