"""The one place where queries are scoped by the actor: cases, referrals, reminders, accounts,
partner organisations and a partner's colleagues, by municipality and by partner organisation.

Every view of the clearing office and the partner portal reaches these rows only through these
functions. A row outside the actor's scope and a row that does not exist give the same answer
(404, or None for a view that words the refusal itself): a refusal teaches nothing.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from clearing.cases.models import Reminder
from clearing.partners.models import PartnerOrganisation
from clearing.referrals.models import Referral
from clearing.referrals.states import PARTNER_VISIBLE_STATES
from core.models import Account, Municipality
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


def municipality_query(actor: Staff) -> Select[Municipality]:
    """The coordinator's own municipality; every municipality for the network operator; nothing for anyone else."""
    query = select(Municipality)
    if actor.role == "network_operator":
        return query
    if actor.role == "coordinator" and actor.account.municipality_id:
        return query.where(Municipality.id == actor.account.municipality_id)
    return query.where(false())


# Who may see the accounts of their municipality: the coordinator (team) and officers (granting
# the office key to a colleague).
ACCOUNT_READERS = ("coordinator", "officer")


def account_query(actor: Staff) -> Select[Account]:
    """The accounts of the actor's municipality (staff and partner users); nothing for anyone else."""
    query = select(Account)
    if actor.role in ACCOUNT_READERS and actor.account.municipality_id:
        return query.where(Account.municipality_id == actor.account.municipality_id)
    return query.where(false())


def find_account(session: Session, actor: Staff, account_id: str) -> Account | None:
    """An account of the actor's municipality, or None whether it is missing or not theirs."""
    if len(account_id) > 32:
        return None
    return session.scalar(account_query(actor).where(Account.id == account_id))


def get_account(session: Session, actor: Staff, account_id: str) -> Account:
    """An account of the actor's municipality, or 404."""
    account = find_account(session, actor, account_id)
    if account is None:
        abort(404)
    return account


def partner_query(actor: Staff) -> Select[PartnerOrganisation]:
    """The partner organisations of the coordinator's municipality; nothing for anyone else."""
    query = select(PartnerOrganisation)
    if actor.role == "coordinator" and actor.account.municipality_id:
        return query.where(PartnerOrganisation.municipality_id == actor.account.municipality_id)
    return query.where(false())


def find_partner(session: Session, actor: Staff, partner_id: str) -> PartnerOrganisation | None:
    """A partner organisation of the coordinator's municipality, or None."""
    if len(partner_id) > 32:
        return None
    return session.scalar(partner_query(actor).where(PartnerOrganisation.id == partner_id))


def colleague_query(actor: Staff) -> Select[Account]:
    """The active users of the actor's partner organisation; nothing for anyone else."""
    query = select(Account)
    if actor.role == "partner" and actor.account.partner_id:
        return query.where(Account.partner_id == actor.account.partner_id, Account.active.is_(True))
    return query.where(false())


def find_colleague(session: Session, actor: Staff, account_id: str) -> Account | None:
    """An active user of the actor's partner organisation, or None."""
    if len(account_id) > 32:
        return None
    return session.scalar(colleague_query(actor).where(Account.id == account_id))
