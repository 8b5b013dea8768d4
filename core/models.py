"""Tenants and installation-wide settings."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String, select
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
