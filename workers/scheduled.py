"""Running scheduled work: each run opens its own session in the app context, commits once, logs counts only.

The features name their scheduled work (a `ScheduledJob` in workers.schedule); core/app.py hands
the list to `workers.init_app`. Nothing here knows what the work is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app
from sqlalchemy.orm import Session

from core.app import state
from core.db import session_scope

log = logging.getLogger(__name__)


def run_scheduled(name: str, work: Callable[[Session], object]) -> object:
    """Run `work` in one transaction of the current app; log its result (a count, never content).

    An RQ entry point: the worker's app context is read here, once; `work` gets what it needs.
    """
    with session_scope(state(current_app).session_factory) as session:
        result = work(session)
    log.info("scheduled %s done: %s", name, result)
    return result


def empty_sqlite_log() -> None:
    """SQLite's write-ahead log keeps the pages a commit replaced, shredded rows included
    (secure_delete clears only the database file): copy the log into the file and empty it."""
    engine = state(current_app).engine
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
    if busy:
        log.warning("the SQLite log could not be emptied after the purge (busy); the next purge retries")
