"""The dispatcher: committed outbox entries go to the RQ queue, or run inline without Redis."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from core.db import session_scope, utcnow
from workers.jobs import JobFailedError, run_entry, run_outbox_entry
from workers.models import OutboxEntry

log = logging.getLogger(__name__)

QUEUE_NAME = "komma"
RETRY_INTERVALS = (10, 30, 60, 300, 900)
# Statuses in which RQ still holds the job and will run it (again): the relay leaves it be.
LIVE_STATUSES = frozenset(
    {JobStatus.CREATED, JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
)


def rq_job_id(entry_id: str) -> str:
    """One RQ job id per outbox row, so sending a row twice never queues it twice."""
    return f"outbox-{entry_id}"


def connect_redis(url: str, *, for_web: bool = False) -> Redis:
    if for_web:
        # A request must never hang on an unreachable Redis: fail fast, the relay re-sends.
        return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return Redis.from_url(url)


class Dispatcher:
    """Sends committed outbox entries: to RQ when the app has a Redis URL, else runs them inline."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.redis_url: str | None = app.extensions["komma"].config.redis_url
        self._redis: Redis | None = None

    @property
    def session_factory(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = self.app.extensions["komma"].session_factory
        return factory

    @property
    def redis(self) -> Redis:
        assert self.redis_url is not None
        if self._redis is None:
            self._redis = connect_redis(self.redis_url, for_web=True)
        return self._redis

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None

    def send(self, entry_ids: Sequence[str]) -> None:
        """After commit: hand new entries over. Never raises; what fails waits for the relay."""
        if self.redis_url is None:
            self.run_inline(entry_ids)
            return
        try:
            self.enqueue(entry_ids)
        except RedisError as exc:
            log.warning("Redis unreachable, jobs left for the outbox relay: %s", type(exc).__name__)

    def resend(self, entry_ids: Sequence[str]) -> int:
        """The relay: send entries again unless RQ still holds their job; returns how many."""
        if self.redis_url is None:
            return self.run_inline(entry_ids)
        lost = [entry_id for entry_id in entry_ids if not self._held_by_rq(entry_id)]
        return self.enqueue(lost)

    def enqueue(self, entry_ids: Sequence[str]) -> int:
        """Put entries on the queue, stamping dispatched_at; raises RedisError if Redis fails."""
        # Stamped before enqueueing: once queued, a worker may hold the row locked for the
        # whole job, and the request must not wait for that.
        self._stamp_dispatched(entry_ids, utcnow())
        queue = Queue(QUEUE_NAME, connection=self.redis)
        sent: list[str] = []
        try:
            for entry_id in entry_ids:
                # Duplicate: a concurrent relay queued it a moment ago, so it is on its way.
                with suppress(DuplicateJobError):
                    queue.enqueue_call(
                        run_outbox_entry,
                        args=(entry_id,),
                        job_id=rq_job_id(entry_id),
                        retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
                        unique=True,
                    )
                sent.append(entry_id)
        finally:
            # Not queued: no worker has these rows, and the relay looks for them first.
            self._stamp_dispatched([i for i in entry_ids if i not in sent], None)
        return len(sent)

    def run_inline(self, entry_ids: Sequence[str]) -> int:
        """No Redis (the embedded default): run each entry now, in this process."""
        ran = 0
        with self.app.app_context():
            for entry_id in entry_ids:
                try:
                    run_entry(self.app, entry_id)
                except JobFailedError:
                    pass  # logged and counted on the row by run_entry; the relay runs it again
                except Exception as exc:
                    log.warning("inline job failed, left for the outbox relay: %s", type(exc).__name__)
                ran += 1
        return ran

    def _held_by_rq(self, entry_id: str) -> bool:
        try:
            job = Job.fetch(rq_job_id(entry_id), connection=self.redis)
        except NoSuchJobError:
            return False
        if job.get_status(refresh=False) in LIVE_STATUSES:
            return True
        # Finished or failed for good while the row is not completed: drop the old job so the
        # same id can be queued again.
        job.delete()
        return False

    def _stamp_dispatched(self, entry_ids: Sequence[str], when: datetime | None) -> None:
        if not entry_ids:
            return
        try:
            with session_scope(self.session_factory) as session:
                session.execute(
                    update(OutboxEntry)
                    .where(OutboxEntry.id.in_(entry_ids), OutboxEntry.completed_at.is_(None))
                    .values(dispatched_at=when)
                )
        except Exception as exc:
            # Only bookkeeping: the relay decides by RQ's view of the job, not by this stamp.
            log.warning("could not stamp dispatched_at: %s", type(exc).__name__)
