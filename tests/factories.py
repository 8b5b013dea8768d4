"""Every world the tests stand in, built through the product's own functions and committed.

Municipalities with their recovery key, staff accounts, cases as the intake stores them, the
example alliance with partner users, referrals, statistics cases and the reliability tests'
offices; and the keys to read back what was stored (office key, partner key, referral key).
Acting on the site over HTTP lives in tests.web, searching for leaks in tests.leaks.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import crypto
from clearing.cases import service as case_service
from clearing.cases.maintenance import scan_deadlines
from clearing.cases.models import Assessment
from clearing.partners import agreements as agreement_rules
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.partners.models import PartnerOrganisation
from clearing.partners.service import add_partner_user, partner_by_key, partner_key_for, save_agreement
from clearing.referrals import portal
from clearing.referrals import service as referral_service
from clearing.referrals.models import Referral, ReferralFile
from core import secret_sessions
from core.accounts import check_password, create_account
from core.config import Config
from core.custody import grant_office_key, office_key_from_recovery
from core.db import new_id, utcnow
from core.models import Account, Municipality
from core.staff import Staff
from core.tenancy import create_municipality
from reporting import case_crypto
from reporting import service as reporting_service
from reporting.models import Attachment, Case, CaseMessage
from reporting.service import Evidence, MailboxKey, NewReport
from reporting.uploads import CleanFile

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def pdf_with(text: str) -> bytes:
    """A small PDF that differs by `text` (in a comment, not in its metadata)."""
    return PDF_BYTES.replace(b"%%EOF", f"% {text}\n%%EOF".encode())


def config_of(app: Flask) -> Config:
    config: Config = app.extensions["komma"].config
    return config


def new_session(app: Flask) -> Session:
    """A session of the app's own factory (in a rolled-back test, on the test's connection)."""
    session: Session = app.extensions["komma"].session_factory()
    return session


def missing_id() -> str:
    """An id shaped like a real one that belongs to nothing."""
    return uuid.uuid4().hex


# Municipalities and staff -------------------------------------------------------------------------


@dataclass(frozen=True)
class Town:
    """A municipality with the recovery key that was printed once at its creation."""

    id: str
    slug: str
    name: str
    recovery_key: str


@dataclass(frozen=True)
class Person:
    """An account as its owner knows it: login, password and TOTP secret."""

    id: str
    login: str
    password: str
    totp_secret: str
    role: str
    municipality_id: str | None


def add_town(session: Session, slug: str = "musterstadt", name: str = "Musterstadt", *, notify_email: str = "") -> Town:
    """A municipality with its clearing office ("Clearingstelle <name>") and key; committed."""
    created = create_municipality(session, slug, name, office_name=f"Clearingstelle {name}")
    created.municipality.notify_email = notify_email
    session.commit()
    m = created.municipality
    return Town(m.id, m.slug, m.name, created.recovery_key)


def add_person(
    session: Session,
    config: Config,
    town: Town | None,
    login: str,
    role: str = "officer",
    *,
    grant: bool = True,
    totp_confirmed: bool = True,
    display_name: str = "",
) -> Person:
    """An account; officers receive the office key (opened with the recovery key) unless grant=False."""
    created = create_account(
        session,
        config,
        login=login,
        role=role,
        municipality_id=town.id if town else None,
        display_name=display_name or login,
        totp_confirmed=totp_confirmed,
    )
    if grant and role == "officer" and town is not None:
        grant_office_key(session, office_private_key(session, town), created.account)
    session.commit()
    a = created.account
    return Person(a.id, a.login, created.password, created.totp_secret, a.role, a.municipality_id)


def office_private_key(session: Session, town: Town) -> bytes:
    """The office key, as the recovery key holder unwraps it."""
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    return office_key_from_recovery(session, municipality, town.recovery_key)


def officer_staff(session: Session, town: Town, person: Person) -> Staff:
    """The officer as the service layer sees them, holding the office key (opened with the recovery key)."""
    account = session.get(Account, person.id)
    assert account is not None
    return Staff(account, office_private_key(session, town))


# Cases ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmittedCase:
    id: str
    reference: str
    receipt_code: str
    attachment_ids: list[str] = field(default_factory=list)


def new_report(
    *,
    description: str = "Nach der Ratssitzung wurde ich auf dem Parkplatz bedroht.",
    incident_types: list[str] | None = None,
    motives: list[str] | None = None,
    acute: bool = False,
    files: list[tuple[str, bytes]] | None = None,
    **content: Any,
) -> NewReport:
    incident_types = incident_types or ["threat"]
    motives = motives or ["racism"]
    body: dict[str, Any] = {
        "reporter_role": "affected",
        "affected_role": "council_member",
        "channel": "public_space",
        "perpetrator": "citizen",
        "incident_types": incident_types,
        "motives": motives,
        "description": description,
        "contact": "mailbox",
        "acute_danger": acute,
    }
    body.update(content)
    evidence = [Evidence(name, CleanFile(data, "application/pdf", ".pdf", True)) for name, data in files or []]
    return NewReport(
        affected_role="council_member",
        channel="public_space",
        incident_types=incident_types,
        motives=motives,
        perpetrator="citizen",
        acute_danger=acute,
        incident_month="2025-03",
        consents={"counselling": True},
        content=body,
        files=evidence,
    )


def submit_case(session: Session, config: Config, town: Town, **report: Any) -> SubmittedCase:
    """A report submitted as the intake form does it (case key sealed to the office key)."""
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    submitted = reporting_service.submit_report(session, config, municipality, new_report(**report))
    session.commit()
    case = submitted.case
    attachments = session.scalars(select(Attachment.id).where(Attachment.case_id == case.id)).all()
    return SubmittedCase(case.id, case.reference, submitted.receipt_code, list(attachments))


def case_row(session: Session, case_id: str) -> Case:
    session.expire_all()
    case = session.get(Case, case_id)
    assert case is not None
    return case


def count_cases(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Case)) or 0


@dataclass(frozen=True)
class World:
    """Two municipalities with staff of every role and a case each (tests/clearing/conftest.py)."""

    a: Town
    b: Town
    officer_a: Person  # holds A's office key
    waiting_a: Person  # an officer of A still without the office key
    officer_b: Person  # holds B's office key
    coordinator_a: Person
    operator: Person
    case_a: SubmittedCase  # with one attachment
    case_b: SubmittedCase  # with one attachment


def build_world(session: Session, config: Config, a: Town, officer_a: Person) -> World:
    b = add_town(session, "bstadt", "Bstadt")
    return World(
        a=a,
        b=b,
        officer_a=officer_a,
        waiting_a=add_person(session, config, a, "neu-a", grant=False, display_name="Neu Wartend"),
        officer_b=add_person(session, config, b, "fachkraft-b", display_name="Bernd Fachkraft"),
        coordinator_a=add_person(session, config, a, "koordination-a", role="coordinator"),
        operator=add_person(session, config, None, "netzwerk", role="network_operator"),
        case_a=submit_case(session, config, a, description="Fall in Astadt", files=[("beweis.pdf", PDF_BYTES)]),
        case_b=submit_case(session, config, b, description="Fall in Bstadt", files=[("anderer.pdf", PDF_BYTES)]),
    )


# What the office reads of a case ---------------------------------------------------------------------


def office_case_key(session: Session, town: Town, case: Case) -> bytes:
    return case_crypto.open_case_key(office_private_key(session, town), case.sealed_case_key, case.id)


def office_message(session: Session, town: Town, case: Case, body: str) -> None:
    """A message from the office to the reporter, encrypted as the clearing office writes it; committed."""
    message_id = new_id()
    ciphertext = case_crypto.encrypt_message(office_case_key(session, town, case), case.id, message_id, "office", body)
    session.add(
        CaseMessage(id=message_id, case_id=case.id, author="office", created_at=utcnow(), ciphertext=ciphertext)
    )
    session.commit()


@dataclass(frozen=True)
class OfficeView:
    """What the clearing office can decrypt of a case."""

    case: Case
    report: dict[str, Any]
    files: dict[str, tuple[case_crypto.AttachmentMeta, bytes]]  # by file name
    messages: list[tuple[str, str]]  # (author, body)


def office_view(session: Session, town: Town, case_id: str | None = None) -> OfficeView:
    """The case (the only one when no id is given) as the office decrypts it."""
    session.expire_all()
    case = session.get(Case, case_id) if case_id else session.scalars(select(Case)).one()
    assert case is not None
    key = office_case_key(session, town, case)
    found: dict[str, tuple[case_crypto.AttachmentMeta, bytes]] = {}
    for attachment in session.scalars(select(Attachment).where(Attachment.case_id == case.id)):
        place = case_crypto.attachment_place(attachment)
        meta = case_crypto.decrypt_attachment_meta(key, place, attachment.meta_ciphertext)
        found[meta.name] = (meta, case_crypto.decrypt_attachment(key, place, attachment.content_ciphertext))
    messages = [
        (m.author, case_crypto.decrypt_message(key, case.id, m.id, m.author, m.ciphertext, m.crypto_format))
        for m in session.scalars(
            select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.created_at)
        )
    ]
    return OfficeView(case, case_crypto.decrypt_report(key, case.id, case.report_ciphertext), found, messages)


# The example alliance and referrals -------------------------------------------------------------------

EXAMPLE_KEYS = ("opferberatung", "polizei-staatsschutz", "personalamt", "antidiskriminierung")


def add_example_alliance(session: Session, town: Town) -> None:
    """The example agreement as it stands, imported by the CLI (no actor)."""
    save_agreement(session, town.id, agreement_rules.parse_yaml(EXAMPLE_AGREEMENT), actor_id=None, actor_role="cli")
    session.commit()


def install_alliance(session: Session, town: Town, coordinator: Person | None = None) -> dict[str, PartnerOrganisation]:
    """The example alliance without notification addresses; returns its partner organisations by kind."""
    spec = agreement_rules.parse_yaml(EXAMPLE_AGREEMENT)
    rules = tuple(dataclasses.replace(r, notify_email="") for r in spec.partners)
    save_agreement(
        session,
        town.id,
        agreement_rules.AgreementSpec(rules),
        actor_id=coordinator.id if coordinator else None,
        actor_role="coordinator",
    )
    session.commit()
    partners = session.scalars(select(PartnerOrganisation).where(PartnerOrganisation.municipality_id == town.id)).all()
    return {p.kind: p for p in partners}


def notify_address(town: Town, partner_key: str) -> str:
    return f"{partner_key}.{town.slug}@partner.example"


def example_spec(town: Town) -> agreement_rules.AgreementSpec:
    """The example alliance, each partner with a notification address (so mails are sent)."""
    spec = agreement_rules.parse_yaml(EXAMPLE_AGREEMENT)
    rules = tuple(dataclasses.replace(rule, notify_email=notify_address(town, rule.partner)) for rule in spec.partners)
    return agreement_rules.AgreementSpec(rules)


@dataclass(frozen=True)
class Alliance:
    """A municipality with the example alliance: two officers holding the office key, a coordinator,
    and one partner user (the organisation's first key holder) per partner organisation."""

    town: Town
    officer: Person
    officer2: Person
    coordinator: Person
    partners: dict[str, Person] = field(default_factory=dict)
    partner_ids: dict[str, str] = field(default_factory=dict)


def add_partner(session: Session, config: Config, town: Town, partner_key: str, login: str) -> Person:
    """A user of the partner organisation, holding its key."""
    partner = partner_org(session, town, partner_key)
    created = add_partner_user(
        session, config, partner, login=login, display_name=f"Partner {login}", totp_confirmed=True
    )
    session.commit()
    a = created.account
    return Person(a.id, a.login, created.password, created.totp_secret, a.role, a.municipality_id)


def build_alliance(
    session: Session, config: Config, slug: str, name: str, *, town: Town | None = None, officer: Person | None = None
) -> Alliance:
    town = town or add_town(session, slug, name)
    officer = officer or add_person(session, config, town, f"fachkraft-{slug}", display_name=f"Erste Fachkraft {name}")
    officer2 = add_person(session, config, town, f"zweite-{slug}", display_name=f"Zweite Fachkraft {name}")
    coordinator = add_person(session, config, town, f"koordination-{slug}", role="coordinator")
    save_agreement(session, town.id, example_spec(town), actor_id=coordinator.id, actor_role="coordinator")
    session.commit()
    people = {key: add_partner(session, config, town, key, f"{key}-{slug}") for key in EXAMPLE_KEYS}
    ids = {key: partner_org(session, town, key).id for key in EXAMPLE_KEYS}
    return Alliance(town, officer, officer2, coordinator, people, ids)


def partner_org(session: Session, town: Town, key: str) -> PartnerOrganisation:
    partner = partner_by_key(session, town.id, key)
    assert partner is not None
    return partner


def refer_case(session: Session, town: Town, officer: Person, case_id: str, partner_key: str = "opferberatung") -> str:
    """Assess the case (if not yet) and refer it as the officer would; returns the referral id."""
    actor = officer_staff(session, town, officer)
    case = session.get(Case, case_id)
    assert case is not None
    if session.get(Assessment, case_id) is None:
        case_service.save_assessment(
            session,
            actor,
            case,
            case_service.AssessmentInput("high", 2, ["threat"], ["racism"], ["s241"], None, False, False, None, ""),
        )
    referral = referral_service.create_referral(session, actor, case, partner_key, [])
    session.commit()
    return referral.id


def referral_to(session: Session, case_id: str, partner_id: str) -> Referral:
    """The latest referral of the case to this partner."""
    session.expire_all()
    rows = session.scalars(
        select(Referral)
        .where(Referral.case_id == case_id, Referral.partner_id == partner_id)
        .order_by(Referral.created_at)
    ).all()
    assert rows, "no referral to this partner"
    return rows[-1]


def partner_private_key(session: Session, config: Config, person: Person) -> bytes:
    """The organisation key as the partner user's login unwraps it."""
    account, account_key = check_password(session, config, person.login, person.password)
    key = partner_key_for(session, account, account_key)
    assert key is not None, f"{person.login} holds no organisation key"
    return key


def referral_key_for_partner(referral: Referral, partner_key: bytes) -> bytes:
    assert referral.sealed_key_partner is not None
    return crypto.open_sealed(partner_key, referral.sealed_key_partner, purpose="referral-key", record_id=referral.id)


def decrypt_packet(referral: Referral, referral_key: bytes) -> dict[str, Any]:
    assert referral.packet_ciphertext is not None
    packet: dict[str, Any] = json.loads(
        crypto.box_decrypt(referral_key, referral.packet_ciphertext, purpose="referral-packet", record_id=referral.id)
    )
    return packet


def decrypt_files(session: Session, referral: Referral, referral_key: bytes) -> list[tuple[str, bytes]]:
    files = []
    for record in session.scalars(select(ReferralFile).where(ReferralFile.referral_id == referral.id)):
        meta = json.loads(
            crypto.box_decrypt(referral_key, record.meta_ciphertext, purpose="referral-file-meta", record_id=record.id)
        )
        content = crypto.decrypt_bytes_stream(
            referral_key, record.content_ciphertext, purpose="referral-file", record_id=record.id
        )
        files.append((meta["name"], content))
    return sorted(files)


# Statistics cases ---------------------------------------------------------------------------------------
#
# A case is submitted as the intake form stores it, assessed by an officer holding the office key and
# referred to partners of the example alliance. Only the clear metadata that the statistics read is
# then set by hand: the day the report came in, the status, and the state of a referral.

# What the reporter said; the statistics must count the officer's confirmed codes instead.
REPORTER_INCIDENT_TYPES = ["mass_mailing"]
REPORTER_MOTIVES = ["unknown"]


@dataclass(frozen=True)
class Sent:
    """A referral to the partner of the example alliance with this kind (None: never sent)."""

    kind: str
    sent: bool = True
    outcome: str | None = None


@dataclass(frozen=True)
class Spec:
    """A statistics case as the numbers see it."""

    received_at: datetime
    statistics: bool = True
    assessed: bool = True
    incident_types: list[str] = field(default_factory=lambda: ["threat"])
    motives: list[str] = field(default_factory=lambda: ["racism"])
    affected_role: str = "council_member"
    channel: str = "public_space"
    urgency: str = "normal"
    referrals: list[Sent] = field(default_factory=list)
    reporter_incident_types: list[str] = field(default_factory=lambda: list(REPORTER_INCIDENT_TYPES))
    acute: bool = False


def utc(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _statistics_report(spec: Spec) -> NewReport:
    content = {
        "reporter_role": "affected",
        "affected_role": spec.affected_role,
        "channel": spec.channel,
        "perpetrator": "citizen",
        "incident_types": spec.reporter_incident_types,
        "motives": REPORTER_MOTIVES,
        "description": "Eine Meldung für die Statistik.",
        "contact": "mailbox",
        "acute_danger": spec.acute,
    }
    return NewReport(
        affected_role=spec.affected_role,
        channel=spec.channel,
        incident_types=spec.reporter_incident_types,
        motives=REPORTER_MOTIVES,
        perpetrator="citizen",
        acute_danger=spec.acute,
        incident_month=spec.received_at.strftime("%Y-%m"),
        consents={"counselling": True, "police": True, "statistics": spec.statistics},
        content=content,
    )


def add_case(
    session: Session,
    config: Config,
    town: Town,
    staff: Staff | None,
    spec: Spec,
    partners: dict[str, PartnerOrganisation] | None = None,
) -> str:
    """One statistics case as described; committed. Returns its id."""
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    case = reporting_service.submit_report(session, config, municipality, _statistics_report(spec)).case
    case.received_at = spec.received_at
    case.status_changed_at = spec.received_at
    session.flush()
    if spec.assessed:
        assert staff is not None
        data = case_service.AssessmentInput(
            urgency=spec.urgency,
            escalation_level=1,
            incident_types=spec.incident_types,
            motives=spec.motives,
            offences=["s185"],
            phenomenon_area=None,
            employer_duty=False,
            case_conference=False,
            known_on=None,
            notes="Begründung der Fachkraft",
        )
        case_service.save_assessment(session, staff, case, data)
        case.status = "assessed"
    for number, referral in enumerate(spec.referrals):
        assert partners is not None
        partner = partners[referral.kind]
        session.add(
            Referral(
                case_id=case.id,
                partner_id=partner.id,
                agreement_version=1,
                rule=partner.key,
                state=_referral_state(referral),
                sent_at=spec.received_at.replace(hour=13, minute=number) if referral.sent else None,
                outcome=referral.outcome,
            )
        )
    session.commit()
    return case.id


def _referral_state(referral: Sent) -> str:
    if not referral.sent:
        return "awaiting_approval"
    return "completed" if referral.outcome else "sent"


def close_long_ago(session: Session, case_id: str, when: datetime) -> None:
    case = session.get(Case, case_id)
    assert case is not None
    case.status, case.status_changed_at = "closed", when
    session.commit()


# Offices of the reliability tests ------------------------------------------------------------------------
#
# An office: a municipality with a notification address, an officer holding the office key (with a
# mail address), a coordinator, and optionally the example alliance with one partner user of the
# counselling centre.

COUNSELLING = "opferberatung"
# Words a notification must never carry: they would tell a mail server what happened.
DESCRIPTION = "Nach der Ratssitzung wurde Frau Beispiel auf dem Parkplatz bedroht."


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
        office = _add_office_alliance(session, config, office)
    return office


def _set_email(session: Session, account_id: str, address: str) -> None:
    account = session.get(Account, account_id)
    assert account is not None
    account.email = address


def _add_office_alliance(session: Session, config: Config, office: Office) -> Office:
    town = office.town
    spec = agreement_rules.parse_yaml(EXAMPLE_AGREEMENT)
    rules = tuple(dataclasses.replace(r, notify_email=f"{r.partner}@{town.slug}.example") for r in spec.partners)
    save_agreement(
        session, town.id, agreement_rules.AgreementSpec(rules), actor_id=office.coordinator.id, actor_role="coordinator"
    )
    session.commit()
    partner = partner_org(session, town, COUNSELLING)
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


def partner_staff(session: Session, config: Config, office: Office) -> Staff:
    """The office's counselling-centre user as the service layer sees them, holding the organisation key."""
    assert office.partner_user is not None
    account, account_key = check_password(session, config, office.partner_user.login, office.partner_user.password)
    return Staff(account, partner_key_for(session, account, account_key))


def office_report(
    *, files: int = 0, statistics: bool = True, contact_email: str = "", description: str = DESCRIPTION
) -> NewReport:
    """A report of this month with `files` PDFs; by mail contact when an address is given."""
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
        Evidence(f"beweis-{n}.pdf", CleanFile(pdf_with(f"Beweis {n}"), "application/pdf", ".pdf", True))
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


def submit_to_office(session: Session, config: Config, office: Office, **report: Any) -> Reported:
    """A report (office_report) as the intake form stores it, committed (which dispatches its notification)."""
    municipality = session.get(Municipality, office.town.id)
    assert municipality is not None
    submitted = reporting_service.submit_report(session, config, municipality, office_report(**report))
    session.commit()
    return Reported(submitted.case.id, submitted.receipt_code)


def assess_case(session: Session, staff: Staff, case: Case) -> None:
    """Begin the review and save a full assessment through the service; flushed, not committed."""
    case_service.change_status(session, staff, case, "in_review", "")
    case_service.save_assessment(
        session,
        staff,
        case,
        case_service.AssessmentInput(
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


def refer_with_files(session: Session, staff: Staff, case: Case) -> Referral:
    """Refer the case with all its files to the counselling centre; not committed."""
    files = list(session.scalars(select(Attachment.id).where(Attachment.case_id == case.id)))
    return referral_service.create_referral(session, staff, case, COUNSELLING, files)


@dataclass(frozen=True)
class FullCase:
    case_id: str
    receipt_code: str
    referral_id: str


def mailbox_key(session: Session, config: Config, receipt_code: str) -> MailboxKey:
    return reporting_service.open_mailbox(session, config, receipt_code)


def full_case(session: Session, config: Config, office: Office) -> FullCase:
    """Report with files, messages both ways, notes, assessment, a referral with files and partner
    feedback, reminders, a mailbox session, then closed. Every step through the product's services."""
    reported = submit_to_office(session, config, office, files=2, contact_email="betroffen@privat.example")
    key = mailbox_key(session, config, reported.receipt_code)
    reporting_service.add_reporter_message(
        session,
        key,
        "Nachtrag: es ging weiter.",
        [Evidence("nachtrag.pdf", CleanFile(pdf_with("Nachtrag"), "application/pdf", ".pdf", True))],
    )
    secret_sessions.create(
        session, purpose="mailbox", subject_id=key.case_id, secret=key.case_key, idle=timedelta(minutes=15)
    )
    session.commit()
    staff = officer_staff(session, office.town, office.officer)
    case = session.get(Case, reported.case_id)
    assert case is not None
    case_service.send_message(session, staff, case, "Wir haben Ihre Meldung erhalten.")
    case_service.add_note(session, staff, case, "Interne Notiz: Rückruf vereinbart.")
    assess_case(session, staff, case)
    session.commit()
    referral = refer_with_files(session, staff, case)
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
    case_service.change_status(session, staff, case, "closed", "Abgeschlossen nach Beratung.")
    session.commit()
    return FullCase(case.id, reported.receipt_code, referral.id)


def receipt_derivations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every Argon2id derivation of a receipt code (the real one still runs)."""
    calls: list[str] = []
    real: Callable[..., crypto.ReceiptKeys] = crypto.derive_receipt_keys

    def spy(code: str, **kwargs: Any) -> crypto.ReceiptKeys:
        calls.append(code)
        return real(code, **kwargs)

    monkeypatch.setattr(crypto, "derive_receipt_keys", spy)
    return calls
