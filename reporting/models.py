"""A case as stored: clear metadata for triage and statistics, everything a person wrote as ciphertext."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, new_id, utcnow


class Case(Base):
    """One report. Clear columns are exactly those ARCHITECTURE.md allows; the rest is sealed."""

    __tablename__ = "report_case"
    # The inbox's two ways in: by status, and in date order. Each also holds (PostgreSQL INCLUDE)
    # every other column the inbox filters or sorts on, so counts and the page's ids are answered
    # from the index alone and never read the wide rows with their ciphertext.
    __table_args__ = (
        Index(
            "ix_report_case_inbox",
            "municipality_id",
            "status",
            "received_at",
            postgresql_include=["id", "urgency", "assigned_to", "acknowledged_at"],
        ),
        Index(
            "ix_report_case_received",
            "municipality_id",
            "received_at",
            postgresql_include=["id", "status", "urgency", "assigned_to", "acknowledged_at"],
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    municipality_id: Mapped[str] = mapped_column(ForeignKey("municipality.id", ondelete="RESTRICT"))
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(24), default="received")
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    urgency: Mapped[str] = mapped_column(String(12), default="normal")
    # Arrived while the municipality's intake was flooded (reporting.flood): officers sort such
    # reports in bulk. Says nothing about the reporter or their device, only about the hour.
    flood_marked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    affected_role: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    incident_month: Mapped[str | None] = mapped_column(String(7))
    perpetrator_context: Mapped[str] = mapped_column(String(32), default="unknown")
    # One column per consent of reporting.content.CONSENTS, named by its field_name.
    consent_counselling: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_police: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_employer: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_prosecutor: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_statistics: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_no_forwarding: Mapped[bool] = mapped_column(Boolean, default=False)
    deletion_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The reporter's address for "a message is waiting", only if they asked for mail: a box under
    # a key derived from the server secret, because the worker must read it without an office key.
    reporter_notify_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # First message of the clearing office to the reporter: the 7-day acknowledgement is met.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The clearing officer in charge (clearing office); not about the reporter.
    assigned_to: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"), index=True)
    # The case key sealed to the municipality's office key (HPKE, purpose "case-key").
    sealed_case_key: Mapped[bytes] = mapped_column(LargeBinary)
    # Which office key the case key is sealed to (core.models.OfficeKeyEpoch.epoch).
    office_key_epoch: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The report itself: JSON of every field, in a secret box under the case key.
    report_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)

    codes: Mapped[list[CaseCode]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    def consent(self, name: str) -> bool:
        value: bool = getattr(self, f"consent_{name}")
        return value


class CaseCode(Base):
    """Several-valued clear codes of a case: incident types and motives."""

    __tablename__ = "case_code"
    # The inbox's filter by incident type or motive: the matching case ids from the index alone.
    __table_args__ = (Index("ix_case_code_lookup", "kind", "code", "case_id"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # incident_type | motive
    code: Mapped[str] = mapped_column(String(32), primary_key=True)


class ReporterAccess(Base):
    """The reporter's way in: the lookup id from the receipt code and the case key under the reporter key."""

    __tablename__ = "reporter_access"

    lookup_id: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), unique=True)
    wrapped_case_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The Argon2 parameters the lookup id and reporter key were derived with (Argon2Params.encode):
    # a code made under older parameters still opens, and is renewed then.
    kdf_params: Mapped[str] = mapped_column(String(40), index=True)


class Attachment(Base):
    """An evidence file: content as an encrypted stream, name and type in an encrypted box."""

    __tablename__ = "attachment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("case_message.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    meta_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    content_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # How the ciphertexts are bound (reporting.case_crypto): 2 = to case, message and id; 1 = rows
    # from before migration 0012, bound to their id only.
    crypto_format: Mapped[int] = mapped_column(SmallInteger, default=2, server_default="2")


class CaseMessage(Base):
    """A message between the reporter and the clearing office, under the case key."""

    __tablename__ = "case_message"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(12))  # reporter | office
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # 2: purpose "case-message", bound to case, id and author; 1: before migration 0012 (shared purpose).
    crypto_format: Mapped[int] = mapped_column(SmallInteger, default=2, server_default="2")


class CaseEvent(Base):
    """The case's timeline in clear: what happened when, never content (status words for the mailbox)."""

    __tablename__ = "case_event"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    # A code, never free text: a consent name, a status, a partner kind.
    detail: Mapped[str | None] = mapped_column(String(32))


class SpentChallenge(Base):
    """A proof-of-work challenge already used (reporting.challenge): each buys one request.

    Kept until the challenge expires anyway; the digest of its nonce, nothing about who solved it.
    """

    __tablename__ = "spent_challenge"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    # When it was used: how many were used in the last minute sets the difficulty.
    spent_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
