"""Floods at the intake and the mailbox: who pays, what is marked, what the office sees (counts only).

A solved challenge (reporting.challenge) means the client paid with work: it is always served.
Without one, a report is served from a budget per municipality (paced in 10-minute windows); once that is spent the
report is still taken and stored, only its receipt code waits (reporting.service: a deferred
receipt, derived later in a slow lane), so a flood costs an Argon2id derivation only when it
comes back for the code. A report marked acute danger is never refused either way. Wrong receipt
codes without a solved challenge have an installation-wide budget; with one they are always
checked, so a valid code always opens its mailbox. Requests without a solved challenge derive
in a lane of their own per process that never queues (open_lane).

Every report that arrives while a municipality is flooded is marked (Case.flood_marked): the
mark says when it came, not how, so it tells nothing about the reporter's device.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core import throttle

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
# Reports without a solved challenge to one municipality, served at once: 30 an hour, paced in
# windows of 10 minutes so that a flood's first second is not a burst of derivations.
OPEN_REPORTS_PER_WINDOW = 5
OPEN_REPORTS_WINDOW = timedelta(minutes=10)
# Reports per municipality and hour (with or without challenge) from which on each is marked.
FLOOD_LEVEL = 30
# Wrong receipt codes without a solved challenge, installation-wide: 30 a minute, paced in windows
# of 10 s so that a renewed budget is not one burst of derivations. Right codes do not count.
OPEN_CODES_PER_WINDOW = 5
OPEN_CODES_WINDOW = timedelta(seconds=10)
# Deferred receipt codes derived per minute, installation-wide: the slow lane.
LATE_RECEIPTS_PER_MINUTE = 20
# Derivations for requests without a solved challenge that one process runs at once, and how long
# one more waits for the slot. Past that it is not queued: its report's code is deferred, its
# receipt code is answered "not checked yet", so such requests never hold the threads that solved
# requests need (how many can wait at all is bounded by the open budgets).
OPEN_LANE_SLOTS = 1
OPEN_LANE_WAIT_SECONDS = 0.25

OPEN_CODES = "receipt-failures"
LATE_RECEIPTS = "late-receipts"


def _open_reports(municipality_id: str) -> str:
    return f"submit:{municipality_id}"


def _seen(what: str, municipality_id: str = "") -> str:
    return f"flood:{what}:{municipality_id}" if municipality_id else f"flood:{what}"


# Budgets are read before an Argon2id derivation and counted after it, as the request's last
# writes: a counter row stays locked from its UPDATE to the commit, and no request may wait out
# another's derivation or page (concurrent requests may overspend a budget by a few, harmlessly).


class _OpenLane:
    def __init__(self) -> None:
        self.slots = threading.BoundedSemaphore(OPEN_LANE_SLOTS)

    @contextmanager
    def entered(self) -> Iterator[bool]:
        """True with a slot held for the block; False when none is free within the wait."""
        if not self.slots.acquire(timeout=OPEN_LANE_WAIT_SECONDS):
            yield False
            return
        try:
            yield True
        finally:
            self.slots.release()


_lane = _OpenLane()


def _renew_lane() -> None:
    # A forked child must not inherit slots held by threads that do not exist there.
    global _lane
    _lane = _OpenLane()


os.register_at_fork(after_in_child=_renew_lane)


def open_lane() -> AbstractContextManager[bool]:
    """A slot for one derivation of a request without a solved challenge, or False (waits briefly)."""
    return _lane.entered()


@dataclass(frozen=True)
class Arrival:
    """What a municipality's counters say as a report arrives: read once, before its derivation."""

    open_spent: bool  # the budget for reports without a solved challenge is spent
    reports_this_hour: int

    def deferred(self, *, solved: bool) -> bool:
        """Whether the report's receipt code waits: no solved challenge, and the open budget spent."""
        return not solved and self.open_spent

    @property
    def flooded(self) -> bool:
        """Whether the report is marked: the municipality is flooded this hour."""
        return self.open_spent or self.reports_this_hour + 1 > FLOOD_LEVEL


