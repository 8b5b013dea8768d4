"""The scheduled jobs: each opens its own session in the app context, commits once, logs counts only."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app

from core.db import session_scope, utcnow

log = logging.getLogger(__name__)


def _run(name: str, work: Callable[..., object]) -> object:
    with session_scope(current_app.extensions["komma"].session_factory) as session:
        result = work(session)
    log.info("scheduled %s done: %s", name, result)
    return result


def deadline_scan() -> object:
    """Hourly: reminders and mails for due deadlines."""
    from clearing.maintenance import scan_deadlines

    return _run("deadline scan", lambda s: scan_deadlines(s, utcnow()))


def retention_purge() -> object:
    """Daily: crypto-shred closed cases past retention and cases whose reporter asked for deletion."""
    from clearing.maintenance import purge_retention

    purged = _run("retention purge", lambda s: purge_retention(s, utcnow()).cases)
    if purged:
        _empty_sqlite_log()
    return purged


def _empty_sqlite_log() -> None:
    """SQLite's write-ahead log keeps the pages a commit replaced, shredded rows included
    (secure_delete clears only the database file): copy the log into the file and empty it."""
    engine = current_app.extensions["komma"].engine
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
    if busy:
        log.warning("the SQLite log could not be emptied after the purge (busy); the next purge retries")


def audit_check() -> object:
    """Daily: verify the audit chains; a break alerts the coordinators."""
    from clearing.maintenance import check_audit_chain

    return _run("audit check", lambda s: "broken" if check_audit_chain(s) else "intact")


def housekeeping() -> object:
    """Hourly: expired sessions and old throttle windows."""
    from clearing.maintenance import housekeeping as clean

    return _run("housekeeping", lambda s: clean(s, utcnow()))


def statistics_refresh() -> object:
    """Hourly: recompute the live statistics counts from the clear metadata."""
    from clearing.statistics import refresh

    return _run("statistics refresh", refresh)


NAMED = {
    "statistics": statistics_refresh,
    "deadlines": deadline_scan,
    "retention": retention_purge,
    "audit": audit_check,
    "housekeeping": housekeeping,
}
