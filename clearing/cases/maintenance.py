"""Scheduled work: the deadline scan, the retention purge (crypto-shredding), the audit-chain check.

Each function takes a session and the instant to work at (`now`, UTC; the Berlin day it falls on
is "today"), is safe to run twice (a second run finds nothing new) and never commits; the
scheduled wrappers in clearing.cases.jobs read the app's clock and own the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session

from clearing.audit import anchors
from clearing.audit import service as audit
from clearing.cases.deadlines import acknowledgement_due, add_months, feedback_due
from clearing.cases.models import Assessment, Reminder
from clearing.cases.workflow import OPEN_STATES
from clearing.partners.models import PartnerOrganisation
from clearing.referrals.models import Referral
from clearing.referrals.states import AWAITING_ANSWER
from clearing.statistics.models import StatisticsRollup
from clearing.statistics.service import refresh as refresh_statistics
from core.accounts import forget_old_failures
from core.clock import berlin_date, berlin_month, start_of_day
from core.models import Municipality, OfficeKeyEpoch, OfficeKeyGrant, SecretSession, ThrottleWindow
from core.secret_sessions import purge_expired
from reporting import challenge
from reporting.models import Case
from workers import add_job
from workers.models import OutboxEntry

ACKNOWLEDGEMENT_WARNING = timedelta(days=1)
FEEDBACK_WARNING = timedelta(days=7)
COMPLAINT_WARNING = timedelta(days=14)
PARTNER_WARNING = timedelta(days=1)


def _remind(
    session: Session,
    municipality_id: str,
    kind: str,
    due: date | None,
    case_id: str | None = None,
    referral_id: str | None = None,
) -> bool:
    key = f"{kind}:{case_id or '-'}:{referral_id or '-'}:{due.isoformat() if due else '-'}"
    if session.scalar(select(Reminder.id).where(Reminder.dedupe_key == key)):
        return False
    reminder = Reminder(
        municipality_id=municipality_id, case_id=case_id, referral_id=referral_id, kind=kind, due_on=due, dedupe_key=key
    )
    session.add(reminder)
    session.flush()
    add_job(session, "notify_reminder", reminder_id=reminder.id)
    return True


def scan_deadlines(session: Session, now: datetime) -> int:
    """Reminders for acknowledgements, 3-month feedback, partner responses and complaint deadlines.

    Case deadlines are Berlin days: an acknowledgement is reminded from the start of the Berlin
    day before it is due, feedback a week before, a complaint deadline two weeks before. A
    partner's answer is due at an instant and is reminded a day before that instant.
    """
    created = 0
    today = berlin_date(now)
    open_cases = session.scalars(select(Case).where(Case.status.in_(OPEN_STATES)))
    for case in open_cases:
        ack = acknowledgement_due(case.received_at)
        if case.acknowledged_at is None and ack - ACKNOWLEDGEMENT_WARNING <= today:
            created += _remind(session, case.municipality_id, "acknowledgement", ack, case_id=case.id)
        feedback = feedback_due(case.received_at)
        if feedback - FEEDBACK_WARNING <= today:
            created += _remind(session, case.municipality_id, "feedback", feedback, case_id=case.id)
    complaint_rows = session.execute(
        select(Assessment.case_id, Assessment.complaint_deadline, Case.municipality_id)
        .join(Case, Case.id == Assessment.case_id)
        .where(
            Assessment.complaint_deadline.is_not(None),
            Assessment.complaint_deadline <= today + COMPLAINT_WARNING,
            Case.status.in_(OPEN_STATES),
        )
    )
    for case_id, deadline, municipality_id in complaint_rows:
        created += _remind(session, municipality_id, "complaint", deadline, case_id=case_id)
    partner_rows = session.execute(
        select(Referral.id, Referral.case_id, Referral.due_at, PartnerOrganisation.municipality_id)
        .join(PartnerOrganisation, PartnerOrganisation.id == Referral.partner_id)
        .where(
            Referral.state == AWAITING_ANSWER, Referral.due_at.is_not(None), Referral.due_at <= now + PARTNER_WARNING
        )
    )
    for referral_id, case_id, due_at, municipality_id in partner_rows:
        if due_at is None:  # the query leaves these out; the column itself is nullable
            continue
        created += _remind(
            session, municipality_id, "partner_response", berlin_date(due_at), case_id=case_id, referral_id=referral_id
        )
    return created


@dataclass(frozen=True)
class PurgeResult:
    cases: int
    # Office key epochs destroyed because their last case was purged: (municipality id, epoch).
    destroyed_epochs: tuple[tuple[str, int], ...] = ()


def _fold_into_statistics(session: Session, case: Case) -> None:
    """Keep what the statistics count of a case (consented, assessed) as anonymous rollup counts."""
    assessment = session.get(Assessment, case.id)
    if not case.consent_statistics or assessment is None:
        return
    # The same Berlin month as the live counts (clearing.statistics.service.berlin_month_sql).
    month = berlin_month(case.received_at)
    referrals = session.scalars(
        select(Referral).where(Referral.case_id == case.id, Referral.sent_at.is_not(None))
    ).all()
    kinds = {
        p.kind
        for p in session.scalars(
            select(PartnerOrganisation).where(PartnerOrganisation.id.in_([r.partner_id for r in referrals]))
        )
    }
    outcomes = {r.outcome for r in referrals if r.outcome}
    cells = [
        ("cases", "all"),
        ("affected_role", case.affected_role),
        ("channel", case.channel),
        ("urgency", assessment.urgency),
    ]
    cells += [("incident_type", c) for c in assessment.codes_of("incident_type")]
    cells += [("motive", c) for c in assessment.codes_of("motive")]
    cells += [("partner_kind", k) for k in sorted(kinds)] + [("outcome", o) for o in sorted(outcomes)]
    for dimension, code in cells:
        row = session.get(StatisticsRollup, (case.municipality_id, month, dimension, code))
        if row is None:
            session.add(
                StatisticsRollup(
                    municipality_id=case.municipality_id, month=month, dimension=dimension, code=code, count=1
                )
            )
        else:
            row.count += 1
    session.flush()


def shred_case(session: Session, case: Case) -> None:
    """Delete every ciphertext and sealed key of a case in the caller's transaction."""
    _fold_into_statistics(session, case)
    session.execute(delete(SecretSession).where(SecretSession.subject_id == case.id))
    # Jobs name the case, or one of its referrals or reminders: none may outlive it.
    referral_ids = list(session.scalars(select(Referral.id).where(Referral.case_id == case.id)))
    reminder_ids = list(session.scalars(select(Reminder.id).where(Reminder.case_id == case.id)))
    session.execute(
        delete(OutboxEntry).where(
            or_(
                OutboxEntry.args["case_id"].as_string() == case.id,
                OutboxEntry.args["referral_id"].as_string().in_(referral_ids),
                OutboxEntry.args["reminder_id"].as_string().in_(reminder_ids),
            )
        )
    )
    audit.record(
        session, chain=case.municipality_id, action="case.purged", actor_id=None, actor_role="system", target_id=case.id
    )
    # Everything else hangs off the case row with ON DELETE CASCADE (codes, access, files, messages,
    # events, notes, assessment, referrals with packets and feedback, reminders).
    session.delete(case)
    session.flush()