def arrival(session: Session, municipality_id: str) -> Arrival:
    used = throttle.used_many(
        session,
        {_open_reports(municipality_id): OPEN_REPORTS_WINDOW, _seen("reports", municipality_id): HOUR},
    )
    return Arrival(
        open_spent=used[_open_reports(municipality_id)] >= OPEN_REPORTS_PER_WINDOW,
        reports_this_hour=used[_seen("reports", municipality_id)],
    )


def count_report(session: Session, municipality_id: str, *, solved: bool, deferred: bool, marked: bool) -> None:
    """Count a stored report: the request's last writes before its commit."""
    if not solved and not deferred:
        throttle.record(session, _open_reports(municipality_id), OPEN_REPORTS_WINDOW)
    throttle.record(session, _seen("reports", municipality_id), HOUR)
    if marked:
        throttle.record(session, _seen("marked", municipality_id), HOUR)
    if deferred:
        throttle.record(session, _seen("deferred", municipality_id), HOUR)


def first_flood_mail(session: Session, municipality_id: str) -> bool:
    """Whether the office still has to hear of this hour's flood (one mail per hour, not one per report)."""
    return throttle.spend(session, _seen("mail", municipality_id), HOUR, 1)


def open_code_allowed(session: Session) -> bool:
    """Whether a receipt code without a solved challenge is checked now; counts the ones that wait."""
    if throttle.used(session, OPEN_CODES, OPEN_CODES_WINDOW) < OPEN_CODES_PER_WINDOW:
        return True
    note_code_waiting(session)
    return False


def note_code_waiting(session: Session) -> None:
    throttle.record(session, _seen("codes-waiting"), HOUR)


def count_code(session: Session, *, solved: bool, found: bool) -> None:
    """Count a checked receipt code (after its derivation): wrong ones, and the open budget."""
    if found:
        return
    throttle.record(session, _seen("wrong-codes"), HOUR)
    if not solved:
        throttle.record(session, OPEN_CODES, OPEN_CODES_WINDOW)


def spend_late_receipt(session: Session) -> bool:
    return throttle.spend(session, LATE_RECEIPTS, MINUTE, LATE_RECEIPTS_PER_MINUTE)


@dataclass(frozen=True)
class IntakeCounts:
    """One municipality's reports in one hour."""

    reports: int
    marked: int
    deferred: int


@dataclass(frozen=True)
class CodeCounts:
    """Receipt codes in one hour, installation-wide: wrong ones, and ones without a solution that waited."""

    wrong: int
    waiting: int


@dataclass(frozen=True)
class HourCounts:
    """One hour's counts for the status page: never more than numbers."""

    intake: dict[str, IntakeCounts]  # by municipality id
    codes: CodeCounts

    @property
    def flooded(self) -> bool:
        return self.codes.waiting > 0 or any(counts.marked for counts in self.intake.values())


def hour_counts(session: Session, municipality_ids: Sequence[str], at: datetime) -> HourCounts:
    """The counts of the hour `at` falls in (the current one, or an earlier one up to two days back),
    of these municipalities and of the mailbox, in one query."""
    intake = {mid: {name: _seen(name, mid) for name in ("reports", "marked", "deferred")} for mid in municipality_ids}
    codes = {"wrong": _seen("wrong-codes"), "waiting": _seen("codes-waiting")}
    keys = [*codes.values(), *(key for named in intake.values() for key in named.values())]
    used = throttle.used_many(session, dict.fromkeys(keys, HOUR), at)
    return HourCounts(
        {mid: IntakeCounts(**{name: used[key] for name, key in named.items()}) for mid, named in intake.items()},
        CodeCounts(**{name: used[key] for name, key in codes.items()}),
    )
