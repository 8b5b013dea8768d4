"""The outbox with Redis: RQ jobs after commit, a real `komma worker`, retries, the relay, cron."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import update

from core.db import session_scope
from tests.workers.conftest import CLOSED_REDIS_URL, KommaProcess, load_entry, wait_for
from tests.workers.sample_jobs import CONTENT, runs
from workers import add_job
from workers.dispatch import QUEUE_NAME, RETRY_INTERVALS, Dispatcher, rq_job_id
from workers.models import OutboxEntry
from workers.relay import relay_pending

pytestmark = pytest.mark.redis

WORKER = ("worker", "--jobs-module", "tests.workers.sample_jobs")


def queue_job(app: Flask, job: str, token: str) -> str:
    with session_scope(app.extensions["komma"].session_factory) as session:
        return add_job(session, job, token=token).id


def completed(app: Flask, entry_id: str) -> Callable[[], bool]:
    return lambda: load_entry(app, entry_id).completed_at is not None


def test_commit_enqueues_one_rq_job_with_retries(make_app: Callable[..., Flask], redis_url: str) -> None:
    app = make_app(redis_url=redis_url)
    entry_id = queue_job(app, "test.mark", "queued")
    connection = Redis.from_url(redis_url)
    try:
        job = Job.fetch(rq_job_id(entry_id), connection=connection)
        assert job.func_name == "workers.jobs.run_outbox_entry"
        assert job.args == [entry_id] or job.args == (entry_id,)
        assert job.kwargs == {}
        assert job.retries_left == len(RETRY_INTERVALS)
        assert job.retry_intervals == list(RETRY_INTERVALS)
        assert job.get_status() == JobStatus.QUEUED
        assert load_entry(app, entry_id).dispatched_at is not None
        # Sending the same row again (a relay racing the request) does not queue it twice.
        dispatcher: Dispatcher = app.extensions["komma_jobs"]
        assert dispatcher.enqueue([entry_id]) == 1
        assert relay_pending(app, older_than_seconds=0) == 0  # RQ still holds it
        assert Queue(QUEUE_NAME, connection=connection).count == 1
    finally:
        connection.close()


def test_a_real_worker_runs_the_job_once(
    make_app: Callable[..., Flask], redis_url: str, start_komma: Callable[..., KommaProcess], marker_dir: Path
) -> None:
    app = make_app(redis_url=redis_url)
    worker = start_komma(*WORKER, redis_url=redis_url)
    entry_id = queue_job(app, "test.chain", "worker")
    wait_for(completed(app, entry_id), "the job", worker)
    # The follow-up queued by the handler went through the worker's own after-commit dispatch.
    wait_for(lambda: runs("worker-next") == ["ran"], "the follow-up job", worker)
    assert runs("worker") == ["ran"]
    assert relay_pending(app, older_than_seconds=0) == 0
    assert load_entry(app, entry_id).attempts == 0


def test_relay_sends_what_redis_refused_and_it_runs_once(
    make_app: Callable[..., Flask],
    redis_url: str,
    start_komma: Callable[..., KommaProcess],
    marker_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = make_app(redis_url=CLOSED_REDIS_URL)
    entry_id = queue_job(down, "test.mark", "redis-down")  # the commit succeeds regardless
    assert "Redis unreachable" in caplog.text
    assert entry_id not in caplog.text
    stored = load_entry(down, entry_id)
    assert stored.dispatched_at is None
    assert stored.completed_at is None

    app = make_app(redis_url=redis_url)
    assert relay_pending(app, older_than_seconds=0) == 1
    assert relay_pending(app, older_than_seconds=0) == 0  # queued now: not sent twice
    worker = start_komma(*WORKER, redis_url=redis_url)
    wait_for(completed(app, entry_id), "the relayed job", worker)
    assert relay_pending(app, older_than_seconds=0) == 0
    assert runs("redis-down") == ["ran"]


def test_a_failing_handler_is_retried_with_back_off(
    make_app: Callable[..., Flask], redis_url: str, start_komma: Callable[..., KommaProcess], marker_dir: Path
) -> None:
    app = make_app(redis_url=redis_url)
    worker = start_komma(*WORKER, redis_url=redis_url)
    entry_id = queue_job(app, "test.fail_once", "retried")
    wait_for(lambda: load_entry(app, entry_id).attempts == 1, "the first failure", worker)
    connection = Redis.from_url(redis_url)
    try:
        job = Job.fetch(rq_job_id(entry_id), connection=connection)
        # RQ sets SCHEDULED a moment before it adds the job to the scheduled registry; moving the
        # retry forward before it is there would be overwritten.
        registry = Queue(QUEUE_NAME, connection=connection).scheduled_job_registry
        wait_for(
            lambda: job.get_status() == JobStatus.SCHEDULED and job.id in registry.get_job_ids(),
            "the retry to be scheduled",
            worker,
        )
        job.refresh()
        assert job.retries_left == len(RETRY_INTERVALS) - 1
        # Waiting for a retry is RQ's business, not the relay's.
        assert relay_pending(app, older_than_seconds=0) == 0
        # Skip the 10 s back-off: the worker's scheduler moves due jobs back to the queue.
        Queue(QUEUE_NAME, connection=connection).schedule_job(job, datetime.now(UTC))
        wait_for(completed(app, entry_id), "the retry", worker)
    finally:
        connection.close()
    stored = load_entry(app, entry_id)
    assert stored.attempts == 1
    assert stored.last_error == "RuntimeError"
    assert runs("retried") == ["failed", "ran"]
    log = worker.output()
    assert "RuntimeError" in log
    assert CONTENT not in log


def test_cron_relays_a_lost_entry_through_the_worker(
    make_app: Callable[..., Flask], redis_url: str, start_komma: Callable[..., KommaProcess], marker_dir: Path
) -> None:
    entry_id = queue_job(make_app(redis_url=CLOSED_REDIS_URL), "test.mark", "cron")
    app = make_app(redis_url=redis_url)
    with session_scope(app.extensions["komma"].session_factory) as session:
        # Older than the relay's threshold, as after a real outage.
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == entry_id)
            .values(created_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    worker = start_komma(*WORKER, redis_url=redis_url)
    cron = start_komma("cron", redis_url=redis_url)
    wait_for(completed(app, entry_id), "cron's relay to send the entry", worker, cron)
    assert runs("cron") == ["ran"]