def purge_retention(session: Session, now: datetime) -> PurgeResult:
    """Closed cases past their municipality's retention period, and cases whose reporter asked for deletion.

    The period is counted in Berlin days: on each Berlin day, the cases closed before the same
    day as many years ago as the municipality keeps them are purged.
    """
    purged = 0
    destroyed: list[tuple[str, int]] = []
    for municipality in session.scalars(select(Municipality)):
        cutoff = start_of_day(add_months(berlin_date(now), -12 * municipality.retention_years))
        query = select(Case).where(
            Case.municipality_id == municipality.id,
            or_(
                Case.deletion_requested_at.is_not(None),
                Case.status.in_(("closed", "withdrawn")) & (Case.status_changed_at < cutoff),
            ),
        )
        cases = session.scalars(query).all()
        for case in cases:
            shred_case(session, case)
            purged += 1
        if cases:
            # The live counts must stop counting what now sits in the rollup.
            refresh_statistics(session, municipality.id)
        destroyed += [(municipality.id, epoch) for epoch in destroy_spent_office_keys(session, municipality.id, now)]
    return PurgeResult(purged, tuple(destroyed))


def destroy_spent_office_keys(session: Session, municipality_id: str, now: datetime) -> list[int]:
    """Destroy every retired office key epoch that no case is sealed to any more; its numbers.

    An epoch's private key is wrapped only in its grants and in its seal to the current epoch:
    deleting those makes every later copy of the database unable to open what was left of it.
    Copies taken before stay able to until they are gone (README, "Backups").
    """
    spent = session.scalars(
        select(OfficeKeyEpoch).where(
            OfficeKeyEpoch.municipality_id == municipality_id,
            OfficeKeyEpoch.retired_at.is_not(None),
            OfficeKeyEpoch.destroyed_at.is_(None),
            ~exists().where(Case.municipality_id == municipality_id, Case.office_key_epoch == OfficeKeyEpoch.epoch),
        )
    ).all()
    for epoch in spent:
        session.execute(
            delete(OfficeKeyGrant).where(
                OfficeKeyGrant.municipality_id == municipality_id, OfficeKeyGrant.epoch == epoch.epoch
            )
        )
        epoch.sealed_to_current = None
        epoch.destroyed_at = now
        audit.record(
            session,
            chain=municipality_id,
            action="office_key.destroyed",
            actor_id=None,
            actor_role="system",
            target_id=municipality_id,
            detail=str(epoch.epoch),
        )
    session.flush()
    return [epoch.epoch for epoch in spent]


