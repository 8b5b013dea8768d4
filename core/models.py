"""The core tables: municipalities, the installation, accounts, their invitations and e-mail confirmations, office key grants, secret sessions, throttle windows, the mail log."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, false, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime, new_id, utcnow


class Municipality(Base):
    """A tenant: a municipality with its own clearing office, office key and agreements."""

    __tablename__ = "municipality"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    accepts_reports: Mapped[bool] = mapped_column(Boolean, default=True)
    # The office key pair: public part in clear, private part sealed to officers (clearing issue).
    office_public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # The installation's HMAC over the office public key and this municipality (core.key_binding).
    office_key_binding: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # The public half of the offline recovery key, so a rotation can seal each new office key to it
    # without its holder. Empty for municipalities created before migration 0013 until the recovery
    # key is next used (core.custody.office_key_from_recovery stores it then).
    recovery_public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # The installation's HMAC over the recovery public key and this municipality (core.key_binding).
    recovery_key_binding: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    retention_years: Mapped[int] = mapped_column(Integer, default=3)
    # A reporter-facing description of who reads reports; set by the coordinator.
    office_name: Mapped[str] = mapped_column(String(200), default="")
    # Statistics: published to the network only when opted in; cells under the threshold suppressed.
    statistics_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    network_role: Mapped[str] = mapped_column(String(12), default="platform")  # model | platform
    # Its own choice of suppression threshold; None (the rule): the statistics' policy applies.
    statistics_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Where "a new report is waiting" goes; never receives content.
    notify_email: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Installation(Base):
    """Installation-wide values that must never change once reports exist (one row)."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt_salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def receipt_salt(session: Session) -> bytes:
    """The installation's receipt salt. `komma db upgrade` creates it (migration 0007); where
    it is missing (tables emptied), the first use creates it, and of several first uses at
    once one wins and the others read its salt instead of failing on the primary key."""
    row = session.get(Installation, 1)
    if row is None:
        try:
            with session.begin_nested():
                session.add(Installation(id=1, receipt_salt=secrets.token_bytes(32)))
        except IntegrityError:
            pass
        row = session.scalars(
            select(Installation).where(Installation.id == 1).execution_options(populate_existing=True)
        ).one()
    return row.receipt_salt


def municipalities_accepting_reports(session: Session) -> list[Municipality]:
    query = select(Municipality).where(Municipality.accepts_reports.is_(True)).order_by(Municipality.name)
    return list(session.scalars(query))


class Account(Base):
    __tablename__ = "account"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Empty for the network operator, who belongs to no municipality.
    municipality_id: Mapped[str | None] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # Partner users belong to one partner organisation of their municipality.
    partner_id: Mapped[str | None] = mapped_column(
        ForeignKey("partner_organisation.id", ondelete="CASCADE"), index=True
    )
    login: Mapped[str] = mapped_column(String(120), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The installation's HMAC over the public key and this account (core.key_binding).
    public_key_binding: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The TOTP secret in a box under a key derived from the app's secret key.
    totp_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_totp_step: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Invited and not yet taken up: no password, no key pair, no TOTP secret until the holder
    # opens the invitation link (core.invitations); until then nothing can log in with it.
    invited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountInvitation(Base):
    """The single-use link with which a new account's holder sets their own password and TOTP.

    Only the token's hash finds the row; the token itself is shown once to whoever invited.
    """

    __tablename__ = "account_invitation"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """Failed logins of a name that opens no account, counted like an account's (key: a keyed hash of the name)."""

    __tablename__ = "login_failure"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class EmailConfirmation(Base):
    """A notification address waiting for its link to be opened: an account's own, or an office's.

    Only the token's hash finds the row. The token itself sits in a box under the secret key just
    until the mail job has sent it. The address becomes the target's only once the link is opened.
    """

    __tablename__ = "email_confirmation"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    token_box: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Exactly one target: a staff member's own address, or the office's shared mailbox.
    account_id: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    municipality_id: Mapped[str | None] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    address: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailDelivery(Base):
    __tablename__ = "mail_delivery"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SecretSession(Base):
    __tablename__ = "secret_session"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    idle_seconds: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class OfficeKeyGrant(Base):
    """The municipality's office private key sealed to one holder: an officer or the recovery key."""

    __tablename__ = "office_key_grant"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    municipality_id: Mapped[str] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"), index=True)
    # "recovery" for the offline key, else an account id (accounts come with the clearing office).
    holder: Mapped[str] = mapped_column(String(32))
    # Which office key (OfficeKeyEpoch.epoch); a rotation grants the new one and deletes the old grants.
    epoch: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)


class OfficeKeyEpoch(Base):
    """One office key pair of a municipality. Rotation starts a new epoch; new cases seal to the newest.

    An older epoch's private key is kept only sealed to the current epoch's public key (rewrapped at
    each rotation), so whoever holds the current key reaches every older one that still has cases,
    and nobody who lost the current key reaches a newer one. When its last case is purged, that one
    wrap is deleted (destroyed_at): from then on no copy of the database made later can open it.
    """

    __tablename__ = "office_key_epoch"

    municipality_id: Mapped[str] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Retired epochs only: the private key sealed to the current epoch (purpose "office-key-epoch").
    sealed_to_current: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set (current epoch) when an officer leaves: the next officer holding the key rotates it.
    rotation_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ThrottleWindow(Base):
    __tablename__ = "throttle_window"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
