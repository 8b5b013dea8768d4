"""Notification addresses (a staff member's own, an office's shared mailbox), each confirmed by a single-use link.

A new address waits in an EmailConfirmation until the link mailed to it is opened; until then the
old address (or none) stays. The link carries a random token; only its hash is stored, and the
token itself only in a box under the secret key until the mail job has sent it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from blinker import Namespace
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

import crypto
from core import throttle
from core.config import Config
from core.db import utcnow
from core.models import Account, EmailConfirmation, Municipality
from workers.outbox import add_job

CONFIRMATION_VALID = timedelta(hours=24)
# Confirmation mails one person may trigger per hour: the form must not become a way to flood a mailbox.
REQUESTS_PER_HOUR = 5
MAX_ADDRESS_LENGTH = 254
# One ASCII address, no display name, no list: what may go into a To: header as it is.
ADDRESS_RE = re.compile(r"^[^@\s<>\"'(),;:\\\[\]]+@[^@\s<>\"'(),;:\\\[\]]+\.[^@\s<>\"'(),;:\\\[\].]+$")
BOX_PURPOSE = "email-confirmation"
SEND_JOB = "send_address_confirmation"

# Sent with an AddressChange whenever an address is requested, confirmed or removed. clearing
# records it in the audit chain (core cannot import clearing; clearing.office connects to it).
signals = Namespace()
address_changed = signals.signal("komma.address-changed")


class AddressRefused(ValueError):
    """The address cannot be used now; `reason` is "invalid", "too_many" or "no_mail" (no SMTP configured)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LinkInvalid(Exception):
    """A confirmation link that does not (or no longer) work; `reason` is "unknown", "used" or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AddressChange:
    """What the audit chain records: who changed whose address how. Never the address."""

    action: str  # email.requested | email.confirmed | email.removed
    chain: str | None  # the municipality, or None for the network
    actor_id: str | None
    actor_role: str
    target_id: str
    target_kind: str  # account | office


def normalise(address: str) -> str:
    """The address as it will be stored, or AddressRefused("invalid")."""
    address = (address or "").strip()
    if len(address) > MAX_ADDRESS_LENGTH or not address.isascii() or not ADDRESS_RE.fullmatch(address):
        raise AddressRefused("invalid")
    return address


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _box_key(config: Config) -> bytes:
    return crypto.derive_subkey(config.secret_key.encode(), "email-confirmation-tokens")


def _emit(session: Session, change: AddressChange) -> None:
    address_changed.send(session, change=change)


def _target_filter(account: Account | None, municipality: Municipality | None) -> ColumnElement[bool]:
    if (account is None) == (municipality is None):
        raise ValueError("exactly one of account and municipality")
    if account is not None:
        return EmailConfirmation.account_id == account.id
    if municipality is None:  # excluded above; says so to the type checker
        raise ValueError("exactly one of account and municipality")
    return EmailConfirmation.municipality_id == municipality.id


def request_confirmation(
    session: Session,
    config: Config,
    address: str,
    *,
    actor: Account,
    account: Account | None = None,
    municipality: Municipality | None = None,
) -> EmailConfirmation:
    """A pending address for the account or the office, and its confirmation mail queued. Flushes only."""
    address = normalise(address)
    target = _target_filter(account, municipality)
    if not config.smtp_url:
        raise AddressRefused("no_mail")  # the link could never arrive
    if not throttle.spend(session, f"email-confirm:{actor.id}", timedelta(hours=1), REQUESTS_PER_HOUR):
        raise AddressRefused("too_many")
    # One row per target: a newer request replaces an older one, whose link stops working.
    session.execute(delete(EmailConfirmation).where(target))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = EmailConfirmation(
        token_hash=_token_hash(token),
        account_id=account.id if account else None,
        municipality_id=municipality.id if municipality else None,
        requested_by=actor.id,
        address=address,
        created_at=now,
        expires_at=now + CONFIRMATION_VALID,
    )
    session.add(row)
    session.flush()
    row.token_box = crypto.box_encrypt(_box_key(config), token.encode(), purpose=BOX_PURPOSE, record_id=row.id)
    add_job(session, SEND_JOB, confirmation_id=row.id)
    _emit(session, _change("email.requested", actor, account, municipality))
    return row


def _change(action: str, actor: Account, account: Account | None, municipality: Municipality | None) -> AddressChange:
    if account is not None:
        return AddressChange(action, account.municipality_id, actor.id, actor.role, account.id, "account")
    if municipality is None:
        raise ValueError("an account or a municipality")
    return AddressChange(action, municipality.id, actor.id, actor.role, municipality.id, "office")


def pending(
    session: Session, *, account: Account | None = None, municipality: Municipality | None = None
) -> EmailConfirmation | None:
    """The address waiting for its link, if one is still valid."""
    return session.scalar(
        select(EmailConfirmation)
        .where(
            _target_filter(account, municipality),
            EmailConfirmation.confirmed_at.is_(None),
            EmailConfirmation.expires_at > utcnow(),
        )
        .order_by(EmailConfirmation.created_at.desc())
        .limit(1)
    )


def token_to_send(config: Config, row: EmailConfirmation) -> str | None:
    """The link's token for the mail job; None once it was sent, used or has expired."""
    if row.token_box is None or row.confirmed_at is not None or row.expires_at <= utcnow():
        return None
    return crypto.box_decrypt(_box_key(config), row.token_box, purpose=BOX_PURPOSE, record_id=row.id).decode()


