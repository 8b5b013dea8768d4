"""`komma worker` and `komma cron` across a Redis outage, with a redis-server of the test's own.

Both processes wait for Redis with back-off, say so once when it goes and once when it is back,
and carry on; SIGTERM stops them at once also while they wait.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from rq import Queue, Worker
from rq.cron import CronScheduler

from tests.reliability.conftest import queue_job, run_retry_now, running_blocked_job, wait_for_retry
from tests.reliability.redis_server import RedisServer
from tests.reliability.slow_jobs import address, release
from tests.reliability.smtp_server import SmtpServer
from tests.workers.conftest import KommaProcess, load_entry, wait_for
from tests.workers.sample_jobs import CONTENT, runs
from workers.dispatch import QUEUE_NAME

pytestmark = pytest.mark.redis

OUTAGE = 2  # seconds: the back-off grows past a second between tries


def stop_promptly(process: KommaProcess, within: float = 1.5) -> None:
    """SIGTERM ends the process cleanly, while it waits for Redis within a second or so."""
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    assert process.process.wait(timeout=10) == 0, process.output()
    assert time.monotonic() - started < within, process.output()


def test_the_worker_outlives_a_redis_outage_and_works_on_afterwards(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    connection: Redis,
    start_worker: Callable[[], KommaProcess],
    marker_dir: Path,
) -> None:
    app = make_app(redis_url=own_redis.url)
    worker = start_worker()
    wait_for(lambda: Worker.count(connection=connection) == 1, "the worker to register", worker)

    own_redis.stop()
    wait_for(lambda: "lost the connection to Redis" in worker.output(), "the worker to notice", worker)
    time.sleep(OUTAGE)
    assert worker.process.poll() is None

    # Back, and empty: the registration, the scheduler's lock and the queue are gone with it.
    own_redis.start()
    entry_id = queue_job(app, "test.fail_once", "after-outage")
    # The job fails once, so RQ's scheduler (restarted with the new worker) must run its retry.
    wait_for_retry(connection, entry_id, worker)
    run_retry_now(connection, entry_id, worker)
    wait_for(lambda: load_entry(app, entry_id).completed_at is not None, "the retry", worker)
    assert runs("after-outage") == ["failed", "ran"]
    assert Worker.count(connection=connection) == 1  # registered anew, once

    # Working again, it stops as RQ's warm shutdown does: its scheduler looks once a second.
    stop_promptly(worker, within=5)
    log = worker.output()
    # One line per change of state, none per try, and nothing but class names as reasons.
    assert log.count("lost the connection to Redis") == 1
    assert log.count("Redis answers again") == 1
    assert "could not connect" not in log
    assert "redis.exceptions" not in log
    assert CONTENT not in log


def test_sigterm_during_an_outage_still_waits_for_the_running_job(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    smtp: SmtpServer,
    start_worker: Callable[[], KommaProcess],
    marker_dir: Path,
) -> None:
    smtp.start()
    app = make_app(redis_url=own_redis.url)
    worker = start_worker()
    token = "warm"
    entry_id = running_blocked_job(app, worker, token)

    own_redis.stop()
    worker.process.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert worker.process.poll() is None  # a warm shutdown: the horse's job is waited for
    release(token)
    assert worker.process.wait(timeout=10) == 0, worker.output()
    # Done, though its horse could tell Redis nothing; the relay finds the row completed.
    assert load_entry(app, entry_id).completed_at is not None
    smtp.wait_for(1)
    assert len(smtp.to(address(token))) == 1


def test_a_worker_started_without_redis_waits_and_stops_at_once_on_sigterm(
    make_app: Callable[..., Flask], own_redis: RedisServer, start_worker: Callable[[], KommaProcess]
) -> None:
    own_redis.stop()
    worker = start_worker()
    wait_for(lambda: "Redis is unreachable (ConnectionError)" in worker.output(), "the worker to wait", worker)
    time.sleep(2)  # the back-off has grown to seconds between tries
    stop_promptly(worker)
    log = worker.output()
    assert "stopped while waiting for Redis" in log
    assert log.count("Redis is unreachable") == 1
    assert "Traceback" not in log


def test_a_burst_worker_without_redis_ends_with_an_error_instead_of_waiting(
    make_app: Callable[..., Flask], own_redis: RedisServer, start_komma: Callable[..., KommaProcess]
) -> None:
    own_redis.stop()
    burst = start_komma("worker", "--burst", redis_url=own_redis.url)
    assert burst.process.wait(timeout=10) == 1
    assert "Redis is unreachable; the burst ended early" in burst.output()
    assert "Traceback" not in burst.output()


def test_cron_waits_for_redis_then_enqueues_the_relay_and_stops_at_once(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    connection: Redis,
    start_komma: Callable[..., KommaProcess],
) -> None:
    own_redis.stop()
    cron = start_komma("cron", redis_url=own_redis.url)
    wait_for(lambda: "cron: Redis is unreachable" in cron.output(), "cron to wait", cron)

    own_redis.start()
    # An interval job runs once at start: the relay is enqueued as soon as Redis answers.
    wait_for(lambda: Queue(QUEUE_NAME, connection=connection).count == 1, "the relay to be enqueued", cron)
    (job,) = Queue(QUEUE_NAME, connection=connection).get_jobs()
    assert job.func_name == "workers.relay.relay_outbox"
    assert len(CronScheduler.all(connection)) == 1

    own_redis.stop()  # while cron sleeps until the next relay is due
    stop_promptly(cron)
    log = cron.output()
    assert log.count("Redis is unreachable") == 1
    assert log.count("Redis answers again") == 1
    assert "Traceback" not in log