def check_audit_chain(session: Session, today: date, anchor_dir: Path | None = None) -> audit.BrokenLink | None:
    """Verify every chain (and against the newest anchor in `anchor_dir`); a break becomes a reminder
    (and a mail) for the coordinators, once a (Berlin) day.

    An installation upgraded from unkeyed chains gets its registry of chains here at the latest.
    """
    audit.open_registry(session)
    if anchor_dir is None:
        _checked, broken = audit.verify(session)
    else:
        _checked, broken = anchors.verify_against_newest(session, anchor_dir)
    if broken is not None:
        municipality_id = broken.chain if session.get(Municipality, broken.chain) else None
        for m_id in [municipality_id] if municipality_id else list(session.scalars(select(Municipality.id))):
            _remind(session, m_id, "audit_broken", today)
    return broken


def anchor_audit_chains(session: Session, now: datetime, anchor_dir: Path) -> Path:
    """Write the anchor of every chain's head to `anchor_dir` and mail its SHA-256 to each office's
    coordinators (hashes and counts only); the anchor's path. Run after check_audit_chain found no break."""
    made, content = audit.make_anchor(session, now)
    path = anchors.write(anchor_dir, made, content)
    digest = audit.anchor_digest(content)
    for municipality_id in session.scalars(select(Municipality.id).order_by(Municipality.id)):
        add_job(
            session,
            "audit_anchor_mail",
            municipality_id=municipality_id,
            digest=digest,
            chains=len(made.heads),
            events=made.events,
        )
    return path


def housekeeping(session: Session, now: datetime) -> int:
    """Expired server-side sessions, old throttle windows, used challenges that expired anyway
    and long-quiet login failures."""
    removed = purge_expired(session) + forget_old_failures(session, now) + challenge.purge_spent(session, now)
    result = session.execute(delete(ThrottleWindow).where(ThrottleWindow.window_start < now - timedelta(days=2)))
    return removed + int(getattr(result, "rowcount", 0) or 0)
