"""Deadlines count Berlin calendar days: across the clock changes of March and October, at month
ends, on the case page, in the inbox and in the reminders of the deadline scan.

A report received at 00:30 Berlin time is received on that Berlin day, although the UTC date is
still the day before; a deadline is met on its due day and overdue from the next Berlin day on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.cases.deadlines import (
    acknowledgement_due,
    add_months,
    case_deadlines,
    complaint_deadline,
    feedback_due,
    next_deadline,
    overdue_limits,
)
from clearing.cases.jobs import deadline_scan
from clearing.cases.models import Reminder
from clearing.cases.service import AssessmentInput, save_assessment
from core.app import state
from core.clock import BERLIN, FixedClock, at_berlin, start_of_day
from tests.factories import Person, Town, case_row, config_of, officer_staff, submit_case
from tests.web import logged_in_client, references_in

# (received, acknowledgement due): seven Berlin days on.
ACKNOWLEDGEMENTS = [
    (at_berlin(2026, 3, 25, 23, 30), date(2026, 4, 1)),  # across the spring change (29 March)
    (at_berlin(2026, 3, 22, 0, 30), date(2026, 3, 29)),  # 23:30 UTC on 21 March; due on the day of the change
    (at_berlin(2026, 3, 29, 1, 59), date(2026, 4, 5)),  # the last minute of winter time
    (at_berlin(2026, 3, 29, 3, 0), date(2026, 4, 5)),  # the first minute of summer time
    (at_berlin(2026, 10, 18, 23, 30), date(2026, 10, 25)),  # due on the day of the autumn change
    (at_berlin(2026, 10, 24, 23, 30), date(2026, 10, 31)),  # 21:30 UTC, across the autumn change
    (at_berlin(2026, 10, 25, 0, 30), date(2026, 11, 1)),  # 22:30 UTC on 24 October
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), date(2026, 11, 1)),  # 02:30 the second time (winter time)
    (at_berlin(2026, 1, 31, 23, 30), date(2026, 2, 7)),  # month end
    (at_berlin(2026, 2, 1, 0, 30), date(2026, 2, 8)),  # 23:30 UTC on 31 January
    (at_berlin(2025, 12, 31, 23, 30), date(2026, 1, 7)),  # year end
    (at_berlin(2026, 1, 1, 0, 30), date(2026, 1, 8)),  # 23:30 UTC on New Year's Eve
]

# (received, feedback due): three calendar months on, clamped to the month's end.
FEEDBACK = [
    (at_berlin(2026, 2, 1, 0, 30), date(2026, 5, 1)),  # 23:30 UTC on 31 January
    (at_berlin(2026, 1, 31, 12, 0), date(2026, 4, 30)),  # 31 January + 3 months = 30 April
    (at_berlin(2025, 11, 30, 23, 30), date(2026, 2, 28)),  # 30 November + 3 months = 28 February
    (at_berlin(2023, 11, 30, 12, 0), date(2024, 2, 29)),  # in a leap year, 29 February
    (at_berlin(2025, 12, 1, 0, 30), date(2026, 3, 1)),  # 23:30 UTC on 30 November
    (at_berlin(2026, 3, 29, 0, 30), date(2026, 6, 29)),  # the night of the spring change, 23:30 UTC the day before
    (at_berlin(2026, 4, 1, 0, 30), date(2026, 7, 1)),  # 22:30 UTC on 31 March
    (at_berlin(2026, 7, 25, 0, 30), date(2026, 10, 25)),  # due on the day of the autumn change
    (at_berlin(2026, 10, 25, 0, 30), date(2027, 1, 25)),  # the night of the autumn change, 22:30 UTC the day before
    (at_berlin(2026, 8, 31, 23, 30), date(2026, 11, 30)),  # 31 August + 3 months = 30 November
]


@pytest.mark.parametrize(("received", "due"), ACKNOWLEDGEMENTS)
def test_the_acknowledgement_is_due_seven_berlin_days_after_receipt(received: datetime, due: date) -> None:
    assert acknowledgement_due(received) == due
    ack = case_deadlines(received, None, False, None, due)[0]
    assert (ack.name, ack.due, ack.overdue, ack.days_left) == ("acknowledgement", due, False, 0)
    assert case_deadlines(received, None, False, None, due + timedelta(days=1))[0].overdue
    assert not case_deadlines(received, received, False, None, due + timedelta(days=1))[0].overdue


@pytest.mark.parametrize(("received", "due"), FEEDBACK)
def test_feedback_is_due_three_calendar_months_after_the_berlin_day_of_receipt(received: datetime, due: date) -> None:
    assert feedback_due(received) == due
    feedback = case_deadlines(received, received, False, None, due)[1]
    assert (feedback.name, feedback.due, feedback.overdue) == ("feedback", due, False)
    assert case_deadlines(received, received, False, None, due + timedelta(days=1))[1].overdue


def test_months_are_clamped_to_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2026, 5, 31), -3) == date(2026, 2, 28)


@pytest.mark.parametrize(
    ("known_on", "due"),
    [
        (date(2025, 11, 30), date(2026, 2, 28)),
        (date(2023, 11, 30), date(2024, 2, 29)),
        (date(2026, 1, 31), date(2026, 4, 30)),
        (date(2026, 3, 29), date(2026, 6, 29)),  # the day of the spring change
        (date(2026, 7, 25), date(2026, 10, 25)),  # due on the day of the autumn change
    ],
)
def test_the_complaint_deadline_is_three_months_from_the_day_of_knowledge(known_on: date, due: date) -> None:
    assert complaint_deadline(known_on, ["s241", "s185"]) == due
    assert complaint_deadline(known_on, ["s241"]) is None


def test_a_partners_answer_counts_on_the_berlin_day_it_is_due() -> None:
    received = at_berlin(2026, 4, 20, 10, 0)
    partner_due = datetime(2026, 4, 30, 22, 30, tzinfo=UTC)  # 00:30 on 1 May in Berlin
    deadline = next_deadline(received, received, False, None, partner_due, date(2026, 5, 1))
    assert deadline is not None
    assert (deadline.name, deadline.due, deadline.overdue) == ("partner", date(2026, 5, 1), False)


def test_the_inbox_limits_follow_the_berlin_day_counting_across_the_clock_changes() -> None:
    # Every day of 2026, reports received at the edges of Berlin days (and at the UTC midnights
    # inside them) 5 to 10 and 85 to 95 days before.
    edges = [time(0, 0), time(0, 30), time(1, 0), time(23, 30), time(23, 59, 59)]
    for today in (date(2026, 1, 1) + timedelta(days=n) for n in range(365)):
        ack_limit, feedback_limit = overdue_limits(today)
        for days_ago in [*range(5, 11), *range(85, 96)]:
            day = today - timedelta(days=days_ago)
            for at in edges:
                received = datetime.combine(day, at, BERLIN).astimezone(UTC)
                ack, feedback = case_deadlines(received, None, False, None, today)
                assert (received < ack_limit) == ack.overdue, (today, received)
                assert (received < feedback_limit) == feedback.overdue, (today, received)
            utc_midnight = datetime.combine(day, time.min, UTC)
            ack, feedback = case_deadlines(utc_midnight, None, False, None, today)
            assert (utc_midnight < ack_limit) == ack.overdue, (today, utc_midnight)
            assert (utc_midnight < feedback_limit) == feedback.overdue, (today, utc_midnight)
        assert ack_limit == start_of_day(today - timedelta(days=7))


# Through the app: its clock decides "today" on the case page, in the inbox and in the scan ---------


@pytest.fixture
def clock(app: Flask) -> FixedClock:
    """The app's clock, standing still; each test sets it where it needs it."""
    fixed = FixedClock(at_berlin(2026, 1, 1, 12, 0))
    state(app).clock = fixed
    return fixed


