"""Key custody: who holds the municipality's office key, how it is passed on, rotated and destroyed.

The office key comes in epochs (core.models.OfficeKeyEpoch). Officers and the recovery key hold a
grant of the current epoch only; each older epoch that still has cases is sealed to the current
epoch's public key. A login opens the current key with the account's grant and the older ones
through it (an OfficeKeyring). Rotation starts a new epoch: new cases seal to it, the old grants are
deleted, and whoever lost their grant before it (a deactivated officer) reaches nothing newer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

import crypto
from core import key_binding, secret_sessions
from core.db import utcnow
from core.models import Account, Municipality, OfficeKeyEpoch, OfficeKeyGrant
from core.tenancy import OFFICE_KEY_PURPOSE, office_key_record_id, parse_recovery_key

# An office key older than this is rotated by the next officer who holds it.
ROTATION_INTERVAL = timedelta(days=90)
EPOCH_KEY_PURPOSE = "office-key-epoch"
_EPOCH_BYTES = 4
_KEY_BYTES = 32


class CustodyError(Exception):
    """The office key cannot be given or opened as asked."""


@dataclass(frozen=True)
class OfficeKeyring:
    """The office private keys a holder can open, by epoch; the newest is the current one."""

    keys: Mapping[int, bytes]

    @property
    def current_epoch(self) -> int:
        return max(self.keys)

    @property
    def current(self) -> bytes:
        return self.keys[self.current_epoch]

    def encode(self) -> bytes:
        """The bytes a secret session stores: (epoch, key) pairs."""
        return b"".join(epoch.to_bytes(_EPOCH_BYTES, "big") + key for epoch, key in sorted(self.keys.items()))

    @classmethod
    def decode(cls, data: bytes) -> OfficeKeyring:
        step = _EPOCH_BYTES + _KEY_BYTES
        if not data or len(data) % step:
            raise CustodyError("not an office keyring")
        keys = {
            int.from_bytes(data[i : i + _EPOCH_BYTES], "big"): data[i + _EPOCH_BYTES : i + step]
            for i in range(0, len(data), step)
        }
        return cls(keys)


# How each role's session key is opened at login: officers hold the office keyring; other features
# (partner organisations) register theirs, so core does not import them.
KeyOpener = Callable[[Session, Account, bytes], "bytes | None"]
_openers: dict[str, KeyOpener] = {}


def register_key_opener(role: str, opener: KeyOpener) -> None:
    _openers[role] = opener


def session_key_for(session: Session, account: Account, account_private_key: bytes) -> bytes | None:
    """What this account's session holds: the office keyring, a partner organisation key, or none."""
    if account.role == "officer":
        ring = office_keyring_for(session, account, account_private_key)
        return ring.encode() if ring else None
    opener = _openers.get(account.role)
    return opener(session, account, account_private_key) if opener else None


def current_epoch(session: Session, municipality_id: str, *, for_update: bool = False) -> OfficeKeyEpoch:
    """The municipality's current office key epoch (the newest one not retired)."""
    query = select(OfficeKeyEpoch).where(
        OfficeKeyEpoch.municipality_id == municipality_id, OfficeKeyEpoch.retired_at.is_(None)
    )
    if for_update:
        query = query.with_for_update()
    epoch = session.scalar(query.order_by(OfficeKeyEpoch.epoch.desc()).limit(1))
    if epoch is None:
        raise CustodyError("this municipality has no office key")
    return epoch


def epochs_of(session: Session, municipality_id: str) -> list[OfficeKeyEpoch]:
    """The municipality's office key epochs, newest first (for the key page)."""
    query = select(OfficeKeyEpoch).where(OfficeKeyEpoch.municipality_id == municipality_id)
    return list(session.scalars(query.order_by(OfficeKeyEpoch.epoch.desc())))


def _open_checked(private_key: bytes, blob: bytes, purpose: str, record_id: str, public_key: bytes) -> bytes:
    opened = crypto.open_sealed(private_key, blob, purpose=purpose, record_id=record_id)
    if crypto.public_key_of(opened) != public_key:
        raise CustodyError("a wrapped office key does not match its epoch")
    return opened


def _epoch_record_id(municipality_id: str, epoch: int) -> str:
    return f"{municipality_id}/epoch/{epoch}"


def _keyring_from(session: Session, municipality_id: str, epoch: OfficeKeyEpoch, key: bytes) -> OfficeKeyring:
    """The current key and every older one it still reaches (destroyed epochs are gone)."""
    keys = {epoch.epoch: key}
    older = select(OfficeKeyEpoch).where(
        OfficeKeyEpoch.municipality_id == municipality_id,
        OfficeKeyEpoch.epoch < epoch.epoch,
        OfficeKeyEpoch.sealed_to_current.is_not(None),
    )
    for row in session.scalars(older):
        if row.sealed_to_current is not None:
            keys[row.epoch] = _open_checked(
                key,
                row.sealed_to_current,
                EPOCH_KEY_PURPOSE,
                _epoch_record_id(municipality_id, row.epoch),
                row.public_key,
            )
    return OfficeKeyring(keys)


