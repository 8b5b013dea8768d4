"""Case work of the clearing office: reading, messages, notes, assignment, assessment, transitions.

Takes a session and the acting staff member, raises domain errors, never commits. Every view of
decrypted content, download and change writes an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import crypto
from clearing.audit import service as audit
from clearing.cases import workflow
from clearing.cases.deadlines import Deadline, case_deadlines, complaint_deadline
from clearing.cases.errors import ClearingError, NoOfficeKey
from clearing.cases.models import Assessment, AssessmentCode, CaseNote
from clearing.referrals.models import Referral
from clearing.referrals.states import REFERRAL_OPEN_STATES
from core.db import new_id, utcnow
from core.models import Account, OfficeKeyGrant
from core.staff import Staff
from reporting import case_crypto
from reporting.case_crypto import AttachmentMeta
from reporting.content import ReportContent
from reporting.models import Attachment, Case, CaseEvent, CaseMessage
from workers import add_job


def _audit(
    session: Session, actor: Staff, case: Case, action: str, target_id: str | None = None, detail: str | None = None
) -> None:
    audit.record_by(
        session,
        actor,
        chain=case.municipality_id,
        action=action,
        target_id=target_id or case.id,
        detail=detail,
    )


def case_key(actor: Staff, case: Case) -> bytes:
    office_key = actor.office_key_of(case.office_key_epoch)
    if office_key is None:
        raise NoOfficeKey
    return case_crypto.open_case_key(office_key, case.sealed_case_key, case.id)


# meta / body None: the record does not open where it is stored (copied from another table, row,
# message or case); the page says so instead of showing it.
@dataclass(frozen=True)
class FileInfo:
    id: str
    meta: AttachmentMeta | None
    message_id: str | None


@dataclass(frozen=True)
class Message:
    id: str
    author: str
    at: Any
    body: str | None


@dataclass(frozen=True)
class Note:
    id: str
    author: str
    at: Any
    body: str | None


@dataclass(frozen=True)
class CaseFile:
    case: Case
    report: ReportContent
    files: list[FileInfo]
    messages: list[Message]
    notes: list[Note]
    events: list[CaseEvent]
    assessment: Assessment | None
    assessment_notes: str | None
    deadlines: list[Deadline]
    officers: list[Account]


def open_case_file(session: Session, actor: Staff, case: Case, *, today: date) -> CaseFile:
    """Everything about a case, decrypted; recorded as a view of decrypted content.

    `today` (a Berlin day) decides which deadlines are overdue.
    """
    key = case_key(actor, case)
    report = case_crypto.decrypt_report(key, case.id, case.report_ciphertext)
    attachments = session.scalars(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.created_at)
    ).all()
    files = [
        FileInfo(
            a.id,
            case_crypto.opened_or_none(
                f"attachment {a.id}",
                case_crypto.decrypt_attachment_meta,
                key,
                case_crypto.attachment_place(a),
                a.meta_ciphertext,
            ),
            a.message_id,
        )
        for a in attachments
    ]
    messages = [
        Message(
            m.id,
            m.author,
            m.created_at,
            case_crypto.opened_or_none(
                f"message {m.id}",
                case_crypto.decrypt_message,
                key,
                case.id,
                m.id,
                m.author,
                m.ciphertext,
                m.crypto_format,
            ),
        )
        for m in session.scalars(
            select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.created_at)
        )
    ]
    officers = officers_of(session, case.municipality_id)
    names = {o.id: o.display_name for o in officers}
    notes = [
        Note(
            n.id,
            names.get(n.author_id or "", "–"),
            n.created_at,
            case_crypto.opened_or_none(
                f"note {n.id}", case_crypto.decrypt_note, key, case.id, n.id, n.ciphertext, n.crypto_format
            ),
        )
        for n in session.scalars(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.created_at))
    ]
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at)))
    assessment = session.get(Assessment, case.id)
    assessment_notes: str | None = ""
    if assessment and assessment.notes_ciphertext:
        assessment_notes = case_crypto.opened_or_none(
            f"assessment notes {case.id}",
            case_crypto.decrypt_assessment_notes,
            key,
            case.id,
            assessment.notes_ciphertext,
            assessment.notes_format,
        )
    deadlines = case_deadlines(
        case.received_at,
        case.acknowledged_at,
        case.status in ("closed", "withdrawn"),
        assessment.complaint_deadline if assessment else None,
        today,
    )
    _audit(session, actor, case, "case.viewed")
    return CaseFile(case, report, files, messages, notes, events, assessment, assessment_notes, deadlines, officers)


def download_attachment(session: Session, actor: Staff, case: Case, attachment_id: str) -> tuple[AttachmentMeta, bytes]:
    attachment = session.scalar(select(Attachment).where(Attachment.case_id == case.id, Attachment.id == attachment_id))
    if attachment is None:
        raise LookupError(attachment_id)
    key = case_key(actor, case)
    place = case_crypto.attachment_place(attachment)
    try:
        meta = case_crypto.decrypt_attachment_meta(key, place, attachment.meta_ciphertext)
        content = case_crypto.decrypt_attachment(key, place, attachment.content_ciphertext)
    except crypto.CryptoError:
        # Moved to another case or message, or altered: there is no such file here.
        raise LookupError(attachment_id) from None
    _audit(session, actor, case, "attachment.downloaded", target_id=attachment.id)
    return meta, content


def send_message(session: Session, actor: Staff, case: Case, body: str) -> None:
    """A message to the reporter's mailbox; the first one meets the 7-day acknowledgement."""
    key = case_key(actor, case)
    message_id = new_id()
    session.add(
        CaseMessage(
            id=message_id,
            case_id=case.id,
            author="office",
            created_at=utcnow(),
            ciphertext=case_crypto.encrypt_message(key, case.id, message_id, "office", body),
        )
    )
    session.add(CaseEvent(case_id=case.id, kind="office_message"))
    if case.acknowledged_at is None:
        case.acknowledged_at = utcnow()
    _audit(session, actor, case, "message.sent", target_id=message_id)
    session.flush()
    add_job(session, "notify_reporter", case_id=case.id)


