"""The inbox: filters on clear metadata, acute cases pinned, sorting, pagination; decrypts only the page shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, case, func, not_, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

import crypto
from clearing.cases.deadlines import Deadline, next_deadline, overdue_limits
from clearing.cases.models import Assessment
from clearing.cases.workflow import OPEN_STATES
from clearing.referrals.models import Referral
from clearing.referrals.states import AWAITING_ANSWER
from clearing.scoping import case_query
from core.clock import start_of_day
from core.models import Account
from core.staff import Staff
from reporting import case_crypto
from reporting.models import Case, CaseCode

PAGE_SIZE = 25
SUMMARY_LENGTH = 160
SORTS = ("newest", "oldest", "urgency", "status")
URGENCY_ORDER = {"acute": 0, "high": 1, "normal": 2, "low": 3}


@dataclass(frozen=True)
class InboxFilter:
    status: str = ""
    urgency: str = ""
    incident_type: str = ""
    motive: str = ""
    received_from: date | None = None
    received_to: date | None = None
    assigned: str = ""  # "" any | "me" | "none" | an account id
    overdue: bool = False
    reference: str = ""  # normalised by normalise_reference: "K-AB12CD34" or a part of one
    flood: bool = False  # only reports marked as arriving in a flood (reporting.flood)
    sort: str = "newest"
    page: int = 1


@dataclass(frozen=True)
class InboxRow:
    case: Case
    incident_types: list[str]
    motives: list[str]
    summary: str
    overdue: bool
    assignee: str
    next_deadline: Deadline | None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    page: int
    pages: int
    filters: InboxFilter = field(default_factory=InboxFilter)


def _overdue_condition(today: date) -> ColumnElement[bool]:
    # The case page's rule (clearing.cases.deadlines), as limits on received_at.
    ack_limit, feedback_limit = overdue_limits(today)
    return and_(
        Case.status.in_(OPEN_STATES),
        or_(and_(Case.acknowledged_at.is_(None), Case.received_at < ack_limit), Case.received_at < feedback_limit),
    )


def normalise_reference(text: str) -> str:
    """What an officer typed, as the references are written: "k ab12 cd34" -> "K-AB12CD34"."""
    typed = text.strip().upper()
    typed = typed[2:] if typed.startswith("K-") else typed
    letters = "".join(ch for ch in typed if ch.isascii() and ch.isalnum())
    if letters.startswith("K") and len(letters) == 9:
        letters = letters[1:]
    return f"K-{letters}" if len(letters) == 8 else letters


def _reference_condition(reference: str) -> ColumnElement[bool]:
    # A whole reference is an exact match (the unique index); a part of one matches anywhere in it.
    if reference.startswith("K-"):
        return Case.reference == reference
    return Case.reference.contains(reference, autoescape=True)


def load_inbox(
    session: Session, actor: Staff, filters: InboxFilter, office_key: bytes | None, *, today: date
) -> InboxPage:
    """One page of cases in scope: a count, a page query and one query for the page's codes.

    `today` is the Berlin day that decides what is overdue; the received-from/to filters are
    Berlin days too, as the pages show the dates.
    """
    query = case_query(actor)
    if filters.status:
        query = query.where(Case.status == filters.status)
    if filters.urgency:
        query = query.where(Case.urgency == filters.urgency)
    for kind, code in (("incident_type", filters.incident_type), ("motive", filters.motive)):
        if code:
            query = query.where(
                Case.id.in_(select(CaseCode.case_id).where(CaseCode.kind == kind, CaseCode.code == code))
            )
    if filters.received_from:
        query = query.where(Case.received_at >= start_of_day(filters.received_from))
    if filters.received_to:
        query = query.where(Case.received_at < start_of_day(filters.received_to + timedelta(days=1)))
    if filters.assigned == "me":
        query = query.where(Case.assigned_to == actor.account.id)
    elif filters.assigned == "none":
        query = query.where(Case.assigned_to.is_(None))
    elif filters.assigned:
        query = query.where(Case.assigned_to == filters.assigned)
    if filters.reference:
        query = query.where(_reference_condition(filters.reference))
    if filters.flood:
        query = query.where(Case.flood_marked.is_(True))
    # The same today as the case page (clearing.cases.service.open_case_file).
    overdue = _overdue_condition(today)
    if filters.overdue:
        query = query.where(overdue)
    # Open acute cases stay on top whatever the sort.
    matches = query.order_by(None).subquery()
    total, pinned_total = session.execute(
        select(
            func.count(), func.count().filter(and_(matches.c.urgency == "acute", matches.c.status.in_(OPEN_STATES)))
        ).select_from(matches)
    ).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    urgency_rank = case(URGENCY_ORDER, value=Case.urgency, else_=9)
    order = {
        "newest": (Case.received_at.desc(), Case.id),
        "oldest": (Case.received_at.asc(), Case.id),
        "urgency": (urgency_rank, Case.received_at.desc(), Case.id),
        "status": (Case.status, Case.received_at.desc(), Case.id),
    }[filters.sort if filters.sort in SORTS else "newest"]
    # The page's ids first, then only those rows: sorting the ids of every match reads the index
    # alone, while sorting whole rows would fetch each match's ciphertext from the table. The
    # filters apply to the ids; the rows need only the scope again. The pinned cases and the rest
    # are two such id lists, each in the index's order (one ORDER BY over a "pinned first"
    # expression would sort every match): the page is the pinned cases from its offset on, then
    # the rest, and the rows statement keeps the first PAGE_SIZE of the two.
    offset = (page - 1) * PAGE_SIZE
    acute_open = and_(Case.urgency == "acute", Case.status.in_(OPEN_STATES))
    ids = query.with_only_columns(Case.id)
    pinned_ids = ids.where(acute_open).order_by(*order).limit(PAGE_SIZE).offset(offset)
    rest_ids = ids.where(not_(acute_open)).order_by(*order).limit(PAGE_SIZE).offset(max(0, offset - pinned_total))
    pinned_first = case((acute_open, 0), else_=1)
    # One IN over both lists: an OR of two IN subqueries makes PostgreSQL scan the whole table.
    pinned, rest = pinned_ids.subquery(), rest_ids.subquery()
    page_ids = union_all(select(pinned.c.id), select(rest.c.id))
    # The page's rows carry what the columns show: the assignee's name, the complaint deadline and
    # the earliest partner answer due, all in this one statement (no query per row).
    partner_due = (
        select(func.min(Referral.due_at))
        .where(Referral.case_id == Case.id, Referral.state == AWAITING_ANSWER)
        .correlate(Case)
        .scalar_subquery()
    )
    rows = session.execute(
        case_query(actor)
        .add_columns(
            overdue.label("is_overdue"),
            Account.display_name,
            Assessment.complaint_deadline,
            partner_due.label("partner_due"),
        )
        .outerjoin(Account, Account.id == Case.assigned_to)
        .outerjoin(Assessment, Assessment.case_id == Case.id)
        .where(Case.id.in_(page_ids))
        .order_by(pinned_first, *order)
        .limit(PAGE_SIZE)
    ).all()
    cases = [row[0] for row in rows]
    codes: dict[str, dict[str, list[str]]] = {c.id: {"incident_type": [], "motive": []} for c in cases}
    if cases:
        for row_code in session.scalars(
            select(CaseCode).where(CaseCode.case_id.in_(list(codes))).order_by(CaseCode.code)
        ):
            codes[row_code.case_id].setdefault(row_code.kind, []).append(row_code.code)
    result = [
        InboxRow(
            c,
            codes[c.id]["incident_type"],
            codes[c.id]["motive"],
            _summary(c, actor.office_key_of(c.office_key_epoch) if office_key is not None else None),
            bool(flag),
            assignee or "",
            next_deadline(c.received_at, c.acknowledged_at, c.status not in OPEN_STATES, complaint, partner, today),
        )
        for c, flag, assignee, complaint, partner in rows
    ]
    return InboxPage(result, total, page, pages, filters)


def _summary(case_row: Case, office_key: bytes | None) -> str:
    """The start of the description, decrypted for this page only."""
    if office_key is None:
        return ""
    try:
        case_key = case_crypto.open_case_key(office_key, case_row.sealed_case_key, case_row.id)
        report = case_crypto.decrypt_report(case_key, case_row.id, case_row.report_ciphertext)
    except crypto.CryptoError:
        return ""
    text = " ".join(str(report.get("description") or "").split())
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"
