"""Arranging cases for the statistics tests through the product's own functions.

A case is submitted as the intake form stores it (reporting.service.submit_report), assessed by an
officer holding the office key (clearing.cases.service.save_assessment), and referred to partners of the
example alliance. Only the clear metadata that the statistics read is then set by hand: the day the
report came in, the status, and the state of a referral (sent, completed with an outcome).
"""

from __future__ import annotations

import dataclasses
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.cases.service import AssessmentInput, save_assessment
from clearing.partners import agreements as agreement_rules
from clearing.partners.examples import EXAMPLE_AGREEMENT
from clearing.partners.models import PartnerOrganisation
from clearing.partners.service import save_agreement
from clearing.referrals.models import Referral
from core.accounts import Account
from core.config import Config
from core.custody import office_key_from_recovery
from core.models import Municipality
from core.staff import Staff
from reporting.models import Case
from reporting.service import NewReport, submit_report
from tests.clearing.helpers import Person, Town

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


def install_alliance(session: Session, town: Town, coordinator: Person | None = None) -> dict[str, PartnerOrganisation]:
    """The example alliance; returns its partner organisations by kind."""
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


def officer_staff(session: Session, town: Town, officer: Person) -> Staff:
    municipality = session.get(Municipality, town.id)
    account = session.get(Account, officer.id)
    assert municipality is not None
    assert account is not None
    return Staff(account, office_key_from_recovery(session, municipality, town.recovery_key))


def _report(spec: Spec) -> NewReport:
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
    """One case as described; committed. Returns its id."""
    municipality = session.get(Municipality, town.id)
    assert municipality is not None
    case = submit_report(session, config, municipality, _report(spec)).case
    case.received_at = spec.received_at
    case.status_changed_at = spec.received_at
    session.flush()
    if spec.assessed:
        assert staff is not None
        data = AssessmentInput(
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
        save_assessment(session, staff, case, data)
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
                state=_state(referral),
                sent_at=spec.received_at.replace(hour=13, minute=number) if referral.sent else None,
                outcome=referral.outcome,
            )
        )
    session.commit()
    return case.id


def _state(referral: Sent) -> str:
    if not referral.sent:
        return "awaiting_approval"
    return "completed" if referral.outcome else "sent"


def close_long_ago(session: Session, case_id: str, when: datetime) -> None:
    case = session.get(Case, case_id)
    assert case is not None
    case.status, case.status_changed_at = "closed", when
    session.commit()


def year_range(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


# Reading the pages --------------------------------------------------------------------------------


class _Tables(HTMLParser):
    """The statistics tables of a page: section id -> rows of (header, [cell texts])."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[str, list[str]]]] = {}
        self.headers: dict[str, list[str]] = {}
        self._section: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and values.get("aria-labelledby"):
            self._section = str(values["aria-labelledby"])
            self.tables[self._section] = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._section:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._section:
            if self._in_head:
                self.headers[self._section] = self._row[1:]
            else:
                self.tables[self._section].append((self._row[0], self._row[1:]))
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_tables(page: str) -> tuple[dict[str, list[tuple[str, list[str]]]], dict[str, list[str]]]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables, parser.headers


def cell_texts(page: str) -> list[str]:
    """Every td of the page, unescaped."""
    return [html.unescape(" ".join(c.split())) for c in re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)]
