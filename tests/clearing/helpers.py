"""Helpers for the clearing-office tests: municipalities, staff accounts, cases, and logging in over HTTP.

Everything is arranged through the product's own functions (create_municipality, create_account,
grant_office_key, submit_report) and committed, so the app sees it as it would in production.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyotp
from flask import Flask, url_for
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from core.accounts import Account, create_account
from core.config import Config
from core.custody import grant_office_key, office_key_from_recovery
from core.models import Municipality
from core.tenancy import create_municipality
from reporting.models import Attachment, Case
from reporting.service import Evidence, NewReport, submit_report
from reporting.uploads import CleanFile
from tests.conftest import csrf_token

TOTP_INTERVAL = 30
REFERENCE_RE = re.compile(r"\bK-[A-Z0-9]{8}\b")
CSRF_VALUE_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@dataclass(frozen=True)
class Town:
    """A municipality with the recovery key that was printed once at its creation."""

    id: str
    slug: str
    name: str
    recovery_key: str


@dataclass(frozen=True)
class Person:
    """A staff account as its owner knows it: login, password and TOTP secret."""

    id: str
    login: str
    password: str
    totp_secret: str
    role: str
    municipality_id: str | None


@dataclass(frozen=True)
class SubmittedCase:
    id: str
    reference: str
    receipt_code: str
    attachment_ids: list[str] = field(default_factory=list)


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates shared by the apps of one test run (each test builds a fresh app).

    Only a speed-up: a bucket's key includes the template's source checksum.
    """

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = MemoryBytecodeCache()


def share_compiled_templates(app: Flask) -> None:
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE


def config_of(app: Flask) -> Config:
    config: Config = app.extensions["komma"].config
    return config


def new_session(app: Flask) -> Session:
    session: Session = app.extensions["komma"].session_factory()
    return session


def missing_id() -> str:
    """An id shaped like a real one that belongs to nothing."""
    return uuid.uuid4().hex


# Arranging data ---------------------------------------------------------------------------------


def add_town(session: Session, slug: str, name: str) -> Town:
    created = create_municipality(session, slug, name, office_name=f"Clearingstelle {name}")
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
        municipality = session.get(Municipality, town.id)
        assert municipality is not None
        grant_office_key(session, office_key_from_recovery(session, municipality, town.recovery_key), created.account)
    session.commit()
    a = created.account
    return Person(a.id, a.login, created.password, created.totp_secret, a.role, a.municipality_id)


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
    submitted = submit_report(session, config, municipality, new_report(**report))
    session.commit()
    case = submitted.case
    attachments = session.scalars(select(Attachment.id).where(Attachment.case_id == case.id)).all()
    return SubmittedCase(case.id, case.reference, submitted.receipt_code, list(attachments))


def case_row(session: Session, case_id: str) -> Case:
    session.expire_all()
    case = session.get(Case, case_id)
    assert case is not None
    return case


# Logging in ---------------------------------------------------------------------------------------


def totp_code(app: Flask, person: Person) -> str:
    """A code of a step this account has not used yet (the server accepts current and current+1).

    A step can be used once per account; a second login within the same 30 s takes the next step.
    """
    with new_session(app) as db:
        account = db.get(Account, person.id)
        assert account is not None
        last = account.last_totp_step
    totp = pyotp.TOTP(person.totp_secret)
    current = int(time.time()) // TOTP_INTERVAL
    for step in (current, current + 1):
        if step > last:
            return totp.at(step * TOTP_INTERVAL)
    raise AssertionError(f"{person.login}: no unused TOTP step left in the accepted window (third login within 30 s)")


def with_next(path: str, next_path: str | None) -> str:
    return f"{path}?next={next_path}" if next_path else path


def submit_password(client: FlaskClient, login: str, password: str, next_path: str | None = None) -> TestResponse:
    token = csrf_token(client, with_next("/anmelden", next_path))
    return client.post(
        with_next("/anmelden", next_path), data={"login": login, "password": password, "csrf_token": token}
    )


def submit_code(client: FlaskClient, code: str, next_path: str | None = None) -> TestResponse:
    token = csrf_token(client, with_next("/anmelden/code", next_path))
    return client.post(with_next("/anmelden/code", next_path), data={"code": code, "csrf_token": token})