def _case(app: Flask, session: Session, town: Town, received_at: datetime, acknowledged: bool = False) -> str:
    submitted = submit_case(session, config_of(app), town)
    row = case_row(session, submitted.id)
    row.received_at = row.status_changed_at = received_at
    row.acknowledged_at = received_at if acknowledged else None
    session.commit()
    return submitted.id


def _reminders(session: Session, case_id: str) -> list[tuple[str, date | None]]:
    session.expire_all()
    rows = session.scalars(select(Reminder).where(Reminder.case_id == case_id).order_by(Reminder.kind))
    return [(r.kind, r.due_on) for r in rows]


def _scan(app: Flask) -> None:
    """The scheduled deadline scan, as the worker runs it (the app's clock, its own transaction)."""
    with app.app_context():
        deadline_scan()


def test_the_case_page_and_the_inbox_turn_overdue_at_berlin_midnight(
    app: Flask, session: Session, clock: FixedClock, town_a: Town, officer_a: Person
) -> None:
    received = at_berlin(2026, 3, 25, 23, 30)  # due 1 April, after the clocks went forward
    case_id = _case(app, session, town_a, received)
    reference = case_row(session, case_id).reference
    client = logged_in_client(app, officer_a)
    for instant, overdue in [
        (at_berlin(2026, 4, 1, 0, 1), False),  # 22:01 UTC on 31 March
        (at_berlin(2026, 4, 1, 23, 59), False),  # the last minute of the due day
        (at_berlin(2026, 4, 2, 0, 1), True),  # 22:01 UTC on 1 April: still the due day by the UTC date
    ]:
        clock.set(instant)
        case_page = client.get(f"/clearing/fall/{case_id}").get_data(as_text=True)
        assert ("deadline-overdue" in case_page) == overdue, instant
        assert "01.04.2026 –" in case_page  # the acknowledgement's due day as the page shows it
        assert (reference in references_in(client.get("/clearing/?overdue=y").get_data(as_text=True))) == overdue


