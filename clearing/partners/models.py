"""Partner organisations, their key grants and the municipality's agreement versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, new_id, utcnow


class PartnerOrganisation(Base):
    """A partner of a municipality's alliance (counselling centre, police contact point, HR...)."""

    __tablename__ = "partner_organisation"
    __table_args__ = (UniqueConstraint("municipality_id", "key", name="uq_partner_organisation_municipality_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    municipality_id: Mapped[str] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"), index=True)
    # The name agreements use for it, e.g. "opferberatung".
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    notify_email: Mapped[str] = mapped_column(String(254), default="")
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The installation's HMAC over the public key, this organisation and its key generation (core.key_binding).
    public_key_binding: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # Raised when the coordinator issues a new organisation key; referrals remember theirs.
    key_generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartnerKeyGrant(Base):
    """The organisation's private key sealed to one of its partner users."""

    __tablename__ = "partner_key_grant"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partner_organisation.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)


class AgreementVersion(Base):
    """One version of a municipality's alliance agreements, as validated data."""

    __tablename__ = "agreement_version"
    __table_args__ = (UniqueConstraint("municipality_id", "version", name="uq_agreement_version_municipality_version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    municipality_id: Mapped[str] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    # The validated agreement (clearing.agreements.AgreementSpec as a dict): rules, never case data.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
