"""Which stored public keys the installation vouches for: a binding tag under a key outside the database.

Every public key that something is sealed to (a municipality's office key and recovery key, an
account's key, a partner organisation's key) carries an HMAC tag over its purpose, owner and bytes
under KOMMA_KEY_BINDING_KEY. Whoever can write the database but does not hold that key cannot put
a key of their own in its place: sealing verifies the tag first and refuses (UnverifiedKey).

The binding key travels with the session: the app's session factory puts it into `session.info`,
so every service that creates or seals to a key already has it, and one without it fails loudly.
Features with keys of their own (partner organisations) register them here for `komma keys`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

import crypto
from core.config import Config
from core.db import KEY_BINDING_KEY_INFO
from core.models import Account, Municipality

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyKind:
    """What a public key is for, and which kind of row owns it; both go into the tag."""

    purpose: str
    owner_kind: str


OFFICE_KEY = KeyKind("office-key", "municipality")
RECOVERY_KEY = KeyKind("recovery-key", "municipality")
ACCOUNT_KEY = KeyKind("account-key", "account")


class UnverifiedKey(Exception):
    """A stored public key's tag is missing or wrong: nothing is sealed to it.

    Carries only the owner's kind and id, never key bytes, so it can be logged and shown.
    """

    def __init__(self, kind: KeyKind, owner_id: str) -> None:
        super().__init__(f"the {kind.purpose} of {kind.owner_kind} {owner_id} does not verify")
        self.kind = kind
        self.owner_id = owner_id


# Where the binding key comes from: a session of the app's factory, or the configuration itself
# (for code that holds the config but no session, like setting an account's credentials).
Keyed = Session | Config


def binding_key(keyed: Keyed) -> bytes:
    key = keyed.key_binding_key if isinstance(keyed, Config) else keyed.info.get(KEY_BINDING_KEY_INFO)
    if not isinstance(key, bytes) or not key:
        raise RuntimeError("no key binding key: use the app's session factory or its Config")
    return key


def tag(keyed: Keyed, kind: KeyKind, owner_id: str, public_key: bytes) -> bytes:
    """The tag for a key just created; store it next to the key."""
    return crypto.bind_public_key(
        binding_key(keyed), purpose=kind.purpose, owner_kind=kind.owner_kind, owner_id=owner_id, public_key=public_key
    )


def verifies(keyed: Keyed, kind: KeyKind, owner_id: str, public_key: bytes | None, binding: bytes | None) -> bool:
    if public_key is None or len(public_key) != 32:
        return False
    return crypto.verify_binding(
        binding_key(keyed),
        binding,
        purpose=kind.purpose,
        owner_kind=kind.owner_kind,
        owner_id=owner_id,
        public_key=public_key,
    )


def verified_public_key(
    keyed: Keyed, kind: KeyKind, owner_id: str, public_key: bytes | None, binding: bytes | None
) -> bytes:
    """The public key, once its tag verifies; UnverifiedKey (logged) otherwise. Call it right before sealing."""
    if public_key is None or not verifies(keyed, kind, owner_id, public_key, binding):
        # An alarm for the operator: someone wrote a key into the database, or a key was never bound.
        log.error("refused to seal: the %s of %s %s does not verify", kind.purpose, kind.owner_kind, owner_id)
        raise UnverifiedKey(kind, owner_id)
    return public_key


# The keys of core's own tables -----------------------------------------------------------------


def bind_office_key(session: Session, municipality: Municipality) -> None:
    """Tag the municipality's current office public key (after creating or rotating it; needs its id)."""
    if municipality.office_public_key is None:
        municipality.office_key_binding = None
        return
    municipality.office_key_binding = tag(session, OFFICE_KEY, municipality.id, municipality.office_public_key)


def verifies_office_key(keyed: Keyed, municipality: Municipality) -> bool:
    return verifies(keyed, OFFICE_KEY, municipality.id, municipality.office_public_key, municipality.office_key_binding)


def verified_office_key(session: Session, municipality: Municipality) -> bytes:
    return verified_public_key(
        session, OFFICE_KEY, municipality.id, municipality.office_public_key, municipality.office_key_binding
    )


def bind_recovery_key(session: Session, municipality: Municipality) -> None:
    """Tag the recovery key's public half (stored so that a rotation can seal the new office key to it)."""
    if municipality.recovery_public_key is None:
        municipality.recovery_key_binding = None
        return
    municipality.recovery_key_binding = tag(session, RECOVERY_KEY, municipality.id, municipality.recovery_public_key)


def verified_recovery_key(session: Session, municipality: Municipality) -> bytes:
    return verified_public_key(
        session, RECOVERY_KEY, municipality.id, municipality.recovery_public_key, municipality.recovery_key_binding
    )