def add_note(session: Session, actor: Staff, case: Case, body: str) -> None:
    key = case_key(actor, case)
    note_id = new_id()
    session.add(
        CaseNote(
            id=note_id,
            case_id=case.id,
            author_id=actor.account.id,
            created_at=utcnow(),
            ciphertext=case_crypto.encrypt_note(key, case.id, note_id, body),
        )
    )
    _audit(session, actor, case, "note.added", target_id=note_id)
    session.flush()


def assign(session: Session, actor: Staff, case: Case, officer_id: str | None) -> None:
    if officer_id:
        officer = session.get(Account, officer_id)
        if (
            officer is None
            or officer.municipality_id != case.municipality_id
            or officer.role != "officer"
            or not officer.active
        ):
            raise ClearingError("unknown officer")
    case.assigned_to = officer_id or None
    _audit(session, actor, case, "case.assigned", detail=officer_id or "none")
    session.flush()


@dataclass(frozen=True)
class AssessmentInput:
    urgency: str
    escalation_level: int
    incident_types: list[str]
    motives: list[str]
    offences: list[str]
    phenomenon_area: str | None
    employer_duty: bool
    case_conference: bool
    known_on: date | None
    notes: str


def save_assessment(session: Session, actor: Staff, case: Case, data: AssessmentInput) -> str | None:
    """Create or replace the assessment; the case's urgency and status follow it. None, or why the status cannot."""
    key = case_key(actor, case)
    assessment = session.get(Assessment, case.id) or Assessment(case_id=case.id)
    assessment.urgency = data.urgency
    assessment.escalation_level = data.escalation_level
    assessment.phenomenon_area = data.phenomenon_area or None
    assessment.employer_duty = data.employer_duty
    assessment.case_conference = data.case_conference
    assessment.known_on = data.known_on
    assessment.complaint_deadline = complaint_deadline(data.known_on, data.offences)
    assessment.notes_ciphertext = case_crypto.encrypt_assessment_notes(key, case.id, data.notes) if data.notes else None
    assessment.notes_format = case_crypto.RECORD_FORMAT
    assessment.assessed_by = actor.account.id
    assessment.assessed_at = utcnow()
    assessment.codes = [
        AssessmentCode(kind=kind, code=code)
        for kind, values in (
            ("incident_type", data.incident_types),
            ("motive", data.motives),
            ("offence", data.offences),
        )
        for code in dict.fromkeys(values)
    ]
    session.add(assessment)
    case.urgency = data.urgency
    _audit(session, actor, case, "assessment.saved")
    session.flush()
    return move_on(session, actor, case, "assessed")


def pending_referrals(session: Session, case: Case) -> int:
    """Open referrals of the case: closing it while one is open needs a reason."""
    query = (
        select(func.count())
        .select_from(Referral)
        .where(Referral.case_id == case.id, Referral.state.in_(REFERRAL_OPEN_STATES))
    )
    return session.scalar(query) or 0


def change_status(session: Session, actor: Staff, case: Case, target: str, reason: str) -> None:
    guards = workflow.Guards(
        has_assessment=session.get(Assessment, case.id) is not None, pending_referrals=pending_referrals(session, case)
    )
    workflow.transition(
        session, case, target, actor_id=actor.account.id, actor_role=actor.role, guards=guards, reason=reason
    )
    if reason:
        add_note(session, actor, case, reason)


def move_on(session: Session, actor: Staff, case: Case, target: str) -> str | None:
    """The status follows the work done (an assessment saved): None, or why it cannot."""
    guards = workflow.Guards(
        has_assessment=session.get(Assessment, case.id) is not None, pending_referrals=pending_referrals(session, case)
    )
    return workflow.advance(session, case, target, actor_id=actor.account.id, actor_role=actor.role, guards=guards)


def officers_without_grant(session: Session, municipality_id: str) -> list[Account]:
    granted = select(OfficeKeyGrant.holder).where(OfficeKeyGrant.municipality_id == municipality_id)
    return list(
        session.scalars(
            select(Account)
            .where(
                Account.municipality_id == municipality_id,
                Account.role == "officer",
                Account.active.is_(True),
                # An invited officer has no key pair to receive the office key until they take up the account.
                Account.invited.is_(False),
                Account.id.not_in(granted),
            )
            .order_by(Account.display_name)
        )
    )


def officers_of(session: Session, municipality_id: str) -> list[Account]:
    query = select(Account).where(
        Account.municipality_id == municipality_id, Account.role == "officer", Account.active.is_(True)
    )
    return list(session.scalars(query.order_by(Account.display_name)))
