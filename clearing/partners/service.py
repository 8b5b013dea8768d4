"""Partner organisations, their keys and users, and the versioned agreements of a municipality."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import crypto
from clearing.audit import service as audit
from clearing.partners.agreements import AgreementSpec
from clearing.partners.errors import PartnerError
from clearing.partners.models import AgreementVersion, PartnerKeyGrant, PartnerOrganisation
from core import invitations, key_binding
from core.accounts import NewAccount, create_account
from core.config import Config
from core.custody import register_key_opener
from core.db import new_id
from core.models import Account
from core.staff import Staff

PARTNER_KEY_PURPOSE = "partner-key"
# The organisation's public key, vouched for by the installation (core.key_binding).
PARTNER_PUBLIC_KEY = key_binding.KeyKind("partner-key", "partner_organisation")


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


def _seal_to(session: Session, partner: PartnerOrganisation, private_key: bytes, account: Account) -> PartnerKeyGrant:
    """The organisation key sealed to a user, once the user's public key verifies (key_binding.UnverifiedKey)."""
    return PartnerKeyGrant(
        partner_id=partner.id,
        account_id=account.id,
        sealed_private_key=crypto.seal(
            key_binding.verified_account_key(session, account),
            private_key,
            purpose=PARTNER_KEY_PURPOSE,
            record_id=_record_id(partner, account.id),
        ),
    )


def _bound_id(partner: PartnerOrganisation) -> str:
    # The key generation too: a tag of an older organisation key does not vouch for today's.
    return f"{partner.id}/{partner.key_generation}"


def bind_partner_key(session: Session, partner: PartnerOrganisation) -> None:
    """Tag the organisation's public key (whenever it gets a new one; the id must be set)."""
    partner.public_key_binding = key_binding.tag(session, PARTNER_PUBLIC_KEY, _bound_id(partner), partner.public_key)


def verified_partner_key(session: Session, partner: PartnerOrganisation) -> bytes:
    """The organisation's public key, to seal a referral key to; key_binding.UnverifiedKey if it does not verify."""
    return key_binding.verified_public_key(
        session, PARTNER_PUBLIC_KEY, _bound_id(partner), partner.public_key, partner.public_key_binding
    )


def partner_key_shown(session: Session, partner: PartnerOrganisation) -> key_binding.KeyShown:
    """The organisation key's fingerprint and whether it verifies, for the coordinator and the partner."""
    return key_binding.shown(
        session, PARTNER_PUBLIC_KEY, _bound_id(partner), partner.public_key, partner.public_key_binding
    )


def _stored_partner_keys(session: Session) -> Iterator[key_binding.StoredKey]:
    for partner in session.scalars(select(PartnerOrganisation).order_by(PartnerOrganisation.id)):
        yield key_binding.StoredKey(
            PARTNER_PUBLIC_KEY,
            partner.id,
            _bound_id(partner),
            partner.public_key,
            partner.public_key_binding,
            key_binding.tag_setter(partner, "public_key_binding"),
        )


key_binding.register_key_lister(_stored_partner_keys)


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
                id=new_id(),
                municipality_id=municipality_id,
                key=rule.partner,
                name=rule.name,
                kind=rule.kind,
                public_key=crypto.generate_keypair().public,
                key_generation=0,
            )
            bind_partner_key(session, partner)
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
    if first_holder.invited:
        raise PartnerError("the holder has not taken up the account yet")
    if active_holders(session, partner):
        raise PartnerError("someone still holds the organisation key")
    key_binding.verified_account_key(session, first_holder)  # before anything changes
    keys = crypto.generate_keypair()
    session.query(PartnerKeyGrant).filter(PartnerKeyGrant.partner_id == partner.id).delete()
    partner.public_key = keys.public
    partner.key_generation += 1
    bind_partner_key(session, partner)
    session.add(_seal_to(session, partner, keys.private, first_holder))
    session.flush()


def invite_partner_user_by(
    session: Session, actor: Staff, partner: PartnerOrganisation, *, login: str, display_name: str
) -> invitations.NewInvitation:
    """A coordinator invites a partner user; audited in the municipality's chain.

    The account has no key pair until its holder takes it up, so the organisation key reaches a
    first user only then (_first_user_gets_the_key). Raises core.accounts.AccountError.
    """
    created = invitations.invite(
        session,
        login=login,
        role="partner",
        municipality_id=partner.municipality_id,
        partner_id=partner.id,
        display_name=display_name,
    )
    audit.record_by(
        session,
        actor,
        chain=partner.municipality_id,
        action="account.created",
        target_id=created.account.id,
        detail="partner",
    )
    return created


def _first_user_gets_the_key(session: Session, account: Account) -> None:
    """An invited partner user who takes up the account holds the organisation key if nobody does yet."""
    if account.role != "partner" or account.partner_id is None:
        return
    partner = session.get(PartnerOrganisation, account.partner_id)
    if partner is not None and not holders(session, partner):
        issue_key(session, partner, account)


# Connected once, when clearing is loaded (the alliance views import this module).
invitations.invitation_accepted.connect(_first_user_gets_the_key, weak=False)


def issue_key_by(session: Session, actor: Staff, partner: PartnerOrganisation, holder: Account) -> None:
    """A coordinator gives a new organisation key to one user (issue_key); audited."""
    issue_key(session, partner, holder)
    audit.record_by(session, actor, chain=partner.municipality_id, action="partner.key_issued", target_id=partner.id)


def grant_partner_key(
    session: Session, partner_private_key: bytes, partner: PartnerOrganisation, grantee: Account, *, granted_by: Account
) -> None:
    """An existing partner user (`granted_by`) passes the organisation key to a colleague; audited."""
    if grantee.partner_id != partner.id or grantee.role != "partner":
        raise PartnerError("only users of the same organisation")
    if grantee.invited:
        raise PartnerError("the colleague has not taken up the account yet")
    if crypto.public_key_of(partner_private_key) != partner.public_key:
        raise PartnerError("this is not the organisation's current key")
    if grantee.id in holders(session, partner):
        return
    session.add(_seal_to(session, partner, partner_private_key, grantee))
    session.flush()
    audit.record(
        session,
        chain=partner.municipality_id,
        action="partner.key_granted",
        actor_id=granted_by.id,
        actor_role=granted_by.role,
        target_id=grantee.id,
    )
