"""A referral to a partner, its files and the partner's updates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, new_id, utcnow


class Referral(Base):
    """A packet for one partner: only the consented fields, under a referral key."""

    __tablename__ = "referral"
    __table_args__ = (Index("ix_referral_partner_state", "partner_id", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partner_organisation.id", ondelete="CASCADE"))
    agreement_version: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    # The consent this referral depends on (withdrawing it cancels or withdraws the referral).
    required_consent: Mapped[str | None] = mapped_column(String(24))
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    four_eyes: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(24), default="awaiting_approval")
    outcome: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    approved_by: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    key_generation: Mapped[int] = mapped_column(Integer, default=1)
    # Keys and packet; all three are deleted when the referral is cancelled (crypto-shredding).
    sealed_key_partner: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_key_office: Mapped[bytes | None] = mapped_column(LargeBinary)
    packet_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)


class ReferralFile(Base):
    """A file chosen for a referral, re-encrypted under the referral key."""

    __tablename__ = "referral_file"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    meta_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    content_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)


class ReferralUpdate(Base):
    """A state change or feedback from the partner (text under the referral key)."""

    __tablename__ = "referral_update"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    state: Mapped[str | None] = mapped_column(String(24))
    outcome: Mapped[str | None] = mapped_column(String(32))
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