def log_in(
    app: Flask, client: FlaskClient, person: Person, *, password: str | None = None, next_path: str | None = None
) -> TestResponse:
    """Password, then TOTP, over HTTP; returns the redirect after the code step."""
    first = submit_password(client, person.login, password or person.password, next_path)
    assert first.status_code == 303, f"password step refused for {person.login}: {first.status_code}"
    assert first.headers["Location"].startswith("/anmelden/code")
    second = submit_code(client, totp_code(app, person), next_path)
    assert second.status_code == 303, f"code step refused for {person.login}: {second.status_code}"
    return second


def logged_in_client(app: Flask, person: Person) -> FlaskClient:
    client = app.test_client()
    log_in(app, client, person)
    return client


def staff_csrf(client: FlaskClient) -> str:
    """A CSRF token of a logged-in staff member's session (the account page has forms for everyone)."""
    return csrf_token(client, "/konto")


def cookie_session(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """The decoded Flask session cookie of a test client (signed, not encrypted)."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return {}
    data: dict[str, Any] = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    return data


def path_for(app: Flask, endpoint: str, **values: str) -> str:
    with app.test_request_context():
        return url_for(endpoint, **values)


def references_in(page: str) -> list[str]:
    """Case references in page order."""
    return REFERENCE_RE.findall(page)


def normalised(page: str, ids: list[str]) -> str:
    """A page with the ids echoed from its own URL and the (time-stamped) CSRF tokens blanked."""
    for value in ids:
        page = page.replace(value, "<id>")
    return CSRF_VALUE_RE.sub(r"\1<csrf>\2", page)


# Looking at the database as an attacker with a dump would -----------------------------------------


def dump_database(app: Flask) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table in the database (reflected, so tables the models do not know count too)."""
    engine = app.extensions["komma"].engine
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in metadata.sorted_tables
        }


def dump_values(dump: dict[str, list[dict[str, Any]]]) -> list[Any]:
    return [value for rows in dump.values() for row in rows for value in row.values()]


def dump_contains(dump: dict[str, list[dict[str, Any]]], needle: str) -> list[str]:
    """Where a text appears in a dump (as text or as UTF-8 bytes), as "table.column" names."""
    found = []
    for table, rows in dump.items():
        for row in rows:
            for column, value in row.items():
                if (isinstance(value, str) and needle in value) or (
                    isinstance(value, bytes | memoryview) and needle.encode() in bytes(value)
                ):
                    found.append(f"{table}.{column}")
    return found


# Referrals (the alliance of the example agreement) -------------------------------------------------


def office_actor(session: Session, town: Town, person: Person) -> Any:
    """The officer as the service layer sees them, holding the office key (opened with the recovery key)."""
    from core.staff import Staff

    municipality = session.get(Municipality, town.id)
    account = session.get(Account, person.id)
    assert municipality is not None
    assert account is not None
    return Staff(account, office_key_from_recovery(session, municipality, town.recovery_key))


def add_example_alliance(session: Session, town: Town) -> None:
    from clearing.partners import agreements
    from clearing.partners.examples import EXAMPLE_AGREEMENT
    from clearing.partners.service import save_agreement

    save_agreement(session, town.id, agreements.parse_yaml(EXAMPLE_AGREEMENT), actor_id=None, actor_role="cli")
    session.commit()


def refer_case(session: Session, town: Town, officer: Person, case_id: str, partner_key: str = "opferberatung") -> str:
    """Assess the case (if not yet) and refer it as the officer would; returns the referral id."""
    from clearing.cases import service
    from clearing.cases.models import Assessment
    from clearing.referrals import service as referrals

    actor = office_actor(session, town, officer)
    case = session.get(Case, case_id)
    assert case is not None
    if session.get(Assessment, case_id) is None:
        service.save_assessment(
            session,
            actor,
            case,
            service.AssessmentInput("high", 2, ["threat"], ["racism"], ["s241"], None, False, False, None, ""),
        )
    referral = referrals.create_referral(session, actor, case, partner_key, [])
    session.commit()
    return referral.id
