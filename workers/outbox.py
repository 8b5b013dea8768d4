"""Queueing a job: an outbox row in the caller's transaction, dispatched once it commits."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from core.db import new_id, utcnow
from workers.jobs import is_registered
from workers.models import OutboxEntry

log = logging.getLogger(__name__)

# session.info key: ids of the entries added in the session's current transaction.
PENDING_KEY = "komma_outbox_pending"

# Ids look like ids: a sentence, an e-mail address or a file name cannot pass.
ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def add_job(session: Session, job: str, **ids: str | int) -> OutboxEntry:
    """Queue `job(**ids)` in the caller's transaction; it is dispatched after commit.

    Flushes, never commits. Jobs take ids only, so nothing typed by a person can reach Redis
    or a log line through a job: any other value is refused.
    """
    if not is_registered(job):
        raise ValueError(f"no job is registered as {job!r}")
    for name, value in ids.items():
        _check_id(name, value)
    entry = OutboxEntry(id=new_id(), job=job, args=dict(ids), created_at=utcnow(), attempts=0)
    session.add(entry)
    session.flush()
    session.info.setdefault(PENDING_KEY, []).append(entry.id)
    return entry


def _check_id(name: str, value: object) -> None:
    # bool is an int to Python, but never an id.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"job argument {name!r} must be a str id or an int")
    if isinstance(value, str) and not ID_RE.fullmatch(value):
        raise ValueError(f"job argument {name!r} is not an id (1-64 of A-Z a-z 0-9 _ . : -)")


def dispatch_after_commit(factory: sessionmaker[Session], send: Callable[[Sequence[str]], None]) -> None:
    """Hand the entries of every committed transaction of `factory`'s sessions to `send`.

    Listening on the session factory (not the global Session class) ties the hook to one app,
    so two apps in one process (tests) never dispatch each other's entries.
    """

    @event.listens_for(factory, "after_commit")
    def _committed(session: Session) -> None:
        entry_ids = session.info.pop(PENDING_KEY, None)
        if not entry_ids:
            return
        try:
            send(entry_ids)
        except Exception as exc:
            # An exception here would surface from session.commit() after the data is
            # committed: the caller must see success. The relay sends the rows later.
            log.warning("outbox dispatch failed after commit: %s", type(exc).__name__)

    @event.listens_for(factory, "after_transaction_end")
    def _ended(session: Session, transaction: SessionTransaction) -> None:
        # Rollback or close without commit: the rows are gone, so are their ids. After a
        # commit, _committed has already taken them.
        if transaction.parent is None:
            session.info.pop(PENDING_KEY, None)