def bind_account_key(keyed: Keyed, account: Account) -> None:
    """Tag an account's public key (whenever it gets a key pair; the id must be set)."""
    account.public_key_binding = tag(keyed, ACCOUNT_KEY, account.id, account.public_key)


def verifies_account_key(keyed: Keyed, account: Account) -> bool:
    """Whether the account's key verifies; a refusal is logged like verified_account_key's."""
    try:
        verified_account_key(keyed, account)
    except UnverifiedKey:
        return False
    return True


def verified_account_key(keyed: Keyed, account: Account) -> bytes:
    """The account's public key, to seal the office key, a partner key or its TOTP secret to."""
    return verified_public_key(keyed, ACCOUNT_KEY, account.id, account.public_key, account.public_key_binding)


# Every stored key, for `komma keys verify` and `komma keys bind` --------------------------------


@dataclass(frozen=True)
class StoredKey:
    """One stored public key: who owns it (for people), and how to check and tag it."""

    kind: KeyKind
    owner_id: str  # shown to the operator
    bound_id: str  # what the tag covers as the owner (may add a key generation)
    public_key: bytes
    binding: bytes | None
    store: Callable[[bytes], None]


KeyLister = Callable[[Session], Iterable[StoredKey]]
_listers: list[KeyLister] = []


def register_key_lister(lister: KeyLister) -> None:
    """A feature's stored keys join the checks (partner organisations register theirs)."""
    if lister not in _listers:
        _listers.append(lister)


def tag_setter(row: object, column: str) -> Callable[[bytes], None]:
    """How `komma keys bind` stores a tag into a row's column."""

    def store(value: bytes) -> None:
        setattr(row, column, value)

    return store


def _core_keys(session: Session) -> Iterator[StoredKey]:
    for m in session.scalars(select(Municipality).order_by(Municipality.id)):
        if m.office_public_key is not None:
            yield StoredKey(
                OFFICE_KEY,
                m.id,
                m.id,
                m.office_public_key,
                m.office_key_binding,
                tag_setter(m, "office_key_binding"),
            )
        if m.recovery_public_key is not None:
            yield StoredKey(
                RECOVERY_KEY,
                m.id,
                m.id,
                m.recovery_public_key,
                m.recovery_key_binding,
                tag_setter(m, "recovery_key_binding"),
            )
    for a in session.scalars(select(Account).order_by(Account.id)):
        if len(a.public_key) != 32:
            continue  # an invited account before its holder set a password has no key yet
        yield StoredKey(
            ACCOUNT_KEY,
            a.id,
            a.id,
            a.public_key,
            a.public_key_binding,
            tag_setter(a, "public_key_binding"),
        )


def stored_keys(session: Session) -> Iterator[StoredKey]:
    yield from _core_keys(session)
    for lister in _listers:
        yield from lister(session)


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of checking every stored key: how many verify, which do not, which have no tag."""

    verified: int
    untagged: list[StoredKey]
    wrong: list[StoredKey]

    @property
    def ok(self) -> bool:
        return not self.untagged and not self.wrong


def check_keys(session: Session) -> KeyCheck:
    verified, untagged, wrong = 0, [], []
    for key in stored_keys(session):
        if key.binding is None:
            untagged.append(key)
        elif verifies(session, key.kind, key.bound_id, key.public_key, key.binding):
            verified += 1
        else:
            wrong.append(key)
    return KeyCheck(verified, untagged, wrong)


def bind_untagged(session: Session, *, rebind: bool = False) -> list[StoredKey]:
    """Tag every key that has no tag yet (after the upgrade that introduced tags); with `rebind`,
    also replace wrong tags (after a new binding key). Returns the keys tagged now.

    Whatever is in the database at that moment is vouched for: compare the fingerprints first.
    """
    tagged = []
    for key in list(stored_keys(session)):
        if key.binding is None or (
            rebind and not verifies(session, key.kind, key.bound_id, key.public_key, key.binding)
        ):
            key.store(tag(session, key.kind, key.bound_id, key.public_key))
            tagged.append(key)
    session.flush()
    return tagged


def fingerprint(public_key: bytes | None) -> str:
    """The key's fingerprint for people to compare ("" when there is no key)."""
    return crypto.fingerprint(public_key) if public_key is not None and len(public_key) == 32 else ""


@dataclass(frozen=True)
class KeyShown:
    """What a page shows of a key: its fingerprint, and whether the installation vouches for it."""

    fingerprint: str
    verified: bool


def shown(keyed: Keyed, kind: KeyKind, owner_id: str, public_key: bytes | None, binding: bytes | None) -> KeyShown:
    return KeyShown(fingerprint(public_key), verifies(keyed, kind, owner_id, public_key, binding))


def office_key_shown(session: Session, municipality: Municipality) -> KeyShown:
    return shown(session, OFFICE_KEY, municipality.id, municipality.office_public_key, municipality.office_key_binding)