def test_the_acknowledgement_is_reminded_from_the_berlin_day_before_it_is_due(
    app: Flask, session: Session, clock: FixedClock, town_a: Town
) -> None:
    case_id = _case(app, session, town_a, at_berlin(2026, 3, 25, 23, 30))  # due 1 April
    clock.set(at_berlin(2026, 3, 30, 23, 59))
    _scan(app)
    assert _reminders(session, case_id) == []
    clock.set(at_berlin(2026, 3, 31, 0, 1))  # 22:01 UTC on 30 March
    _scan(app)
    assert _reminders(session, case_id) == [("acknowledgement", date(2026, 4, 1))]
    clock.advance(timedelta(days=3))
    _scan(app)
    assert _reminders(session, case_id) == [("acknowledgement", date(2026, 4, 1))]  # once


def test_feedback_is_reminded_a_week_before_its_berlin_due_day(
    app: Flask, session: Session, clock: FixedClock, town_a: Town
) -> None:
    # 22:30 UTC on 31 May: received on 1 June in Berlin, feedback due on 1 September.
    case_id = _case(app, session, town_a, at_berlin(2026, 6, 1, 0, 30), acknowledged=True)
    clock.set(at_berlin(2026, 8, 24, 23, 59))
    _scan(app)
    assert _reminders(session, case_id) == []
    clock.set(at_berlin(2026, 8, 25, 0, 1))
    _scan(app)
    assert _reminders(session, case_id) == [("feedback", date(2026, 9, 1))]


def test_the_complaint_deadline_is_reminded_two_weeks_before_across_the_autumn_change(
    app: Flask, session: Session, clock: FixedClock, town_a: Town, officer_a: Person
) -> None:
    case_id = _case(app, session, town_a, at_berlin(2026, 8, 3, 10, 0), acknowledged=True)
    officer = officer_staff(session, town_a, officer_a)
    known_on = date(2026, 8, 8)  # the deadline: 8 November, reminded from 25 October, the day of the change
    save_assessment(
        session,
        officer,
        case_row(session, case_id),
        AssessmentInput("normal", 1, ["insult_defamation"], [], ["s185"], None, False, False, known_on, ""),
    )
    session.commit()
    clock.set(at_berlin(2026, 10, 24, 23, 59))
    _scan(app)
    assert _reminders(session, case_id) == []
    clock.set(at_berlin(2026, 10, 25, 0, 1))  # 22:01 UTC on 24 October
    _scan(app)
    assert _reminders(session, case_id) == [("complaint", date(2026, 11, 8))]