def forget_token(row: EmailConfirmation) -> None:
    """After the mail: only the hash is left, nothing in the database can make the link again."""
    row.token_box = None


def check_link(session: Session, token: str) -> EmailConfirmation:
    """The pending address the link confirms, or LinkInvalid. Changes nothing."""
    if not token or len(token) > 100:
        raise LinkInvalid("unknown")
    row = session.scalar(select(EmailConfirmation).where(EmailConfirmation.token_hash == _token_hash(token)))
    if row is None:
        raise LinkInvalid("unknown")
    if row.confirmed_at is not None:
        raise LinkInvalid("used")
    if row.expires_at <= utcnow():
        raise LinkInvalid("expired")
    return row


def confirm(session: Session, token: str) -> EmailConfirmation:
    """Open the link: the pending address becomes the account's or office's. Single use. Flushes only."""
    row = check_link(session, token)
    # Locked, so two clicks at once confirm once.
    session.refresh(row, with_for_update=True)
    if row.confirmed_at is not None:
        raise LinkInvalid("used")
    account = session.get(Account, row.account_id) if row.account_id else None
    municipality = session.get(Municipality, row.municipality_id) if row.municipality_id else None
    if account is not None and account.active:
        account.email = row.address
        change = _change("email.confirmed", account, account, None)
    elif municipality is not None:
        municipality.notify_email = row.address
        # The coordinator who asked for it is the actor: whoever reads the shared mailbox only confirms it.
        requester = session.get(Account, row.requested_by) if row.requested_by else None
        change = AddressChange(
            "email.confirmed",
            municipality.id,
            requester.id if requester else None,
            requester.role if requester else "coordinator",
            municipality.id,
            "office",
        )
    else:
        raise LinkInvalid("unknown")
    row.confirmed_at = utcnow()
    row.token_box = None
    session.flush()
    _emit(session, change)
    return row


def remove(
    session: Session, *, actor: Account, account: Account | None = None, municipality: Municipality | None = None
) -> None:
    """No address any more (and no pending one): nothing is mailed to this target from now on."""
    session.execute(delete(EmailConfirmation).where(_target_filter(account, municipality)))
    if account is not None:
        account.email = ""
    elif municipality is not None:
        municipality.notify_email = ""
    session.flush()
    _emit(session, _change("email.removed", actor, account, municipality))