def office_keyring_for(session: Session, account: Account, account_private_key: bytes) -> OfficeKeyring | None:
    """Every office key this account reaches, if it holds a grant of the current epoch."""
    if account.municipality_id is None:
        return None
    try:
        epoch = current_epoch(session, account.municipality_id)
    except CustodyError:
        return None
    grant = session.scalar(
        select(OfficeKeyGrant).where(
            OfficeKeyGrant.municipality_id == account.municipality_id,
            OfficeKeyGrant.holder == account.id,
            OfficeKeyGrant.epoch == epoch.epoch,
        )
    )
    if grant is None:
        return None
    key = _open_checked(
        account_private_key,
        grant.sealed_private_key,
        OFFICE_KEY_PURPOSE,
        office_key_record_id(account.municipality_id, account.id, epoch.epoch),
        epoch.public_key,
    )
    return _keyring_from(session, account.municipality_id, epoch, key)


def office_key_for(session: Session, account: Account, account_private_key: bytes) -> bytes | None:
    """The current office private key, if this account has been granted it."""
    ring = office_keyring_for(session, account, account_private_key)
    return ring.current if ring else None


def has_grant(session: Session, account: Account) -> bool:
    return session.scalar(select(OfficeKeyGrant.id).where(OfficeKeyGrant.holder == account.id)) is not None


def _seal_grant(municipality_id: str, holder: str, public_key: bytes, epoch: int, private_key: bytes) -> OfficeKeyGrant:
    return OfficeKeyGrant(
        municipality_id=municipality_id,
        holder=holder,
        epoch=epoch,
        sealed_private_key=crypto.seal(
            public_key,
            private_key,
            purpose=OFFICE_KEY_PURPOSE,
            record_id=office_key_record_id(municipality_id, holder, epoch),
        ),
    )


def grant_office_key(session: Session, office_private_key: bytes, grantee: Account) -> None:
    """Seal the current office key to an officer of the same municipality (done by one who holds it)."""
    if grantee.role != "officer" or grantee.municipality_id is None:
        raise CustodyError("only officers receive the office key")
    if grantee.invited:
        raise CustodyError("the officer has not taken up the account yet (no key pair)")
    municipality = session.get(Municipality, grantee.municipality_id)
    public = crypto.public_key_of(office_private_key)
    if municipality is None or public != municipality.office_public_key:
        raise CustodyError("this office key does not belong to the officer's municipality")
    epoch = current_epoch(session, grantee.municipality_id)
    if public != epoch.public_key:
        raise CustodyError("this office key is not the current one")
    if has_grant(session, grantee):
        return
    grantee_key = key_binding.verified_account_key(session, grantee)
    session.add(_seal_grant(grantee.municipality_id, grantee.id, grantee_key, epoch.epoch, office_private_key))
    session.flush()


def _recovery_grant(session: Session, municipality_id: str) -> OfficeKeyGrant | None:
    return session.scalar(
        select(OfficeKeyGrant)
        .where(OfficeKeyGrant.municipality_id == municipality_id, OfficeKeyGrant.holder == "recovery")
        .order_by(OfficeKeyGrant.epoch.desc())
        .limit(1)
    )


def office_keyring_from_recovery(session: Session, municipality: Municipality, recovery_key_text: str) -> OfficeKeyring:
    """Open the office keys with the offline recovery key (setup, or when no officer is left)."""
    grant = _recovery_grant(session, municipality.id)
    if grant is None:
        raise CustodyError("no recovery grant for this municipality")
    epoch = session.get(OfficeKeyEpoch, (municipality.id, grant.epoch))
    if epoch is None:
        raise CustodyError("no recovery grant for this municipality")
    try:
        recovery_private = parse_recovery_key(recovery_key_text)
        key = _open_checked(
            recovery_private,
            grant.sealed_private_key,
            OFFICE_KEY_PURPOSE,
            office_key_record_id(municipality.id, "recovery", grant.epoch),
            epoch.public_key,
        )
    except (crypto.CryptoError, ValueError):
        raise CustodyError("the recovery key does not open this municipality's office key") from None
    if municipality.recovery_public_key is None:
        # Municipalities from before epochs: from now on rotations seal to the recovery key too.
        municipality.recovery_public_key = crypto.public_key_of(recovery_private)
        key_binding.bind_recovery_key(session, municipality)
        session.flush()
    return _keyring_from(session, municipality.id, epoch, key)


def office_key_from_recovery(session: Session, municipality: Municipality, recovery_key_text: str) -> bytes:
    """The newest office key the recovery key opens (the current one unless it was never resealed)."""
    return office_keyring_from_recovery(session, municipality, recovery_key_text).current


