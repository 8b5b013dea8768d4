"""A worker killed (SIGKILL) in the middle of a job: the job runs again and its mail goes out once.

The job (tests.reliability.slow_jobs) mails through mail_once and then blocks, or blocks first and
mails afterwards. Killing only the work horse is RQ's "work-horse terminated unexpectedly": the
worker schedules a retry. Killing the whole worker (horse, worker, its scheduler) leaves the job
"started" in Redis until RQ's heartbeat for it expires; the next worker's maintenance then
retries it. The tests make those expiries happen now instead of in 90 seconds.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler

from core.db import session_scope
from tests.reliability.conftest import alive, horse_pid, outbox, rq_job, run_retry_now, wait_for_retry
from tests.reliability.redis_server import RedisServer
from tests.reliability.slow_jobs import address, release
from tests.reliability.smtp_server import SmtpServer
from tests.workers.conftest import KommaProcess, load_entry, wait_for
from tests.workers.sample_jobs import runs
from workers import add_job
from workers.dispatch import QUEUE_NAME
from workers.relay import relay_pending

pytestmark = pytest.mark.redis


def queue(app: Flask, job: str, token: str) -> str:
    with session_scope(app.extensions["komma"].session_factory) as session:
        return add_job(session, job, token=token).id


def kill_horse(marker_dir: Path, token: str) -> None:
    pid = horse_pid(marker_dir, token)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), "the work horse to die")


def kill_worker(worker: KommaProcess, marker_dir: Path, token: str) -> None:
    """The whole worker dies at once, as when its machine or container does."""
    pid = horse_pid(marker_dir, token)
    os.kill(pid, signal.SIGKILL)  # the horse has a process group of its own
    os.killpg(worker.process.pid, signal.SIGKILL)  # the worker and its scheduler
    worker.process.wait(timeout=10)
    wait_for(lambda: not alive(pid), "the work horse to die")


def expire_what_the_dead_worker_held(connection: Redis) -> None:
    """What time does after a crash: the job's execution heartbeat (90 s) and the scheduler's
    lock (61 s) expire, so the next worker finds the job abandoned and may schedule retries."""
    registry = StartedJobRegistry(QUEUE_NAME, connection=connection)
    for member in connection.zrange(registry.key, 0, -1):
        connection.zadd(registry.key, {member: 1})
    connection.delete(RQScheduler.get_locking_key(QUEUE_NAME))


def completed(app: Flask, entry_id: str) -> Callable[[], bool]:
    return lambda: load_entry(app, entry_id).completed_at is not None


@pytest.mark.parametrize("victim", ["horse", "worker"])
def test_a_job_killed_after_its_mail_runs_again_without_mailing_twice(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    connection: Redis,
    smtp: SmtpServer,
    start_worker: Callable[[], KommaProcess],
    marker_dir: Path,
    victim: str,
) -> None:
    smtp.start()
    app = make_app(redis_url=own_redis.url, smtp_url=smtp.url)
    worker = start_worker()
    token = f"after-{victim}"
    entry_id = queue(app, "test.mail_then_block", token)
    wait_for(lambda: "mailed" in runs(token), "the mail", worker)
    smtp.wait_for(1)
    assert len(smtp.to(address(token))) == 1

    if victim == "horse":
        kill_horse(marker_dir, token)
        # The worker saw its horse die: RQ schedules a retry (the relay leaves it to RQ).
        wait_for_retry(connection, entry_id, worker)
        assert rq_job(connection, entry_id).retries_left == 4
        worker.stop()
    else:
        kill_worker(worker, marker_dir, token)
        # Nobody runs it now, but RQ still calls it started: the relay must not queue it twice.
        assert rq_job(connection, entry_id).get_status() == JobStatus.STARTED
        expire_what_the_dead_worker_held(connection)
    assert load_entry(app, entry_id).completed_at is None  # the crash undid the job's transaction
    assert relay_pending(app, older_than_seconds=0) == 0
    release(token)

    worker = start_worker()
    wait_for_retry(connection, entry_id, worker)
    run_retry_now(connection, entry_id, worker)
    wait_for(completed(app, entry_id), "the job to run again", worker)
    assert runs(token)[0].startswith("started:")
    assert [line.split(":")[0] for line in runs(token)] == ["started", "mailed", "started", "mailed"]
    assert relay_pending(app, older_than_seconds=0) == 0
    assert len(smtp.to(address(token))) == 1  # mail_once's marker held across the crash
    assert smtp.count() == 1
    (entry,) = outbox(app)
    assert entry.failed_at is None


def test_a_job_killed_before_its_mail_mails_once_after_the_restart(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    connection: Redis,
    smtp: SmtpServer,
    start_worker: Callable[[], KommaProcess],
    marker_dir: Path,
) -> None:
    smtp.start()
    app = make_app(redis_url=own_redis.url, smtp_url=smtp.url)
    worker = start_worker()
    token = "before"
    entry_id = queue(app, "test.block_then_mail", token)
    wait_for(lambda: bool(runs(token)), "the job to start", worker)
    kill_worker(worker, marker_dir, token)
    assert smtp.count() == 0
    expire_what_the_dead_worker_held(connection)
    release(token)

    worker = start_worker()
    wait_for_retry(connection, entry_id, worker)
    run_retry_now(connection, entry_id, worker)
    wait_for(completed(app, entry_id), "the job to run again", worker)
    smtp.wait_for(1)
    assert [line.split(":")[0] for line in runs(token)] == ["started", "started", "mailed"]
    assert len(smtp.to(address(token))) == 1
    assert relay_pending(app, older_than_seconds=0) == 0
