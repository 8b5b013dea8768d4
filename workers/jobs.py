"""Job handlers by name, and running one outbox entry: the function RQ calls."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import case, update
from sqlalchemy.orm import Session, sessionmaker

from core.app import current_flask_app, state
from core.config import Config
from core.db import utcnow
from workers.models import OutboxEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What a handler gets besides its session and ids; handlers never reach for the app."""

    config: Config
    # For short transactions of a handler's own (a mail's at-most-once marker), apart from the job's.
    session_factory: sessionmaker[Session]
    # Handlers that talk to the outside world (mail) key their at-most-once markers on it.
    entry_id: str

    @classmethod
    def of(cls, app: Flask, entry_id: str) -> JobContext:
        komma = state(app)
        return cls(config=komma.config, session_factory=komma.session_factory, entry_id=entry_id)


# A handler takes the job's own session, its JobContext and the entry's ids; it writes, never commits.
Handler = Callable[..., object]

# 1 run + RQ's 5 retries; after that the entry waits for an operator instead of the relay.
MAX_ATTEMPTS = 6

_handlers: dict[str, Handler] = {}


class UnknownJobError(LookupError):
    """No handler is registered under this job name."""


class JobFailedError(RuntimeError):
    """A handler raised; the message is the exception class name only.

    RQ stores and logs the traceback of what the job raised. The original exception's message
    could quote client data, so it is replaced by this one and its chain is suppressed.
    """


def job(name: str) -> Callable[[Handler], Handler]:
    """Register `handler(session, context, **ids)` under `name`; the name is what the outbox stores."""
    if not name or len(name) > 64:
        raise ValueError("a job name has 1 to 64 characters")

    def register(handler: Handler) -> Handler:
        known = _handlers.get(name)
        # A module imported twice (reload, pytest) registers the same function again: fine.
        if known is not None and _qualified(known) != _qualified(handler):
            raise ValueError(f"job {name!r} is already registered to {_qualified(known)}")
        _handlers[name] = handler
        return handler

    return register


def load_job_modules(modules: Iterable[str] = ()) -> None:
    """Import further modules that register handlers (the app factory imports the project's own)."""
    for module in modules:
        importlib.import_module(module)


def handler_for(name: str) -> Handler:
    try:
        return _handlers[name]
    except KeyError:
        raise UnknownJobError(name) from None


def is_registered(name: str) -> bool:
    try:
        handler_for(name)
    except UnknownJobError:
        return False
    return True


def run_outbox_entry(entry_id: str) -> bool:
    """The RQ job: run one outbox entry with the app of the worker's app context."""
    app = current_flask_app()
    return run_entry(app, entry_id)


def run_entry(app: Flask, entry_id: str) -> bool:
    """Run an entry's handler once; True if it ran now, False if there was nothing to do.

    The handler's writes and completed_at commit together, so a crash leaves both undone and
    a second run (relay, RQ retry, inline plus relay) finds completed_at set and skips.
    """
    context = JobContext.of(app, entry_id)
    session: Session = context.session_factory()
    name = "?"
    try:
        # The row lock makes a concurrent second run wait and then see completed_at.
        entry = session.get(OutboxEntry, entry_id, with_for_update=True)
        if entry is None:
            # Rolled back with a savepoint after add_job, or deleted: nothing to run.
            log.info("outbox entry %s does not exist; skipped", entry_id)
            return False
        if entry.completed_at is not None:
            return False
        name = entry.job
        handler_for(name)(session, context, **entry.args)
        now = utcnow()
        entry.completed_at = now
        entry.dispatched_at = entry.dispatched_at or now
        session.commit()
    except Exception as exc:
        session.rollback()
        error = _error_name(exc)
        attempts = _record_failure(session, entry_id, error)
        log.warning("job %s failed for outbox entry %s: %s (attempt %s)", name, entry_id, error, attempts)
        raise JobFailedError(error) from None
    finally:
        session.close()
    log.info("job %s done for outbox entry %s", name, entry_id)
    return True


def _record_failure(session: Session, entry_id: str, error: str) -> int | None:
    """Count a failed run in a transaction of its own (the handler's was rolled back)."""
    now = utcnow()
    attempts = OutboxEntry.attempts + 1
    statement = (
        update(OutboxEntry)
        .where(OutboxEntry.id == entry_id)
        .values(
            attempts=attempts,
            last_error=error,
            dispatched_at=case((OutboxEntry.dispatched_at.is_(None), now), else_=OutboxEntry.dispatched_at),
            failed_at=case((attempts >= MAX_ATTEMPTS, now), else_=OutboxEntry.failed_at),
        )
        .returning(OutboxEntry.attempts)
    )
    try:
        result = session.execute(statement).scalar_one_or_none()
        session.commit()
    except Exception as exc:
        # The database itself may be what failed; RQ still retries and the relay still sees the row.
        session.rollback()
        log.warning("could not record the failure of outbox entry %s: %s", entry_id, _error_name(exc))
        return None
    return result


def _error_name(exc: BaseException) -> str:
    kind = type(exc)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return f"{module}{kind.__qualname__}"[:200]


def _qualified(handler: Any) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


@job("noop")
def noop(session: Session, context: JobContext) -> None:
    """Does nothing: proves the path from outbox to worker end to end (ops, tests)."""
