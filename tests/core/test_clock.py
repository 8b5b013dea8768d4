"""The one clock: UTC instants, Berlin days, and a clock a test can set."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core import create_app
from core.app import state
from core.clock import BERLIN, FixedClock, SystemClock, at_berlin, berlin_date, berlin_month, start_of_day
from core.config import Config


def test_a_fixed_clock_stands_where_it_is_set_and_tells_the_berlin_day() -> None:
    clock = FixedClock(datetime(2024, 12, 31, 23, 30, tzinfo=UTC))  # 00:30 on New Year's Day in Berlin
    assert clock.now() == datetime(2024, 12, 31, 23, 30, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.today() == date(2025, 1, 1)
    clock.advance(timedelta(hours=-1))
    assert clock.today() == date(2024, 12, 31)
    clock.set(datetime(2025, 3, 31, 23, 30, tzinfo=BERLIN))
    assert clock.now() == datetime(2025, 3, 31, 21, 30, tzinfo=UTC)
    assert clock.today() == date(2025, 3, 31)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        FixedClock(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        FixedClock(datetime(2025, 1, 1, tzinfo=UTC)).set(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        berlin_date(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        berlin_month(datetime(2025, 1, 1))


def test_the_system_clock_is_utc_now() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)
    assert SystemClock().today() in (berlin_date(before), berlin_date(datetime.now(UTC)))


@pytest.mark.parametrize(
    ("day", "starts_at"),
    [
        (date(2025, 1, 1), datetime(2024, 12, 31, 23, 0, tzinfo=UTC)),  # winter time, +1
        (date(2025, 7, 1), datetime(2025, 6, 30, 22, 0, tzinfo=UTC)),  # summer time, +2
        (date(2026, 3, 29), datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),  # the clocks go forward at 02:00
        (date(2026, 3, 30), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
        (date(2026, 10, 25), datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),  # the clocks go back at 03:00
        (date(2026, 10, 26), datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
    ],
)
def test_a_berlin_day_starts_at_its_midnight(day: date, starts_at: datetime) -> None:
    assert start_of_day(day) == starts_at
    assert berlin_date(starts_at) == day
    assert berlin_date(starts_at - timedelta(microseconds=1)) == day - timedelta(days=1)


def test_berlin_wall_clock_times_and_months() -> None:
    assert at_berlin(2025, 4, 1, 0, 30) == datetime(2025, 3, 31, 22, 30, tzinfo=UTC)
    assert at_berlin(2025, 2, 1, 0, 30) == datetime(2025, 1, 31, 23, 30, tzinfo=UTC)
    assert berlin_month(at_berlin(2025, 4, 1, 0, 30)) == "2025-04"
    assert berlin_month(datetime(2025, 3, 31, 21, 59, tzinfo=UTC)) == "2025-03"
    # October repeats 02:00-03:00; a wall-clock time there means the first (summer) one.
    assert at_berlin(2026, 10, 25, 2, 30) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_the_app_holds_one_clock_a_test_can_bring(app_config: Config) -> None:
    clock = FixedClock(at_berlin(2025, 1, 1, 0, 30))
    app = create_app(app_config, clock=clock)
    try:
        assert state(app).clock is clock
    finally:
        state(app).engine.dispose()
    default = create_app(app_config)
    try:
        assert isinstance(state(default).clock, SystemClock)
    finally:
        state(default).engine.dispose()
