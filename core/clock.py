"""The one clock: which instant it is (UTC) and which day it is in Berlin, where the offices work.

Instants are stored and compared in UTC. Whatever counts days, months, quarters or years
(deadlines, reminders, "today", statistics periods) counts them on the Berlin calendar, the one
the pages show. The app holds one `Clock` (core.app.KommaState.clock); views and scheduled jobs
read it and hand `now`/`today` to the services, so a test can stand at any instant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("naive datetime given; an instant needs its time zone")
    return instant


def berlin_date(instant: datetime) -> date:
    """The Berlin calendar day of an instant."""
    return _aware(instant).astimezone(BERLIN).date()


def berlin_month(instant: datetime) -> str:
    """The Berlin month of an instant as the statistics key it ("2024-04")."""
    return _aware(instant).astimezone(BERLIN).strftime("%Y-%m")


def start_of_day(day: date) -> datetime:
    """The instant (UTC) at which a Berlin calendar day begins; midnight exists on every day there."""
    return datetime.combine(day, time.min, BERLIN).astimezone(UTC)


def at_berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """The instant (UTC) of a Berlin wall-clock time (the earlier one where October repeats an hour)."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


class Clock:
    """Tells the time: `now()` is an aware UTC instant, `today()` the Berlin day it falls on."""

    def now(self) -> datetime:
        raise NotImplementedError

    def today(self) -> date:
        return berlin_date(self.now())


class SystemClock(Clock):
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that stands still where it is set (tests): `set` moves it, `advance` winds it on."""

    def __init__(self, instant: datetime) -> None:
        self._instant = _aware(instant).astimezone(UTC)

    def now(self) -> datetime:
        return self._instant

    def set(self, instant: datetime) -> None:
        self._instant = _aware(instant).astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._instant += delta