def revoke_office_key(session: Session, account: Account, now: datetime | None = None) -> None:
    """Remove an officer's grants and ask for a rotation: what they may have copied opens no new case."""
    session.execute(delete(OfficeKeyGrant).where(OfficeKeyGrant.holder == account.id))
    if account.role == "officer" and account.municipality_id is not None:
        epoch = session.scalar(
            select(OfficeKeyEpoch)
            .where(OfficeKeyEpoch.municipality_id == account.municipality_id, OfficeKeyEpoch.retired_at.is_(None))
            .order_by(OfficeKeyEpoch.epoch.desc())
            .limit(1)
        )
        if epoch is not None and epoch.rotation_requested_at is None:
            epoch.rotation_requested_at = now or utcnow()
    session.flush()


def rotation_due(epoch: OfficeKeyEpoch, now: datetime) -> bool:
    """Asked for (an officer left) or older than the rotation interval."""
    return epoch.rotation_requested_at is not None or epoch.created_at <= now - ROTATION_INTERVAL


@dataclass(frozen=True)
class Rotation:
    retired: int
    keyring: OfficeKeyring  # the rotating officer's, now with the new key
    holders: list[str]  # officers who received the new key


def rotate_office_key(session: Session, actor: Account, keyring: OfficeKeyring, now: datetime) -> Rotation:
    """A new office key epoch, started by an officer who holds every live office key.

    The new private key is sealed to each active officer who held the old one and to the recovery
    key; each older live epoch is resealed to it; the old grants are deleted. Colleagues' sessions
    hold the old keyring and end (they log in again to get the new one).
    """
    municipality_id = actor.municipality_id
    if actor.role != "officer" or municipality_id is None:
        raise CustodyError("only officers rotate the office key")
    municipality = session.get_one(Municipality, municipality_id)
    old = current_epoch(session, municipality_id, for_update=True)
    current = keyring.keys.get(old.epoch)
    if current is None or crypto.public_key_of(current) != old.public_key:
        raise CustodyError("the actor does not hold the current office key")
    live = list(
        session.scalars(
            select(OfficeKeyEpoch).where(
                OfficeKeyEpoch.municipality_id == municipality_id,
                OfficeKeyEpoch.epoch <= old.epoch,
                OfficeKeyEpoch.destroyed_at.is_(None),
            )
        )
    )
    if any(row.epoch not in keyring.keys for row in live):
        raise CustodyError("the actor does not hold every live office key")
    new = crypto.generate_keypair()
    new_epoch = old.epoch + 1
    for row in live:
        row.sealed_to_current = crypto.seal(
            new.public,
            keyring.keys[row.epoch],
            purpose=EPOCH_KEY_PURPOSE,
            record_id=_epoch_record_id(municipality_id, row.epoch),
        )
    old.retired_at = now
    session.add(OfficeKeyEpoch(municipality_id=municipality_id, epoch=new_epoch, public_key=new.public, created_at=now))
    holder_ids = set(
        session.scalars(
            select(OfficeKeyGrant.holder).where(
                OfficeKeyGrant.municipality_id == municipality_id, OfficeKeyGrant.epoch == old.epoch
            )
        )
    )
    holders = list(
        session.scalars(
            select(Account).where(
                Account.municipality_id == municipality_id,
                Account.role == "officer",
                Account.active.is_(True),
                Account.id.in_(holder_ids | {actor.id}),
            )
        )
    )
    stale = delete(OfficeKeyGrant).where(OfficeKeyGrant.municipality_id == municipality_id)
    if municipality.recovery_public_key is None:
        # Without its public half the recovery key keeps only the grant it had (documented in README).
        stale = stale.where(OfficeKeyGrant.holder != "recovery")
    # A forged recovery key stops the rotation (UnverifiedKey; the caller's transaction rolls back);
    # a holder whose key does not verify is left out (logged), and a colleague passes the key on
    # once the operator has looked.
    recovery_key = None
    if municipality.recovery_public_key is not None:
        recovery_key = key_binding.verified_recovery_key(session, municipality)
    session.execute(stale)
    sealed_to = [holder for holder in holders if key_binding.verifies_account_key(session, holder)]
    for holder in sealed_to:
        session.add(_seal_grant(municipality_id, holder.id, holder.public_key, new_epoch, new.private))
    if recovery_key is not None:
        session.add(_seal_grant(municipality_id, "recovery", recovery_key, new_epoch, new.private))
    municipality.office_public_key = new.public
    key_binding.bind_office_key(session, municipality)
    for holder in holders:
        if holder.id != actor.id:
            secret_sessions.end_all_for(session, holder.id, purpose="staff")
    session.flush()
    keys = {epoch: key for epoch, key in keyring.keys.items() if epoch in {row.epoch for row in live}}
    keys[new_epoch] = new.private
    return Rotation(old.epoch, OfficeKeyring(keys), sorted(h.id for h in sealed_to))
