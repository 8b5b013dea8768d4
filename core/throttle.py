"""Budgets and counters over fixed time windows, keyed by what is protected, never by who asks.

No client address is processed anywhere: budgets are per municipality or per installation, and
what a single client must not be able to spend for everyone sits behind proof of work
(reporting.challenge, reporting.flood) instead of behind a budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import ThrottleWindow


def _window_start(now: datetime, window: timedelta) -> datetime:
    seconds = int(window.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


def used(session: Session, key: str, window: timedelta) -> int:
    start = _window_start(utcnow(), window)
    count = session.scalar(
        select(ThrottleWindow.count).where(ThrottleWindow.key == key, ThrottleWindow.window_start == start)
    )
    return int(count or 0)


def used_many(session: Session, windows: Mapping[str, timedelta], at: datetime | None = None) -> dict[str, int]:
    """The counts of several keys, each in the window `at` (now) falls in, in one query (0: none yet).

    Windows are kept two days (clearing.cases.maintenance.housekeeping)."""
    if not windows:
        return {}
    now = at or utcnow()
    by_start: dict[datetime, list[str]] = {}
    for key, window in windows.items():
        by_start.setdefault(_window_start(now, window), []).append(key)
    rows = session.execute(
        select(ThrottleWindow.key, ThrottleWindow.count).where(
            or_(
                *(
                    and_(ThrottleWindow.window_start == start, ThrottleWindow.key.in_(keys))
                    for start, keys in by_start.items()
                )
            )
        )
    )
    found = {key: int(count or 0) for key, count in rows}
    return {key: found.get(key, 0) for key in windows}


def spend(session: Session, key: str, window: timedelta, budget: int) -> bool:
    """Count one use; False (and nothing counted) when the window's budget is spent."""
    start = _window_start(utcnow(), window)
    # An atomic conditional increment, so concurrent requests cannot overspend.
    result = session.execute(
        update(ThrottleWindow)
        .where(ThrottleWindow.key == key, ThrottleWindow.window_start == start, ThrottleWindow.count < budget)
        .values(count=ThrottleWindow.count + 1)
    )
    if getattr(result, "rowcount", 0):
        return True
    if used(session, key, window) >= budget:
        return False
    try:
        with session.begin_nested():
            session.add(ThrottleWindow(key=key, window_start=start, count=1))
    except IntegrityError:
        return spend(session, key, window, budget)
    return True


def record(session: Session, key: str, window: timedelta) -> None:
    """Count one event in the current window, without a limit (what the status page shows)."""
    spend(session, key, window, budget=2**31 - 1)
