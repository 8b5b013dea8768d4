"""Partner organisations, their keys and users, and the versioned agreements of a municipality."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import crypto
from clearing.audit import service as audit
from clearing.partners.agreements import AgreementSpec
from clearing.partners.errors import PartnerError
from clearing.partners.models import AgreementVersion, PartnerKeyGrant, PartnerOrganisation
from core.accounts import NewAccount, create_account
from core.config import Config
from core.custody import register_key_opener
from core.models import Account
from core.staff import Staff

PARTNER_KEY_PURPOSE = "partner-key"


def _record_id(partner: PartnerOrganisation, account_id: str) -> str:
    return f"{partner.id}/{partner.key_generation}/{account_id}"


def partner_key_for(session: Session, account: Account, account_private_key: bytes) -> bytes | None:
    """The organisation key of a partner user, if granted."""
    if account.partner_id is None:
        return None
    partner = session.get(PartnerOrganisation, account.partner_id)
    grant = session.scalar(
        select(PartnerKeyGrant).where(
            PartnerKeyGrant.partner_id == account.partner_id, PartnerKeyGrant.account_id == account.id
        )
    )
    if partner is None or grant is None:
        return None
    try:
        return crypto.open_sealed(
            account_private_key,
            grant.sealed_private_key,
            purpose=PARTNER_KEY_PURPOSE,
            record_id=_record_id(partner, account.id),
        )
    except crypto.CryptoError:
        return None  # a grant of an older organisation key


register_key_opener("partner", partner_key_for)


def _seal_to(partner: PartnerOrganisation, private_key: bytes, account: Account) -> PartnerKeyGrant:
    return PartnerKeyGrant(
        partner_id=partner.id,
        account_id=account.id,
        sealed_private_key=crypto.seal(
            account.public_key, private_key, purpose=PARTNER_KEY_PURPOSE, record_id=_record_id(partner, account.id)
        ),
    )


def sync_partners(session: Session, municipality_id: str, spec: AgreementSpec) -> list[PartnerOrganisation]:
    """Create the organisations an agreement names (a fresh key pair each), update names and kinds."""
    existing = {
        p.key: p
        for p in session.scalars(
            select(PartnerOrganisation).where(PartnerOrganisation.municipality_id == municipality_id)
        )
    }
    for rule in spec.partners:
        partner = existing.get(rule.partner)
        if partner is None:
            # The private half is not kept: the first partner user gets a fresh key (issue_key).
            partner = PartnerOrganisation(
                municipality_id=municipality_id,
                key=rule.partner,
                name=rule.name,
                kind=rule.kind,
                public_key=crypto.generate_keypair().public,
                key_generation=0,
            )
            session.add(partner)
            existing[rule.partner] = partner
        partner.name, partner.kind, partner.notify_email = rule.name, rule.kind, rule.notify_email
    session.flush()
    return list(existing.values())


def save_agreement(
    session: Session, municipality_id: str, spec: AgreementSpec, *, actor_id: str | None, actor_role: str
) -> AgreementVersion:
    """A new active version; the previous one stays stored, inactive."""
    sync_partners(session, municipality_id, spec)
    latest = (
        session.scalar(
            select(func.max(AgreementVersion.version)).where(AgreementVersion.municipality_id == municipality_id)
        )
        or 0
    )
    session.execute(
        update(AgreementVersion).where(AgreementVersion.municipality_id == municipality_id).values(active=False)
    )
    version = AgreementVersion(
        municipality_id=municipality_id, version=latest + 1, active=True, data=spec.to_dict(), created_by=actor_id
    )
    session.add(version)
    audit.record(
        session,
        chain=municipality_id,
        action="agreement.activated",
        actor_id=actor_id,
        actor_role=actor_role,
        target_id=version.id,
        detail=f"v{latest + 1}",
    )
    session.flush()
    return version


def active_agreement(session: Session, municipality_id: str) -> AgreementVersion | None:
    return session.scalar(
        select(AgreementVersion).where(
            AgreementVersion.municipality_id == municipality_id, AgreementVersion.active.is_(True)
        )
    )


def partners_of(session: Session, municipality_id: str) -> list[PartnerOrganisation]:
    return list(
        session.scalars(
            select(PartnerOrganisation)
            .where(PartnerOrganisation.municipality_id == municipality_id)
            .order_by(PartnerOrganisation.name)
        )
    )


def partner_by_key(session: Session, municipality_id: str, key: str) -> PartnerOrganisation | None:
    return session.scalar(
        select(PartnerOrganisation).where(
            PartnerOrganisation.municipality_id == municipality_id, PartnerOrganisation.key == key
        )
    )


def holders(session: Session, partner: PartnerOrganisation) -> list[str]:
    return list(session.scalars(select(PartnerKeyGrant.account_id).where(PartnerKeyGrant.partner_id == partner.id)))


def add_partner_user(
    session: Session,
    config: Config,
    partner: PartnerOrganisation,
    *,
    login: str,
    display_name: str,
    password: str | None = None,
    totp_confirmed: bool = False,
) -> NewAccount:
    """A partner user. The first user of an organisation without key holders gets a fresh organisation key."""
    created = create_account(
        session,
        config,
        login=login,
        role="partner",
        municipality_id=partner.municipality_id,
        partner_id=partner.id,
        display_name=display_name,
        password=password,
        totp_confirmed=totp_confirmed,
    )
    if not holders(session, partner):
        issue_key(session, partner, created.account)
    return created


def active_holders(session: Session, partner: PartnerOrganisation) -> list[str]:
    query = select(PartnerKeyGrant.account_id).join(Account, Account.id == PartnerKeyGrant.account_id)
    return list(session.scalars(query.where(PartnerKeyGrant.partner_id == partner.id, Account.active.is_(True))))


def issue_key(session: Session, partner: PartnerOrganisation, first_holder: Account) -> None:
    """A new organisation key pair, given to one user; older grants and packets wait for re-sending.

    Only when no active user holds the key: otherwise a colleague passes it on, and replacing it
    would cut everyone off from the open referrals until the office re-sends them.
    """
    if first_holder.partner_id != partner.id:
        raise PartnerError("the holder must belong to the organisation")
    if active_holders(session, partner):
        raise PartnerError("someone still holds the organisation key")
    keys = crypto.generate_keypair()
    session.query(PartnerKeyGrant).filter(PartnerKeyGrant.partner_id == partner.id).delete()
    partner.public_key = keys.public
    partner.key_generation += 1
    session.add(_seal_to(partner, keys.private, first_holder))
    session.flush()


def add_partner_user_by(
    session: Session, config: Config, actor: Staff, partner: PartnerOrganisation, *, login: str, display_name: str
) -> NewAccount:
    """A coordinator adds a partner user (add_partner_user); audited in the municipality's chain."""
    created = add_partner_user(session, config, partner, login=login, display_name=display_name)
    audit.record_by(
        session,
        actor,
        chain=partner.municipality_id,
        action="account.created",
        target_id=created.account.id,
        detail="partner",
    )
    return created


def issue_key_by(session: Session, actor: Staff, partner: PartnerOrganisation, holder: Account) -> None:
    """A coordinator gives a new organisation key to one user (issue_key); audited."""
    issue_key(session, partner, holder)
    audit.record_by(session, actor, chain=partner.municipality_id, action="partner.key_issued", target_id=partner.id)


def grant_partner_key(
    session: Session, partner_private_key: bytes, partner: PartnerOrganisation, grantee: Account
) -> None:
    """An existing partner user passes the organisation key to a colleague."""
    if grantee.partner_id != partner.id or grantee.role != "partner":
        raise PartnerError("only users of the same organisation")
    if crypto.public_key_of(partner_private_key) != partner.public_key:
        raise PartnerError("this is not the organisation's current key")
    if grantee.id in holders(session, partner):
        return
    session.add(_seal_to(partner, partner_private_key, grantee))
    session.flush()
