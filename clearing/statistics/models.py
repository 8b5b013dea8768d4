"""Statistics tables: the rollup of purged cases, the live counts and the refresh marker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class _StatisticsCounts:
    """A count per municipality, month, dimension and code: never a case id."""

    municipality_id: Mapped[str] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(24), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class StatisticsRollup(_StatisticsCounts, Base):
    """Counts kept when cases are purged, so the statistics do not change with the retention purge."""

    __tablename__ = "statistics_rollup"


class StatisticsLive(_StatisticsCounts, Base):
    """Counts of the cases that exist now, recomputed by the statistics job."""

    __tablename__ = "statistics_live"


class StatisticsRefresh(Base):
    __tablename__ = "statistics_refresh"

    municipality_id: Mapped[str] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"), primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
