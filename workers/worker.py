"""The RQ worker and the cron process, both bound to one Flask app, both outliving Redis outages.

When Redis goes away, RQ's loops would end the process (or retry for up to a minute apart, with
a log line per try). Here the loop ends quietly instead; the process waits for Redis with
back-off, saying so once when Redis goes and once when it is back, and then starts afresh.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

from flask import Flask
from redis.client import Pipeline, PubSub, PubSubWorkerThread
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker
from rq.cron import CronScheduler
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.scheduler import RQScheduler

from workers.dispatch import QUEUE_NAME, connect_redis
from workers.jobs import load_job_modules
from workers.schedule import register_schedule, schedule_of
from workers.worker_heartbeat import horse_heartbeat

log = logging.getLogger(__name__)

# Redis is away (refused, reset, not answering), as opposed to a command it refused.
REDIS_LOST = (RedisConnectionError, RedisTimeoutError)
# Waiting for Redis: the first try again after half a second, then doubling, at most this apart.
FIRST_RETRY = 0.5
LONGEST_RETRY = 10.0
# RQ's defaults wake an idle worker every 6¾ minutes and look after its scheduler every 10: the
# scheduler lock of a killed worker (it expires after a minute) would hold up retries that long.
WORKER_TTL = 60
MAINTENANCE_INTERVAL = 60


class NoRedisError(RuntimeError):
    """The command needs Redis and KOMMA_REDIS_URL is unset."""


class RedisGoneError(RuntimeError):
    """`komma worker --burst` lost Redis: a one-off run ends rather than waiting for it."""


class RedisLost(StopRequested):
    """Redis went away under the worker's loop.

    A StopRequested, because that is what RQ's loop ends on quietly (with its clean-up, without
    an error and a traceback); run_worker then waits for Redis and starts a new worker.
    """


class StopSignal:
    """SIGTERM or SIGINT, while no RQ loop listens for them: it only notes the request."""

    def __init__(self) -> None:
        self.requested = False

    def listen(self) -> None:
        signal.signal(signal.SIGTERM, self._note)
        signal.signal(signal.SIGINT, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


class AppQueue(Queue):
    """RQ's queue, except that a lost Redis while waiting for a job ends the worker's loop,
    where RQ would retry in there for up to a minute apart with an error line per try."""

    @classmethod
    def dequeue_any(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dequeue_any(*args, **kwargs)
        except REDIS_LOST:
            raise RedisLost from None


class AppScheduler(RQScheduler):
    """RQ's scheduler process (it moves due retries back to the queue), which ends quietly when
    Redis goes away: the worker starts a new one with its next loop, once Redis is back."""

    def work(self) -> None:
        try:
            super().work()
        except REDIS_LOST:
            self.log.debug("scheduler: Redis went away")


class AppWorker(Worker):
    """RQ's forking worker whose work horses run every job inside the app context.

    A context pushed before work() reaches the forked horse too (fork copies the main thread's
    context), but pushing it here also covers other ways of running a job and makes the
    dependency visible instead of accidental.

    Redis going away ends the loop (RedisLost) rather than the process; a horse that is running
    a job is still watched until it ends, whatever Redis does meanwhile.
    """

    queue_class = AppQueue

    def __init__(self, *args: Any, app: Flask, stop: StopSignal, **kwargs: Any) -> None:
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL)
        super().__init__(*args, **kwargs)
        self.app = app
        self.stop = stop
        self.redis_lost = False

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        if not self.is_horse:
            with self.app.app_context():
                return super().perform_job(job, queue, execution)
        engine = self.app.extensions["komma"].engine
        # Pooled connections copied by fork belong to the parent: forget them unclosed.
        engine.dispose(close=False)
        beat_connection = connect_redis(self.app.extensions["komma"].config.redis_url, fail_fast=True)
        try:
            with horse_heartbeat(beat_connection, job.id), self.app.app_context():
                return super().perform_job(job, queue, execution)
        finally:
            # The horse ends with os._exit: close its connections cleanly first.
            engine.dispose()
            beat_connection.close()

    # Redis going away ---------------------------------------------------------------------------

    @contextmanager
    def _ends_when_redis_is_lost(self) -> Iterator[None]:
        try:
            yield
        except RedisLost:
            self.redis_lost = True
            raise
        except REDIS_LOST:
            self.redis_lost = True
            raise RedisLost from None

    def work(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return super().work(*args, **kwargs)
        except REDIS_LOST:
            # Lost while starting (registration, scheduler), before RQ's loop and its clean-up.
            self.redis_lost = True
            self.teardown()
            return False

    def check_for_suspension(self, burst: bool) -> None:
        with self._ends_when_redis_is_lost():
            super().check_for_suspension(burst)

    def run_maintenance_tasks(self) -> None:
        with self._ends_when_redis_is_lost():
            super().run_maintenance_tasks()

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        with self._ends_when_redis_is_lost():
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def execute_job(self, job: Job, queue: Queue) -> None:
        with self._ends_when_redis_is_lost():
            super().execute_job(job, queue)

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)  # the pipeline's owner sees its errors
            return
        try:
            super().heartbeat(timeout)
        except REDIS_LOST:
            if self.horse_pid:
                return  # a horse is running: keep watching it (maintain_heartbeats)
            self.redis_lost = True
            raise RedisLost from None

    def maintain_heartbeats(self, job: Job, execution: Execution) -> None:
        # The horse goes on with its job whatever Redis does, and beats for itself; watching it
        # until it ends matters more than telling Redis that this worker still lives.
        with suppress(*REDIS_LOST):
            super().maintain_heartbeats(job, execution)

    def _pubsub_exception_handler(self, exc: Exception, pubsub: PubSub, pubsub_thread: PubSubWorkerThread) -> None:
        if isinstance(exc, RedisConnectionError) or self.redis_lost:
            # RQ logs each try; the main loop notices a lost Redis itself and says so once.
            # redis-py subscribes again when Redis answers.
            time.sleep(1)
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's _start_scheduler, with AppScheduler for RQScheduler."""
        self.scheduler = AppScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return  # another worker's scheduler has it; maintenance tries again
        if not burst:
            self.scheduler.start()
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            self.scheduler.register_death()

    def teardown(self) -> None:
        """RQ's goodbye (scheduler, registration, listener), without Redis when it is away:
        the registration then expires by itself, or say_goodbye() removes it later."""
        if self.is_horse:
            return
        if self.scheduler is not None:
            self.stop_scheduler()
        if not self.redis_lost:
            try:
                self.register_death()
            except REDIS_LOST:
                self.redis_lost = True
        self.unsubscribe()

    def unsubscribe(self) -> None:
        if not self.redis_lost:
            try:
                super().unsubscribe()
                return
            except REDIS_LOST:
                self.redis_lost = True
        # Nobody to unsubscribe from: only end the listening thread.
        if self.pubsub_thread is not None:
            self.pubsub_thread.stop()
            self.pubsub_thread.join(timeout=1)
        if self.pubsub is not None:
            self.pubsub.close()

    def say_goodbye(self) -> None:
        """Once Redis answers again: what teardown could not tell it while it was away."""
        with suppress(*REDIS_LOST):
            if self.scheduler is not None:
                # Its process ended with Redis and kept the lock: the next scheduler needs it
                # now, not when it expires.
                self.scheduler.release_locks()
            self.register_death()

    # Stopping -------------------------------------------------------------------------------------

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop.requested = True
        # While a horse runs, RQ notes the request in Redis: with Redis away the horse is still
        # waited for (warm shutdown), instead of the failed note ending the loop under it.
        with suppress(*REDIS_LOST):
            super().request_stop(signum, frame)

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        if self.stop.requested:
            # Signalled while starting, before RQ listened: stop as RQ would, before any job.
            self._stop_requested = True


