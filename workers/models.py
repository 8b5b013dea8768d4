"""The outbox: one row per job, written in the transaction of the change that causes it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, new_id, utcnow


class OutboxEntry(Base):
    """A job to run after commit: its registered name and the ids it works on, never content."""

    __tablename__ = "outbox"
    # The relay looks for rows not completed whose dispatch is missing or old.
    __table_args__ = (Index("ix_outbox_pending", "completed_at", "dispatched_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job: Mapped[str] = mapped_column(String(64))
    # Keyword arguments of the handler: str ids or ints only (workers.outbox refuses the rest).
    args: Mapped[dict[str, str | int]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When handed to RQ or run inline; the relay re-sends rows whose dispatch got lost.
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set in the same transaction as the handler's writes, so a job is done exactly when this is.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Failed runs of the handler; at MAX_ATTEMPTS the entry gives up (failed_at) for an operator.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An exception class name only: a message could quote what a person wrote.
    last_error: Mapped[str | None] = mapped_column(String(200))
