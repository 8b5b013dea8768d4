"""The outbox relay: re-sends committed entries whose dispatch got lost (Redis down, crash)."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from sqlalchemy import and_, or_, select

from core.app import current_flask_app, state
from core.db import session_scope, utcnow
from workers.dispatch import Dispatcher
from workers.models import OutboxEntry

log = logging.getLogger(__name__)

# One pass re-sends at most this many rows, so a long outage drains over a few minutes.
BATCH_SIZE = 500


def relay_pending(app: Flask, older_than_seconds: int = 30) -> int:
    """Re-send entries not completed and not given up whose dispatch is missing or old.

    Rows still held by RQ (queued, waiting for a retry, running in a work horse that still
    beats) are left alone. A job RQ calls started whose horse stopped beating was lost with a
    killed worker: it is sent again within seconds of the beat expiring, not when RQ's
    registries expire it. Each row is looked at under a lock in Redis and only ever queued
    under its own RQ job id, so several relays may run at once.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    with session_scope(state(app).session_factory) as session:
        entry_ids = list(
            session.scalars(
                select(OutboxEntry.id)
                .where(
                    OutboxEntry.completed_at.is_(None),
                    OutboxEntry.failed_at.is_(None),
                    or_(
                        # Fresh rows are still being dispatched by the request that wrote them.
                        and_(OutboxEntry.dispatched_at.is_(None), OutboxEntry.created_at <= cutoff),
                        OutboxEntry.dispatched_at <= cutoff,
                    ),
                )
                .order_by(OutboxEntry.created_at)
                .limit(BATCH_SIZE)
            )
        )
    if not entry_ids:
        return 0
    dispatcher: Dispatcher = app.extensions["komma_jobs"]
    sent = dispatcher.resend(entry_ids)
    if sent:
        log.info("outbox relay re-sent %d of %d pending entries", sent, len(entry_ids))
    return sent


def relay_outbox() -> int:
    """The cron job: one relay pass with the app of the worker's app context."""
    app = current_flask_app()
    return relay_pending(app)
