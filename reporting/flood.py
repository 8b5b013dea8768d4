"""Floods at the intake and the mailbox: who pays, what is marked, what the office sees (counts only).

A solved challenge (reporting.challenge) means the client paid with work: it is always served.
Without one, a report is served from a budget per municipality and hour; once that is spent the
report is still taken and stored, only its receipt code waits (reporting.service: a deferred
receipt, derived later in a slow lane), so a flood costs an Argon2id derivation only when it
comes back for the code. A report marked acute danger is never refused either way. Receipt codes
without a solved challenge have an installation-wide budget per minute; with one they are
always checked, so a valid code always opens its mailbox.

Every report that arrives while a municipality is flooded is marked (Case.flood_marked): the
mark says when it came, not how, so it tells nothing about the reporter's device.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core import throttle

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
# Reports without a solved challenge to one municipality per hour, served at once.
OPEN_REPORTS_PER_HOUR = 20
# Reports per municipality and hour (with or without challenge) from which on each is marked.
FLOOD_LEVEL = 30
# Receipt codes without a solved challenge per minute, installation-wide (successes are refunded).
OPEN_CODES_PER_MINUTE = 30
# Deferred receipt codes derived per minute, installation-wide: the slow lane.
LATE_RECEIPTS_PER_MINUTE = 20


def _open_reports(municipality_id: str) -> str:
    return f"submit:{municipality_id}"


def _seen(what: str, municipality_id: str = "") -> str:
    return f"flood:{what}:{municipality_id}" if municipality_id else f"flood:{what}"


OPEN_CODES = "receipt-failures"
LATE_RECEIPTS = "late-receipts"


def defer_receipt(session: Session, municipality_id: str, *, solved: bool) -> bool:
    """Whether the report's receipt code waits: no solved challenge, and the open budget is spent.

    Only read here, before the derivation; counted by mark_report after it, so that no budget row
    stays locked while Argon2id runs (concurrent reports may overspend it by a few, harmlessly).
    """
    return not solved and throttle.used(session, _open_reports(municipality_id), HOUR) >= OPEN_REPORTS_PER_HOUR


def mark_report(session: Session, municipality_id: str, *, solved: bool, deferred: bool) -> bool:
    """Count the report (after its derivation); whether it arrived during a flood and is marked."""
    if not solved and not deferred:
        throttle.record(session, _open_reports(municipality_id), HOUR)
    throttle.record(session, _seen("reports", municipality_id), HOUR)
    flooded = (
        deferred
        or throttle.used(session, _seen("reports", municipality_id), HOUR) > FLOOD_LEVEL
        or throttle.used(session, _open_reports(municipality_id), HOUR) >= OPEN_REPORTS_PER_HOUR
    )
    if flooded:
        throttle.record(session, _seen("marked", municipality_id), HOUR)
    if deferred:
        throttle.record(session, _seen("deferred", municipality_id), HOUR)
    return flooded


def first_flood_mail(session: Session, municipality_id: str) -> bool:
    """Whether the office still has to hear of this hour's flood (one mail per hour, not one per report)."""
    return throttle.spend(session, _seen("mail", municipality_id), HOUR, 1)


def spend_open_code(session: Session) -> bool:
    """One receipt code without a solved challenge; False when this minute's budget is spent."""
    if throttle.spend(session, OPEN_CODES, MINUTE, OPEN_CODES_PER_MINUTE):
        return True
    throttle.record(session, _seen("codes-waiting"), HOUR)
    return False


def note_wrong_code(session: Session) -> None:
    throttle.record(session, _seen("wrong-codes"), HOUR)


def spend_late_receipt(session: Session) -> bool:
    return throttle.spend(session, LATE_RECEIPTS, MINUTE, LATE_RECEIPTS_PER_MINUTE)


@dataclass(frozen=True)
class FloodCounts:
    """One hour's counts for the status page: never more than numbers."""

    reports: int
    marked: int
    deferred: int
    wrong_codes: int
    codes_waiting: int

    @property
    def flooded(self) -> bool:
        return self.marked > 0 or self.codes_waiting > 0


def counts(session: Session, municipality_id: str, at: datetime) -> FloodCounts:
    """The counts of the hour `at` falls in (the current one, or an earlier one up to two days back)."""
    return FloodCounts(
        reports=throttle.used_at(session, _seen("reports", municipality_id), HOUR, at),
        marked=throttle.used_at(session, _seen("marked", municipality_id), HOUR, at),
        deferred=throttle.used_at(session, _seen("deferred", municipality_id), HOUR, at),
        wrong_codes=throttle.used_at(session, _seen("wrong-codes"), HOUR, at),
        codes_waiting=throttle.used_at(session, _seen("codes-waiting"), HOUR, at),
    )
