"""Deadlines of a case: acknowledgement (7 days), feedback (3 months), criminal complaint (s.77b).

Deadlines are Berlin calendar days: a report received at 00:30 Berlin time on 1 April (22:30 UTC
the day before) is due for acknowledgement on 8 April, whatever the UTC date and whether a clock
change lies in between. A deadline is met on its due day and overdue from the next day on.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from clearing.codes import COMPLAINT_OFFENCES
from core.clock import berlin_date, start_of_day

ACKNOWLEDGE_WITHIN = timedelta(days=7)
FEEDBACK_MONTHS = 3
COMPLAINT_MONTHS = 3


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's end (31 Jan + 1 month = 28/29 Feb), as s.188 BGB counts."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def acknowledgement_due(received_at: datetime) -> date:
    """Seven days after the Berlin day the report came in."""
    return berlin_date(received_at) + ACKNOWLEDGE_WITHIN


def feedback_due(received_at: datetime) -> date:
    """Three calendar months after the Berlin day the report came in."""
    return add_months(berlin_date(received_at), FEEDBACK_MONTHS)


def complaint_deadline(known_on: date | None, offences: list[str]) -> date | None:
    """Three months from knowledge of act and offender, for offences prosecuted only on complaint."""
    if known_on is None or not any(code in COMPLAINT_OFFENCES for code in offences):
        return None
    return add_months(known_on, COMPLAINT_MONTHS)


def overdue_limits(today: date) -> tuple[datetime, datetime]:
    """For a query: cases received before these instants (UTC) are overdue today (acknowledgement, feedback).

    The same day-counting rule as case_deadlines, so the inbox and the case page agree: overdue
    once the Berlin day `today` is past the due day. Each limit is the start of the first Berlin
    day whose reports are not overdue yet.
    """
    ack_before = today - ACKNOWLEDGE_WITHIN
    # Clamping to the month's end gives several received days the same due day: step to the first one not overdue.
    feedback_before = add_months(today, -FEEDBACK_MONTHS)
    while add_months(feedback_before, FEEDBACK_MONTHS) < today:
        feedback_before += timedelta(days=1)
    return start_of_day(ack_before), start_of_day(feedback_before)


@dataclass(frozen=True)
class Deadline:
    name: str
    due: date
    met: bool
    overdue: bool
    days_left: int


def case_deadlines(
    received_at: datetime, acknowledged_at: datetime | None, closed: bool, complaint_due: date | None, today: date
) -> list[Deadline]:
    ack = acknowledgement_due(received_at)
    feedback = feedback_due(received_at)
    items = [
        Deadline(
            "acknowledgement",
            ack,
            acknowledged_at is not None,
            acknowledged_at is None and today > ack,
            (ack - today).days,
        ),
        Deadline("feedback", feedback, closed, not closed and today > feedback, (feedback - today).days),
    ]
    if complaint_due:
        items.append(Deadline("complaint", complaint_due, False, today > complaint_due, (complaint_due - today).days))
    return items


def next_deadline(
    received_at: datetime,
    acknowledged_at: datetime | None,
    closed: bool,
    complaint_due: date | None,
    partner_due: datetime | None,
    today: date,
) -> Deadline | None:
    """The earliest deadline still to meet (a partner's answer included); none once the case is closed.

    A partner's answer is due at an instant; it counts here on the Berlin day of that instant.
    """
    if closed:
        return None
    pending = [d for d in case_deadlines(received_at, acknowledged_at, False, complaint_due, today) if not d.met]
    if partner_due is not None:
        due = berlin_date(partner_due)
        pending.append(Deadline("partner", due, False, today > due, (due - today).days))
    return min(pending, key=lambda d: d.due, default=None)
