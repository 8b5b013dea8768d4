"""The coordinator's team: every account of the municipality by its real role, switched off and on again."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearing.audit import service as audit
from clearing.office.errors import TeamRefused
from clearing.partners.models import PartnerOrganisation
from core import custody, secret_sessions
from core.accounts import NewAccount, create_account
from core.config import Config
from core.models import Account
from core.staff import Staff


@dataclass(frozen=True)
class Member:
    account: Account
    role: str
    # None where access to cases does not apply (coordinators, partner users).
    case_access: bool | None


def role_label(account: Account, partner_name: str | None = None) -> str:
    """The role as people in the office name it; a partner user by their organisation."""
    if account.role == "officer":
        return _("Clearing-Fachkraft")
    if account.role == "coordinator":
        return _("Koordination")
    if account.role == "partner":
        return _("Partnerorganisation: %(name)s", name=partner_name or "–")
    return _("Netzwerkbetrieb")


def members(session: Session, municipality_id: str) -> list[Member]:
    """The municipality's accounts: office first, then partner users; active before deactivated."""
    accounts = session.scalars(select(Account).where(Account.municipality_id == municipality_id)).all()
    names = dict(
        session.execute(
            select(PartnerOrganisation.id, PartnerOrganisation.name).where(
                PartnerOrganisation.municipality_id == municipality_id
            )
        ).all()
    )
    order = {"officer": 0, "coordinator": 1, "partner": 2}
    rows = sorted(
        accounts,
        key=lambda a: (order.get(a.role, 3), names.get(a.partner_id or "", ""), not a.active, a.display_name.lower()),
    )
    return [
        Member(
            a,
            role_label(a, names.get(a.partner_id or "")),
            custody.has_grant(session, a) if a.role == "officer" else None,
        )
        for a in rows
    ]


def _active_coordinators(session: Session, municipality_id: str) -> int:
    query = select(func.count()).where(
        Account.municipality_id == municipality_id, Account.role == "coordinator", Account.active.is_(True)
    )
    return session.scalar(query) or 0


def set_active(session: Session, actor: Staff, account: Account, active: bool) -> None:
    """Deactivate (no login, every session ended) or reactivate an account of the actor's municipality; audited."""
    municipality_id = actor.account.municipality_id
    if municipality_id is None or account.municipality_id != municipality_id:
        raise TeamRefused(_("Dieses Konto gibt es in Ihrer Kommune nicht."))
    if account.active == active:
        return
    if not active:
        if account.id == actor.account.id:
            raise TeamRefused(_("Ihr eigenes Konto können Sie nicht deaktivieren."))
        if account.role == "coordinator" and _active_coordinators(session, municipality_id) <= 1:
            raise TeamRefused(_("Die letzte Koordination kann nicht deaktiviert werden."))
    account.active = active
    if not active:
        # Its sessions hold the unwrapped office or organisation key: they end now, not at their timeout.
        secret_sessions.end_all_for(session, account.id)
    audit.record_by(
        session,
        actor,
        chain=municipality_id,
        action="account.reactivated" if active else "account.deactivated",
        target_id=account.id,
        detail=account.role,
    )
    session.flush()


def add_member(
    session: Session, config: Config, actor: Staff, *, login: str, role: str, display_name: str
) -> NewAccount:
    """A new account in the actor's municipality (the network's, for the network operator); audited.

    Raises core.accounts.AccountError for a login that is taken or not allowed.
    """
    created = create_account(
        session,
        config,
        login=login,
        role=role,
        municipality_id=actor.account.municipality_id,
        display_name=display_name,
    )
    audit.record_by(
        session,
        actor,
        chain=actor.account.municipality_id or audit.NETWORK_CHAIN,
        action="account.created",
        target_id=created.account.id,
        detail=created.account.role,
    )
    return created


def grant_office_key(session: Session, actor: Staff, office_key: bytes, grantee: Account) -> None:
    """The actor passes the office key they hold to a colleague; audited.

    Raises core.custody.CustodyError if the grantee cannot receive it.
    """
    custody.grant_office_key(session, office_key, grantee)
    audit.record_by(
        session, actor, chain=grantee.municipality_id or "", action="office_key.granted", target_id=grantee.id
    )