def redis_url_for(app: Flask) -> str:
    url: str | None = app.extensions["komma"].config.redis_url
    if not url:
        raise NoRedisError(
            "KOMMA_REDIS_URL is not set. Without Redis, jobs run inline in the web process "
            "after each commit and no worker or cron process is needed; "
            "`komma outbox relay` re-runs what failed."
        )
    return url


def wait_for_redis(url: str, stop: StopSignal, role: str, *, lost: bool = False) -> bool:
    """Return True once Redis answers, or False if asked to stop first; tries with back-off.

    One log line when Redis is lost (or found unreachable) and one when it answers again,
    nothing per try; the reason is an exception class name only.
    """
    probe = connect_redis(url, fail_fast=True)
    delay = FIRST_RETRY
    away_since = time.monotonic() if lost else None
    if lost:
        log.warning("%s: lost the connection to Redis; reconnecting", role)
    try:
        while not stop.requested:
            try:
                probe.ping()
            except REDIS_LOST as exc:
                if away_since is None:
                    away_since = time.monotonic()
                    log.warning("%s: Redis is unreachable (%s); waiting for it", role, type(exc).__name__)
                _sleep(delay, stop)
                delay = min(delay * 2, LONGEST_RETRY)
                continue
            if away_since is not None:
                log.info("%s: Redis answers again after %.0f s; resuming", role, time.monotonic() - away_since)
            return True
    finally:
        probe.close()
    log.info("%s: stopped while waiting for Redis", role)
    return False


