"""Helpers for the referral and partner-portal tests: an alliance, reports through the intake form,
an officer's path to a referral over HTTP, reading packets with the partner's key, and an SMTP sink.

Arranged through the product's own functions (save_agreement, add_partner_user) and driven over HTTP
as a browser would, like the end-to-end path a reporter, an officer and a partner take.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

import crypto
from clearing.partners import agreements as agreement_rules
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.partners.models import PartnerOrganisation
from clearing.partners.service import add_partner_user, partner_by_key, partner_key_for, save_agreement
from clearing.referrals.models import Referral, ReferralFile
from core.accounts import check_password
from core.config import Config
from core.custody import office_key_from_recovery
from core.models import Municipality
from reporting.models import Case
from tests.clearing.helpers import PDF_BYTES, Person, Town, add_person, add_town, logged_in_client, staff_csrf
from tests.conftest import csrf_token
from tests.smtp import ReceivedMail, SmtpServer

RECEIPT_RE = re.compile(r'data-testid="receipt-code">([\d ]+)<')
FILE_INPUT_RE = re.compile(r'name="files" value="([0-9a-f]+)"><label for="file-\d+">([^<]+)</label>')
EXAMPLE_KEYS = ("opferberatung", "polizei-staatsschutz", "personalamt", "antidiskriminierung")


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
    partner = partner_by_key(session, town.id, partner_key)
    assert partner is not None
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


# The reporter -------------------------------------------------------------------------------------


def report_form(**overrides: Any) -> dict[str, Any]:
    """An intake form as a browser posts it: counselling and employer consent, no police consent."""
    data: dict[str, Any] = {
        "reporter_role": "affected",
        "affected_role": "admin_staff",
        "channel": "email",
        "incident_types": ["insult_defamation"],
        "motives": ["racism"],
        "description": "Eine rassistische Mail an das Bürgerbüro.",
        "place": "Bürgerbüro am Markt",
        "urls": "https://example.org/beitrag/1",
        "perpetrator": "citizen",
        "perpetrator_description": "Absender mit Fantasienamen",
        "acute_danger": "no",
        "consent_counselling": "y",
        "consent_employer": "y",
        "contact": "email",
        "contact_email": "betroffen@example.org",
    }
    for name, value in overrides.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


@dataclass(frozen=True)
class Reported:
    case_id: str
    receipt_code: str


def submit_report_form(
    app: Flask, session: Session, town: Town, files: list[tuple[str, bytes]] | None = None, **overrides: Any
) -> Reported:
    """A report through the public intake form; returns the new case's id and the receipt code."""
    client = app.test_client()
    path = f"/melden/{town.slug}"
    data = {**report_form(**overrides), "csrf_token": csrf_token(client, path)}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    before = set(session.scalars(select(Case.id).where(Case.municipality_id == town.id)))
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    match = RECEIPT_RE.search(page)
    assert match, "no receipt code shown"
    session.expire_all()
    (case_id,) = set(session.scalars(select(Case.id).where(Case.municipality_id == town.id))) - before
    return Reported(case_id, match.group(1).replace(" ", ""))


def mailbox_client(app: Flask, receipt_code: str) -> FlaskClient:
    client = app.test_client()
    response = client.post("/postfach", data={"csrf_token": csrf_token(client, "/postfach"), "code": receipt_code})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return client


def change_consents(client: FlaskClient, **consents: bool) -> TestResponse:
    token = csrf_token(client, "/postfach/ansicht")
    data = {"csrf_token": token, **{f"consent_{name}": "y" for name, given in consents.items() if given}}
    response = client.post("/postfach/einwilligungen", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response


# The clearing officer -----------------------------------------------------------------------------


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None) -> TestResponse:
    return client.post(path, data={**(data or {}), "csrf_token": staff_csrf(client)})


def assess(
    client: FlaskClient,
    case_id: str,
    *,
    urgency: str = "normal",
    incident_types: list[str] | None = None,
    motives: list[str] | None = None,
    offences: list[str] | None = None,
    employer_duty: bool = True,
    notes: str = "",
) -> None:
    """Begin the review and save the assessment, which marks the case assessed."""
    base = f"/clearing/fall/{case_id}"
    assert post(client, f"{base}/status", {"target": "in_review"}).status_code == 303
    form: dict[str, Any] = {
        "urgency": urgency,
        "escalation_level": "1",
        "incident_types": incident_types or ["insult_defamation"],
        "motives": motives or ["racism"],
        "offences": offences or ["s185"],
        "notes": notes,
    }
    if employer_duty:
        form["employer_duty"] = "y"
    response = post(client, f"{base}/bewertung", form)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]


def refer(client: FlaskClient, case_id: str, partner_key: str, files: list[str] | None = None) -> TestResponse:
    """Confirm a referral as the preview page's form does; returns the redirect."""
    path = f"/clearing/fall/{case_id}/weiterleiten/{partner_key}"
    return client.post(path, data={"csrf_token": staff_csrf(client), "files": files or []})


def offered_files(client: FlaskClient, case_id: str, partner_key: str) -> dict[str, str]:
    """The files the preview offers for this partner: name -> attachment id."""
    page = client.get(f"/clearing/fall/{case_id}/weiterleiten/{partner_key}").get_data(as_text=True)
    return {name: file_id for file_id, name in FILE_INPUT_RE.findall(page)}


def officer_path(app: Flask, alliance: Alliance, case_id: str, **assessment: Any) -> FlaskClient:
    """The officer logs in and assesses the case; returns the logged-in client."""
    client = logged_in_client(app, alliance.officer)
    assess(client, case_id, **assessment)
    return client


def flashes(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


# Reading what was stored ----------------------------------------------------------------------------


def referral_to(session: Session, case_id: str, partner_id: str) -> Referral:
    session.expire_all()
    rows = session.scalars(
        select(Referral)
        .where(Referral.case_id == case_id, Referral.partner_id == partner_id)
        .order_by(Referral.created_at)
    ).all()
    assert rows, "no referral to this partner"
    return rows[-1]


def partner_org(session: Session, town: Town, key: str) -> PartnerOrganisation:
    partner = partner_by_key(session, town.id, key)
    assert partner is not None
    return partner


def partner_private_key(session: Session, config: Config, person: Person) -> bytes:
    """The organisation key as the partner user's login unwraps it."""
    account, account_key = check_password(session, config, person.login, person.password)
    key = partner_key_for(session, account, account_key)
    assert key is not None, f"{person.login} holds no organisation key"
    return key


def office_private_key(session: Session, town: Town) -> bytes:
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    return office_key_from_recovery(session, municipality, town.recovery_key)


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


def pdf_with(text: str) -> bytes:
    return PDF_BYTES.replace(b"%%EOF", f"% {text}\n%%EOF".encode())


# Mail ---------------------------------------------------------------------------------------------------


def mails_to(server: SmtpServer, address: str) -> list[ReceivedMail]:
    return [m for m in server.mails if address in m.rcpt_tos]


def mail_text(mail: ReceivedMail) -> str:
    """Subject and body as a reader sees them (decoded)."""
    return f"{mail.subject}\n{mail.text}"
