"""The coordinator's team: every account of the municipality by its real role, switched off and on again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearing.audit import service as audit
from clearing.office.errors import TeamRefused
from clearing.partners.models import PartnerOrganisation
from core import custody, invitations, secret_sessions
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
        if account.role == "officer":
            # Its grant goes, and the office key is to be rotated: at the next request of an officer
            # who holds it (rotate_if_due, run before every officer request). New cases seal to the
            # old key until then, which the departed officer may have copied.
            custody.revoke_office_key(session, account)
    audit.record_by(
        session,
        actor,
        chain=municipality_id,
        action="account.reactivated" if active else "account.deactivated",
        target_id=account.id,
        detail=account.role,
    )
    session.flush()


def rotate_office_key(session: Session, actor: Staff, now: datetime, reason: str) -> custody.OfficeKeyring:
    """A new office key epoch (an officer who holds the keys starts it); audited with its reason.

    Returns the actor's new keyring for their session. Raises core.custody.CustodyError if the
    actor does not hold every live office key.
    """
    keyring = actor.keyring
    if keyring is None or actor.role != "officer" or actor.account.municipality_id is None:
        raise custody.CustodyError("only an officer holding the office keys rotates them")
    rotation = custody.rotate_office_key(session, actor.account, keyring, now)
    audit.record_by(
        session,
        actor,
        chain=actor.account.municipality_id,
        action="office_key.rotated",
        target_id=actor.account.municipality_id,
        detail=f"{reason}:{rotation.retired}->{rotation.keyring.current_epoch}",
    )
    return rotation.keyring


def rotate_if_due(session: Session, actor: Staff, now: datetime) -> custody.OfficeKeyring | None:
    """Rotate when an officer left or the key is older than the interval, if the actor can; else None."""
    municipality_id = actor.account.municipality_id
    keyring = actor.keyring
    if actor.role != "officer" or municipality_id is None or keyring is None:
        return None
    try:
        epoch = custody.current_epoch(session, municipality_id)
    except custody.CustodyError:
        return None
    if epoch.epoch != keyring.current_epoch or not custody.rotation_due(epoch, now):
        return None
    reason = "officer_left" if epoch.rotation_requested_at is not None else "schedule"
    return rotate_office_key(session, actor, now, reason)


def add_member(
    session: Session, actor: Staff, *, login: str, role: str, display_name: str
) -> invitations.NewInvitation:
    """A new account in the actor's municipality (the network's, for the network operator), invited; audited.

    The account has no credential until its holder opens the link; the actor sees only the link.
    Raises core.accounts.AccountError for a login that is taken or not allowed.
    """
    created = invitations.invite(
        session,
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


def renew_invitation(session: Session, actor: Staff, account: Account) -> str:
    """A new invitation link for an account of the actor's municipality not taken up yet; audited.

    Raises TeamRefused for an account elsewhere or one already taken up.
    """
    if account.municipality_id != actor.account.municipality_id or not account.invited or not account.active:
        raise TeamRefused(_("Dieses Konto wartet auf keine Einladung."))
    token = invitations.renew(session, account)
    audit.record_by(
        session,
        actor,
        chain=actor.account.municipality_id or audit.NETWORK_CHAIN,
        action="account.invitation_renewed",
        target_id=account.id,
        detail=account.role,
    )
    return token


def _record_acceptance(session: Session, account: Account) -> None:
    """The holder took up the account: recorded with the holder as actor."""
    audit.record(
        session,
        chain=account.municipality_id or audit.NETWORK_CHAIN,
        action="account.invitation_accepted",
        actor_id=account.id,
        actor_role=account.role,
        target_id=account.id,
        detail=account.role,
    )


# Connected once, when clearing is loaded (core/app.py imports clearing.office.views when it wires the features).
invitations.invitation_accepted.connect(_record_acceptance, weak=False)


def grant_office_key(session: Session, actor: Staff, office_key: bytes, grantee: Account) -> None:
    """The actor passes the office key they hold to a colleague; audited.

    Raises core.custody.CustodyError if the grantee cannot receive it.
    """
    custody.grant_office_key(session, office_key, grantee)
    audit.record_by(
        session, actor, chain=grantee.municipality_id or "", action="office_key.granted", target_id=grantee.id
    )
