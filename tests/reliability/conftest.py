"""Fixtures of the reliability tests: a Redis and an SMTP server of the test's own that can be
stopped, real `komma worker` processes (tests.workers' helpers), and looking at the outbox.

Every test with Redis gets a redis-server of its own: RQ's keys live in it alone, so neither the
machine's Redis nor another test run's workers or FLUSHDB can touch a test's jobs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from core.db import session_scope
from core.mail_log import delivery_key
from core.models import MailDelivery
from tests.conftest import need_service
from tests.reliability.redis_server import RedisServer
from tests.reliability.smtp_server import SmtpServer
from tests.workers.conftest import KommaProcess, make_app, marker_dir, start_komma, wait_for
from tests.workers.sample_jobs import runs
from workers import add_job
from workers.dispatch import QUEUE_NAME, rq_job_id
from workers.models import OutboxEntry

__all__ = ["make_app", "marker_dir", "start_komma"]  # tests.workers' fixtures, used here too

JOBS_MODULE = "tests.reliability.slow_jobs"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """An SMTP server on a port of its own, not yet started: nothing listens until start()."""
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test (started), which the test may stop and start again."""
    if shutil.which("redis-server") is None:
        need_service("redis-server", "the redis-server binary is not installed")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_worker(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    smtp: SmtpServer,
    start_komma: Callable[..., KommaProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], KommaProcess]:
    """`komma worker` with the test jobs on the test's own Redis, mailing to the test's SMTP
    server; stopped after the test, before the servers stop and the tables are emptied."""
    monkeypatch.setenv("KOMMA_SMTP_URL", smtp.url)

    def start() -> KommaProcess:
        return start_komma("worker", "--jobs-module", JOBS_MODULE, redis_url=own_redis.url)

    return start


@pytest.fixture
def connection(own_redis: RedisServer) -> Iterator[Redis]:
    """A client of the test's own Redis, for looking at RQ's side."""
    client = Redis.from_url(own_redis.url)
    yield client
    client.close()


# The outbox and RQ, as seen from outside ---------------------------------------------------------


def queue_job(app: Flask, job: str, token: str) -> str:
    """Commit an outbox entry for one of the test jobs (tests.reliability.slow_jobs); its id."""
    with session_scope(app.extensions["komma"].session_factory) as session:
        return add_job(session, job, token=token).id


def running_blocked_job(app: Flask, worker: KommaProcess, token: str) -> str:
    """Queue "test.block_then_mail" and return its entry id once a horse of `worker` runs it."""
    entry_id = queue_job(app, "test.block_then_mail", token)
    wait_for(lambda: bool(runs(token)), "the job to start", worker)
    return entry_id


def outbox(app: Flask, job: str | None = None) -> list[OutboxEntry]:
    with session_scope(app.extensions["komma"].session_factory) as session:
        query = select(OutboxEntry).order_by(OutboxEntry.created_at)
        if job:
            query = query.where(OutboxEntry.job == job)
        return list(session.scalars(query))


def entry_for(app: Flask, job: str, **args: str) -> OutboxEntry:
    (entry,) = [e for e in outbox(app, job) if all(e.args.get(k) == v for k, v in args.items())]
    return entry


def delivered(app: Flask, entry_id: str, address: str) -> bool:
    """Whether mail_once recorded a mail of this outbox entry to this address."""
    key = delivery_key(app.extensions["komma"].config, entry_id, address)
    with session_scope(app.extensions["komma"].session_factory) as session:
        return session.get(MailDelivery, key) is not None


def rq_job(connection: Redis, entry_id: str) -> Job:
    return Job.fetch(rq_job_id(entry_id), connection=connection)


def retry_scheduled(connection: Redis, entry_id: str) -> bool:
    """Whether RQ has scheduled the entry's retry: the job is in the scheduled registry.

    Not the status alone: Job.retry() sets SCHEDULED at once but adds the job to the registry
    in the worker's pipeline a moment later, which would undo a retry moved forward meanwhile.
    """
    registry = ScheduledJobRegistry(QUEUE_NAME, connection=connection)
    queued = connection.zscore(registry.key, rq_job_id(entry_id)) is not None
    return queued and rq_job(connection, entry_id).get_status() == JobStatus.SCHEDULED


def wait_for_retry(connection: Redis, entry_id: str, *processes: KommaProcess) -> None:
    wait_for(lambda: retry_scheduled(connection, entry_id), "RQ to schedule the retry", *processes)


def retry_delay(connection: Redis, entry_id: str) -> float:
    """Seconds until RQ runs the entry's scheduled retry."""
    registry = ScheduledJobRegistry(QUEUE_NAME, connection=connection)
    at = registry.get_scheduled_time(rq_job_id(entry_id))
    return (at - datetime.now(UTC)).total_seconds()


def run_retry_now(connection: Redis, entry_id: str, *processes: KommaProcess) -> None:
    """Skip the back-off: the worker's scheduler moves the due job back to the queue.

    Returns once the scheduler took it: the job left the scheduled registry (or, when a quick
    failure already scheduled its next retry, sits there at a later time).
    """
    assert retry_scheduled(connection, entry_id)
    Queue(QUEUE_NAME, connection=connection).schedule_job(rq_job(connection, entry_id), datetime.now(UTC))
    key = ScheduledJobRegistry(QUEUE_NAME, connection=connection).key
    now = connection.zscore(key, rq_job_id(entry_id))
    wait_for(lambda: connection.zscore(key, rq_job_id(entry_id)) != now, "RQ's scheduler", *processes)


def horse_pid(marker_dir: Path, token: str, run: int = 1) -> int:
    """The work horse that ran the `run`-th start of a slow job (it wrote its pid)."""
    lines = [line for line in (marker_dir / token).read_text().split() if line.startswith("started:")]
    return int(lines[run - 1].split(":")[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
