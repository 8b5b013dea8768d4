"""A worker killed (SIGKILL) in the middle of a job: the job runs again and its mail goes out once.

The job (tests.reliability.slow_jobs) mails through mail_once and then blocks, or blocks first and
mails afterwards. Killing only the work horse is RQ's "work-horse terminated unexpectedly": the
worker schedules a retry. Killing the whole worker (worker, its scheduler, horse) leaves the job
"started" in Redis, which RQ would give up only when its registries expire it, many minutes
later; once the horse's own heartbeat has expired (seconds), one relay pass sends it again. A horse
that outlives its worker keeps beating, and the relay leaves its job alone.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from rq.job import JobStatus

from tests.reliability.conftest import (
    alive,
    horse_pid,
    outbox,
    queue_job,
    rq_job,
    run_retry_now,
    running_blocked_job,
    wait_for_retry,
)
from tests.reliability.redis_server import RedisServer
from tests.reliability.slow_jobs import address, release
from tests.reliability.smtp_server import SmtpServer
from tests.workers.conftest import KommaProcess, load_entry, wait_for
from tests.workers.sample_jobs import runs
from workers.dispatch import LOST_RUN_ERROR, rq_job_id
from workers.relay import relay_pending
from workers.worker_heartbeat import HORSE_TTL, horse_alive, horse_key

pytestmark = pytest.mark.redis


def kill_horse(marker_dir: Path, token: str) -> None:
    pid = horse_pid(marker_dir, token)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), "the work horse to die")


def kill_worker(worker: KommaProcess, marker_dir: Path, token: str) -> None:
    """The whole worker dies at once, as when its machine or container does."""
    pid = horse_pid(marker_dir, token)
    # The worker and its scheduler first, so nobody is left to see the horse die.
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=10)
    os.kill(pid, signal.SIGKILL)  # the horse has a process group of its own
    wait_for(lambda: not alive(pid), "the work horse to die")


def wait_for_the_heartbeat_to_expire(connection: Redis, entry_id: str, *processes: KommaProcess) -> None:
    started = time.monotonic()
    wait_for(
        lambda: not horse_alive(connection, rq_job_id(entry_id)),
        "the dead horse's heartbeat to expire",
        *processes,
        timeout=HORSE_TTL + 5,
    )
    assert time.monotonic() - started <= HORSE_TTL + 1


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
    entry_id = queue_job(app, "test.mail_then_block", token)
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
        # Nobody runs it now, but RQ still calls it started, and until its heartbeat expires a
        # horse might still run it: the relay must not queue it twice.
        assert rq_job(connection, entry_id).get_status() == JobStatus.STARTED
    assert load_entry(app, entry_id).completed_at is None  # the crash undid the job's transaction
    assert relay_pending(app, older_than_seconds=0) == 0
    release(token)

    worker = start_worker()
    if victim == "horse":
        wait_for_retry(connection, entry_id, worker)
        run_retry_now(connection, entry_id, worker)
    else:
        wait_for_the_heartbeat_to_expire(connection, entry_id, worker)
        assert rq_job(connection, entry_id).get_status() == JobStatus.STARTED  # RQ would wait for minutes
        assert relay_pending(app, older_than_seconds=0) == 1
    wait_for(completed(app, entry_id), "the job to run again", worker)
    assert runs(token)[0].startswith("started:")
    assert [line.split(":")[0] for line in runs(token)] == ["started", "mailed", "started", "mailed"]
    assert relay_pending(app, older_than_seconds=0) == 0
    assert len(smtp.to(address(token))) == 1  # mail_once's marker held across the crash
    assert smtp.count() == 1
    (entry,) = outbox(app)
    assert entry.failed_at is None
    if victim == "worker":
        # The lost run counts, so a job that kills its worker every time ends up given up.
        assert (entry.attempts, entry.last_error) == (1, LOST_RUN_ERROR)


def test_a_job_killed_before_its_mail_mails_once_after_one_relay_pass(
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
    entry_id = running_blocked_job(app, worker, token)
    kill_worker(worker, marker_dir, token)
    killed = time.monotonic()
    assert smtp.count() == 0
    assert relay_pending(app, older_than_seconds=0) == 0
    release(token)

    worker = start_worker()
    wait_for_the_heartbeat_to_expire(connection, entry_id, worker)
    assert relay_pending(app, older_than_seconds=0) == 1
    wait_for(completed(app, entry_id), "the job to run again", worker)
    assert time.monotonic() - killed < 30  # well within the relay's minute, not RQ's many minutes
    smtp.wait_for(1)
    assert [line.split(":")[0] for line in runs(token)] == ["started", "started", "mailed"]
    assert len(smtp.to(address(token))) == 1
    assert relay_pending(app, older_than_seconds=0) == 0


def test_a_horse_that_outlives_its_worker_keeps_its_job(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    connection: Redis,
    smtp: SmtpServer,
    start_worker: Callable[[], KommaProcess],
    marker_dir: Path,
) -> None:
    smtp.start()
    app = make_app(redis_url=own_redis.url)
    worker = start_worker()
    token = "orphan"
    entry_id = running_blocked_job(app, worker, token)
    pid = horse_pid(marker_dir, token)
    try:
        # The worker's main process and its scheduler die; the horse (a process group of its
        # own) runs on, and nobody sends RQ's heartbeats for the job any more.
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
        assert alive(pid)
        key = horse_key(rq_job_id(entry_id))
        before = connection.pttl(key)
        assert before > 0
        wait_for(lambda: connection.pttl(key) > before, "the orphaned horse to beat")
        # Its horse still runs it: a relay pass must not queue it a second time.
        assert relay_pending(app, older_than_seconds=0) == 0

        release(token)
        wait_for(completed(app, entry_id), "the orphaned horse to finish the job")
        # The horse tells RQ itself; nothing is left for the relay.
        wait_for(lambda: rq_job(connection, entry_id).get_status() == JobStatus.FINISHED, "RQ to hear of it")
        assert relay_pending(app, older_than_seconds=0) == 0
        smtp.wait_for(1)
        assert [line.split(":")[0] for line in runs(token)] == ["started", "mailed"]
        assert len(smtp.to(address(token))) == 1
        assert load_entry(app, entry_id).attempts == 0
    finally:
        release(token)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
