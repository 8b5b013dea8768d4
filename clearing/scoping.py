"""The one place where case queries are scoped: by municipality, and by partner organisation.

Every view of the clearing office reaches cases only through these functions. A case outside the
actor's scope and a case that does not exist give the same 404.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from clearing.cases.models import Reminder
from clearing.referrals.models import Referral
from clearing.referrals.states import PARTNER_VISIBLE_STATES
from core.staff import Staff
from reporting.models import Case

CASE_READERS = ("officer",)


def case_query(actor: Staff) -> Select[Case]:
    """All cases this actor may see; nothing for roles that never read cases."""
    query = select(Case)
    if actor.role in CASE_READERS and actor.account.municipality_id:
        return query.where(Case.municipality_id == actor.account.municipality_id)
    return query.where(false())


def get_case(session: Session, actor: Staff, case_id: str) -> Case:
    """The case, or 404 whether it is missing or not the actor's: a refusal teaches nothing."""
    if len(case_id) > 32:
        abort(404)
    case = session.scalar(case_query(actor).where(Case.id == case_id))
    if case is None:
        abort(404)
    return case


def referral_query(actor: Staff) -> Select[Referral]:
    """Referrals sent to the actor's partner organisation (PARTNER_VISIBLE_STATES); nothing for anyone else."""
    query = select(Referral)
    if actor.role == "partner" and actor.account.partner_id:
        return query.where(Referral.partner_id == actor.account.partner_id, Referral.state.in_(PARTNER_VISIBLE_STATES))
    return query.where(false())


def get_referral(session: Session, actor: Staff, referral_id: str) -> Referral:
    """The referral, or 404 whether it is missing or not addressed to the actor's organisation."""
    if len(referral_id) > 32:
        abort(404)
    referral = session.scalar(referral_query(actor).where(Referral.id == referral_id))
    if referral is None:
        abort(404)
    return referral


def reminder_query(actor: Staff) -> Select[Reminder]:
    """Open reminders of the actor's municipality: deadlines for officers, audit alerts for coordinators."""
    query = select(Reminder).where(Reminder.dismissed_at.is_(None))
    if actor.role == "officer" and actor.account.municipality_id:
        return query.where(Reminder.municipality_id == actor.account.municipality_id, Reminder.kind != "audit_broken")
    if actor.role == "coordinator" and actor.account.municipality_id:
        return query.where(Reminder.municipality_id == actor.account.municipality_id, Reminder.kind == "audit_broken")
    return query.where(false())
