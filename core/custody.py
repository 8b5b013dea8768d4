"""Key custody: who holds the municipality's office key, and how it is passed on."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto
from core.models import Account, Municipality, OfficeKeyGrant
from core.tenancy import OFFICE_KEY_PURPOSE, office_key_record_id, parse_recovery_key


class CustodyError(Exception):
    """The office key cannot be given or opened as asked."""


# How each role's session key is opened at login: officers hold the office key; other features
# (partner organisations) register theirs, so core does not import them.
KeyOpener = Callable[[Session, Account, bytes], "bytes | None"]
_openers: dict[str, KeyOpener] = {}


def register_key_opener(role: str, opener: KeyOpener) -> None:
    _openers[role] = opener


def session_key_for(session: Session, account: Account, account_private_key: bytes) -> bytes | None:
    """The key this account's session holds: the office key, a partner organisation key, or none."""
    if account.role == "officer":
        return office_key_for(session, account, account_private_key)
    opener = _openers.get(account.role)
    return opener(session, account, account_private_key) if opener else None


def office_key_for(session: Session, account: Account, account_private_key: bytes) -> bytes | None:
    """The office private key, if this account has been granted it."""
    if account.municipality_id is None:
        return None
    grant = session.scalar(
        select(OfficeKeyGrant).where(
            OfficeKeyGrant.municipality_id == account.municipality_id, OfficeKeyGrant.holder == account.id
        )
    )
    if grant is None:
        return None
    return crypto.open_sealed(
        account_private_key,
        grant.sealed_private_key,
        purpose=OFFICE_KEY_PURPOSE,
        record_id=office_key_record_id(account.municipality_id, account.id),
    )


def has_grant(session: Session, account: Account) -> bool:
    return session.scalar(select(OfficeKeyGrant.id).where(OfficeKeyGrant.holder == account.id)) is not None


def grant_office_key(session: Session, office_private_key: bytes, grantee: Account) -> None:
    """Seal the office key to an officer of the same municipality (done by one who holds it)."""
    if grantee.role != "officer" or grantee.municipality_id is None:
        raise CustodyError("only officers receive the office key")
    municipality = session.get(Municipality, grantee.municipality_id)
    if municipality is None or crypto.public_key_of(office_private_key) != municipality.office_public_key:
        raise CustodyError("this office key does not belong to the officer's municipality")
    if has_grant(session, grantee):
        return
    session.add(
        OfficeKeyGrant(
            municipality_id=grantee.municipality_id,
            holder=grantee.id,
            sealed_private_key=crypto.seal(
                grantee.public_key,
                office_private_key,
                purpose=OFFICE_KEY_PURPOSE,
                record_id=office_key_record_id(grantee.municipality_id, grantee.id),
            ),
        )
    )
    session.flush()


def office_key_from_recovery(session: Session, municipality: Municipality, recovery_key_text: str) -> bytes:
    """Open the office key with the offline recovery key (setup, or when no officer is left)."""
    grant = session.scalar(
        select(OfficeKeyGrant).where(
            OfficeKeyGrant.municipality_id == municipality.id, OfficeKeyGrant.holder == "recovery"
        )
    )
    if grant is None:
        raise CustodyError("no recovery grant for this municipality")
    try:
        return crypto.open_sealed(
            parse_recovery_key(recovery_key_text),
            grant.sealed_private_key,
            purpose=OFFICE_KEY_PURPOSE,
            record_id=office_key_record_id(municipality.id, "recovery"),
        )
    except (crypto.CryptoError, ValueError):
        raise CustodyError("the recovery key does not open this municipality's office key") from None


def revoke_office_key(session: Session, account: Account) -> None:
    """Remove an officer's grant (deactivation). The office key itself stays; rotate it if compromised."""
    for grant in session.scalars(select(OfficeKeyGrant).where(OfficeKeyGrant.holder == account.id)):
        session.delete(grant)
    session.flush()
