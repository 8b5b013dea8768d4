"""Invitations: the holder of a new account sets their own password and TOTP through a single-use link.

Whoever creates an account (a coordinator, `komma account add`) gets a link once and passes it
on. Until the link is opened the account has no password, no key pair and no TOTP secret, so its
creator never sees a credential and cannot log in as the holder. Only the hash of the link's
token is stored; the link expires and works once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from blinker import Namespace
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import throttle
from core.accounts import AccountError, create_invited_account, set_credentials
from core.config import Config
from core.db import utcnow
from core.models import Account, AccountInvitation

INVITATION_VALID = timedelta(hours=72)
# Password attempts per link and hour: each accepted one costs two Argon2 runs.
ACCEPT_ATTEMPTS_PER_HOUR = 10
LINK_PATH = "/einladung/"
MAX_TOKEN_LENGTH = 100

# Sent with account= when a holder has taken up their account (clearing issues the partner
# organisation's key to a first user then, and records it in the audit chain).
signals = Namespace()
invitation_accepted = signals.signal("komma.invitation-accepted")


class InvitationInvalid(Exception):
    """The link is unknown, used or expired: one answer for all three, so the link reveals nothing."""


class TooManyAttempts(Exception):
    """Too many password attempts with this link within the hour."""


@dataclass(frozen=True)
class NewInvitation:
    """The invited account and its link's token, to be shown (or printed) once and passed on."""

    account: Account
    token: str


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def link(base_url: str, token: str) -> str:
    """The address the holder opens."""
    return base_url.rstrip("/") + LINK_PATH + token


def invite(
    session: Session,
    *,
    login: str,
    role: str,
    municipality_id: str | None,
    display_name: str = "",
    partner_id: str | None = None,
) -> NewInvitation:
    """A new account without credentials, and its link. Raises AccountError like create_account. Flushes only."""
    account = create_invited_account(
        session,
        login=login,
        role=role,
        municipality_id=municipality_id,
        display_name=display_name,
        partner_id=partner_id,
    )
    return NewInvitation(account, renew(session, account))


def renew(session: Session, account: Account) -> str:
    """A new link for an account not taken up yet; any older link stops working. Flushes only."""
    if not account.invited:
        raise AccountError("the account has been taken up already")
    session.execute(delete(AccountInvitation).where(AccountInvitation.account_id == account.id))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AccountInvitation(
            token_hash=_token_hash(token), account_id=account.id, created_at=now, expires_at=now + INVITATION_VALID
        )
    )
    session.flush()
    return token


def open_until(session: Session, account_ids: list[str]) -> dict[str, datetime]:
    """Until when the link of each of these accounts works (accounts whose link expired or was used are missing)."""
    if not account_ids:
        return {}
    rows = session.execute(
        select(AccountInvitation.account_id, AccountInvitation.expires_at).where(
            AccountInvitation.account_id.in_(account_ids),
            AccountInvitation.used_at.is_(None),
            AccountInvitation.expires_at > utcnow(),
        )
    )
    return {row.account_id: row.expires_at for row in rows}


def _valid(session: Session, token: str) -> tuple[AccountInvitation, Account]:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvitationInvalid
    row = session.scalar(select(AccountInvitation).where(AccountInvitation.token_hash == _token_hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise InvitationInvalid
    account = session.get(Account, row.account_id)
    if account is None or not account.invited or not account.active:
        raise InvitationInvalid
    return row, account


def check(session: Session, token: str) -> Account:
    """The account a link invites to, or InvitationInvalid. Changes nothing (a mail scanner may open it)."""
    return _valid(session, token)[1]


def count_attempt(session: Session, token: str) -> None:
    """One password attempt with this link, or TooManyAttempts once the hour's budget is spent."""
    key = "invitation:" + _token_hash(token).hex()[:40]
    if not throttle.spend(session, key, timedelta(hours=1), ACCEPT_ATTEMPTS_PER_HOUR):
        raise TooManyAttempts


def accept(session: Session, config: Config, token: str, password: str) -> tuple[Account, bytes]:
    """The holder's own password: the account gets its key pair (under it) and a TOTP secret; the link is used up.

    Returns the account and its private key, so the TOTP enrolment can follow as the login's
    second step. Raises InvitationInvalid, or AccountError for a weak password (the link stays
    valid then). Flushes only.
    """
    row, account = _valid(session, token)
    # Locked, so two submissions at once take up the account once.
    session.refresh(row, with_for_update=True)
    if row.used_at is not None:
        raise InvitationInvalid
    private_key, _secret = set_credentials(config, account, password)
    account.invited = False
    account.totp_confirmed = False
    row.used_at = utcnow()
    session.flush()
    invitation_accepted.send(session, account=account)
    return account, private_key
