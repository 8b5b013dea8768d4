"""The RQ worker and the cron process, both bound to one Flask app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask
from redis import Redis
from rq import Worker
from rq.cron import CronScheduler
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue

from workers.dispatch import QUEUE_NAME, connect_redis
from workers.jobs import load_job_modules
from workers.schedule import register_schedule


class NoRedisError(RuntimeError):
    """The command needs Redis and KOMMA_REDIS_URL is unset."""


class AppWorker(Worker):
    """RQ's forking worker whose work horses run every job inside the app context.

    A context pushed before work() reaches the forked horse too (fork copies the main thread's
    context), but pushing it here also covers other ways of running a job and makes the
    dependency visible instead of accidental.
    """

    def __init__(self, *args: Any, app: Flask, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        engine = self.app.extensions["komma"].engine
        if self.is_horse:
            # Pooled connections copied by fork belong to the parent: forget them unclosed.
            engine.dispose(close=False)
        try:
            with self.app.app_context():
                return super().perform_job(job, queue, execution)
        finally:
            if self.is_horse:
                # The horse ends with os._exit: close its connections cleanly first.
                engine.dispose()


def redis_for(app: Flask) -> Redis:
    url = app.extensions["komma"].config.redis_url
    if not url:
        raise NoRedisError(
            "KOMMA_REDIS_URL is not set. Without Redis, jobs run inline in the web process "
            "after each commit and no worker or cron process is needed; "
            "`komma outbox relay` re-runs what failed."
        )
    return connect_redis(url)


def run_worker(app: Flask, *, burst: bool = False, jobs_modules: Iterable[str] = ()) -> bool:
    """Work the "komma" queue until stopped (or empty, with burst); True if it ran any job."""
    connection = redis_for(app)
    # Import handlers before forking, so every horse has them without importing again.
    load_job_modules(jobs_modules)
    worker = AppWorker([QUEUE_NAME], connection=connection, app=app)
    # The scheduler moves retries (RQ's back-off) from the scheduled registry back to the queue.
    return worker.work(burst=burst, with_scheduler=True)


def run_cron(app: Flask) -> None:
    """Enqueue the project's schedule until stopped; run exactly one per installation."""
    scheduler = CronScheduler(connection=redis_for(app))
    register_schedule(scheduler)
    scheduler.start()