def _sleep(seconds: float, stop: StopSignal) -> None:
    """Sleep, but wake within a tenth of a second of a stop request."""
    deadline = time.monotonic() + seconds
    while not stop.requested and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))


def run_worker(app: Flask, *, burst: bool = False, jobs_modules: Iterable[str] = ()) -> bool:
    """Work the "komma" queue until stopped (or empty, with burst); True if it ran any job.

    A worker's loop ends when Redis goes away; once Redis answers again a new worker (with a new
    registration and scheduler) takes over, so the process outlives the outage. With burst, a
    lost Redis ends the command instead (RedisGoneError).
    """
    url = redis_url_for(app)
    # Import handlers before forking, so every horse has them without importing again.
    load_job_modules(jobs_modules)
    connection = connect_redis(url)
    stop = StopSignal()
    worked = False
    lost: AppWorker | None = None  # the last worker, when Redis went away under it
    went_away = False
    try:
        while True:
            stop.listen()
            if burst and went_away:
                raise RedisGoneError("Redis is unreachable; the burst ended early")
            if not burst and not wait_for_redis(url, stop, "worker", lost=went_away):
                return worked
            if lost is not None:
                lost.say_goodbye()
            try:
                worker = AppWorker([QUEUE_NAME], connection=connection, app=app, stop=stop)
                # The scheduler moves retries (RQ's back-off) from the scheduled registry back to the queue.
                worked = worker.work(burst=burst, with_scheduler=True) or worked
            except REDIS_LOST:
                lost, went_away = None, True  # gone while the worker registered its client name
                continue
            finally:
                stop.listen()
            went_away = worker.redis_lost
            lost = worker if went_away else None
            if stop.requested or (burst and not went_away):
                return worked
            if not went_away:
                # RQ logged why; a pause keeps a lasting fault from spinning.
                log.warning("worker: RQ's loop ended unexpectedly; a new one starts in %.0f s", LONGEST_RETRY)
                _sleep(LONGEST_RETRY, stop)
    except StopRequested:
        # RQ's signal handler, still installed for a moment after its loop ended, raised it here.
        return worked


def run_cron(app: Flask) -> None:
    """Enqueue the project's schedule until stopped; run exactly one per installation.

    RQ's CronScheduler knows when each job is due; this loop drives it (RQ's own loop ends on the
    first Redis error), so an outage means waiting, and what fell due meanwhile is enqueued once
    Redis answers again.
    """
    url = redis_url_for(app)
    scheduler = CronScheduler(connection=connect_redis(url))
    register_schedule(scheduler, schedule_of(app))
    stop = StopSignal()
    stop.listen()
    went_away = False
    while wait_for_redis(url, stop, "cron", lost=went_away):
        try:
            scheduler.register_birth()
            while not stop.requested:
                if scheduler.enqueue_jobs():
                    # When each job ran last, for RQ's monitoring of cron schedulers.
                    scheduler.save()
                scheduler.heartbeat()
                _sleep(scheduler.calculate_sleep_interval(), stop)
        except REDIS_LOST:
            went_away = True
            continue
        with suppress(*REDIS_LOST):
            scheduler.register_death()
        log.info("cron: stopped")
        return
