"""Tables of the clearing work on a case: assessment, its codes, internal notes, reminders."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, new_id, utcnow


class Assessment(Base):
    """The officer's assessment. Codes feed triage and statistics; the reasoning is ciphertext."""

    __tablename__ = "assessment"

    case_id: Mapped[str] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), primary_key=True)
    urgency: Mapped[str] = mapped_column(String(12))
    escalation_level: Mapped[int] = mapped_column(Integer)
    phenomenon_area: Mapped[str | None] = mapped_column(String(24))
    employer_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    case_conference: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the affected person learnt of the act and the offender: starts the s.77b period.
    known_on: Mapped[date | None] = mapped_column(Date)
    complaint_deadline: Mapped[date | None] = mapped_column(Date)
    notes_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # 2: purpose "assessment-note"; 1: before migration 0012 (the purpose messages had).
    notes_format: Mapped[int] = mapped_column(SmallInteger, default=2, server_default="2")
    assessed_by: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    codes: Mapped[list[AssessmentCode]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    def codes_of(self, kind: str) -> list[str]:
        return [c.code for c in self.codes if c.kind == kind]


class AssessmentCode(Base):
    """Confirmed incident types, motives and likely offences (these feed the statistics)."""

    __tablename__ = "assessment_code"

    case_id: Mapped[str] = mapped_column(ForeignKey("assessment.case_id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # incident_type | motive | offence
    code: Mapped[str] = mapped_column(String(32), primary_key=True)


class CaseNote(Base):
    """An internal note of the clearing office, under the case key."""

    __tablename__ = "case_note"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # 2: purpose "internal-note", bound to case and id; 1: before migration 0012 (the purpose messages had).
    crypto_format: Mapped[int] = mapped_column(SmallInteger, default=2, server_default="2")


class Reminder(Base):
    """A deadline or alert on the officers' dashboard, created by the hourly scan (once each)."""

    __tablename__ = "reminder"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    municipality_id: Mapped[str] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("report_case.id", ondelete="CASCADE"), index=True)
    referral_id: Mapped[str | None] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    due_on: Mapped[date | None] = mapped_column(Date)
    # kind + ids + due date: running the scan twice creates nothing new.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
