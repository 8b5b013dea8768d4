"""The dispatcher: committed outbox entries go to the RQ queue, or run inline without Redis."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from redis.lock import Lock
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import case, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import session_scope, utcnow
from workers.jobs import MAX_ATTEMPTS, JobFailedError, run_entry, run_outbox_entry
from workers.models import OutboxEntry
from workers.worker_heartbeat import horse_alive

log = logging.getLogger(__name__)

QUEUE_NAME = "komma"
RETRY_INTERVALS = (10, 30, 60, 300, 900)
# Statuses in which RQ still holds the job and will run it (again): the relay leaves it be. A
# started job is held only while its work horse beats (workers.worker_heartbeat).
WAITING_STATUSES = frozenset({JobStatus.CREATED, JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED})
# What a run lost with its work horse (a killed worker) leaves on the row. It counts as a failed
# run, so a job that kills its worker every time ends up with an operator, not in a kill loop.
LOST_RUN_ERROR = "WorkHorseLost"
# How long one relay may look at an entry before another one may: longer than a relay pass takes.
RELAY_LOCK_SECONDS = 60


def rq_job_id(entry_id: str) -> str:
    """One RQ job id per outbox row, so sending a row twice never queues it twice."""
    return f"outbox-{entry_id}"


def connect_redis(url: str, *, fail_fast: bool = False) -> Redis:
    if fail_fast:
        # A request (or a horse's heartbeat) must never hang on an unreachable Redis: fail fast,
        # the relay re-sends.
        return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    # Worker and cron: a Redis that stops answering without closing the connection (a network
    # split) counts as lost after a while, not never. RQ raises the read timeout of its worker
    # above the time it blocks waiting for a job.
    return Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)


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
        if self.redis_url is None:
            raise RuntimeError("no Redis configured (KOMMA_REDIS_URL)")
        if self._redis is None:
            self._redis = connect_redis(self.redis_url, fail_fast=True)
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
        """The relay: send entries again unless RQ still holds their job; returns how many.

        Each entry is looked at under a short lock in Redis, so of several relays running at
        once only one drops and queues a given job, and never one that a horse still runs.
        """
        if self.redis_url is None:
            return self.run_inline(entry_ids)
        locks: list[Lock] = []
        lost: list[str] = []
        try:
            for entry_id in entry_ids:
                lock = self.redis.lock(f"komma:relay:{entry_id}", timeout=RELAY_LOCK_SECONDS, blocking=False)
                if not lock.acquire():
                    continue  # another relay is looking at it right now
                locks.append(lock)
                if self._let_go_by_rq(entry_id):
                    lost.append(entry_id)
            return self.enqueue(lost)
        finally:
            for lock in locks:
                # Expired or Redis gone: it frees itself after RELAY_LOCK_SECONDS.
                with suppress(RedisError):
                    lock.release()

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

    def _let_go_by_rq(self, entry_id: str) -> bool:
        """Whether RQ no longer holds the entry's job, so it may be queued again.

        What is left of a job RQ let go (finished or failed for good while the row is not
        completed, or started by a horse that died) is dropped so the same id can be queued.
        """
        job_id = rq_job_id(entry_id)
        try:
            job = Job.fetch(job_id, connection=self.redis)
        except NoSuchJobError:
            # Lost with Redis or never queued; unless a horse still runs it (Redis came back empty).
            return not horse_alive(self.redis, job_id)
        status = job.get_status(refresh=False)
        if status in WAITING_STATUSES:
            return False
        may_run = True
        if status == JobStatus.STARTED:
            if horse_alive(self.redis, job_id):
                return False
            # Its horse died and no worker saw it die (the whole worker was killed): RQ would let
            # the job go only when its started registry expires it, many minutes later.
            may_run = self._count_lost_run(entry_id)
        job.delete()
        return may_run

    def _count_lost_run(self, entry_id: str) -> bool:
        """Count a run lost with its horse as a failed one; False once the entry gives up."""
        now = utcnow()
        attempts = OutboxEntry.attempts + 1
        with session_scope(self.session_factory) as session:
            counted = session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id == entry_id, OutboxEntry.completed_at.is_(None), OutboxEntry.failed_at.is_(None))
                .values(
                    attempts=attempts,
                    last_error=LOST_RUN_ERROR,
                    failed_at=case((attempts >= MAX_ATTEMPTS, now), else_=OutboxEntry.failed_at),
                )
                .returning(OutboxEntry.attempts, OutboxEntry.failed_at)
            ).one_or_none()
        if counted is None:
            return False  # completed or given up since the relay looked
        if counted.failed_at is not None:
            log.warning("outbox entry %s lost its work horse; given up after %d attempts", entry_id, counted.attempts)
            return False
        log.warning("outbox entry %s lost its work horse; sent again (attempt %d)", entry_id, counted.attempts)
        return True

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
