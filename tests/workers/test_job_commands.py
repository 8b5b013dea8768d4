"""The job commands on the app's CLI and the cron schedule."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from rq.cron import CronScheduler
from sqlalchemy.orm import Session

from core.db import session_scope
from tests.workers.conftest import CLOSED_REDIS_URL
from tests.workers.sample_jobs import runs
from workers import add_job
from workers.dispatch import QUEUE_NAME
from workers.schedule import register_schedule, schedule_of


@pytest.mark.parametrize("command", ["worker", "cron"])
def test_worker_and_cron_refuse_without_redis(app: Flask, command: str) -> None:
    result = app.test_cli_runner().invoke(args=[command])
    assert result.exit_code != 0
    assert "KOMMA_REDIS_URL is not set" in result.output


def test_outbox_relay_prints_how_many_it_sent(app: Flask, session: Session, marker_dir: Path) -> None:
    add_job(session, "test.fail_once", token="cli")
    session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["outbox", "relay"]).output.strip() == "0"  # not yet lost
    result = runner.invoke(args=["outbox", "relay", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1"
    assert runs("cli") == ["failed", "ran"]


def test_outbox_relay_reports_an_unreachable_redis(make_app: Callable[..., Flask], marker_dir: Path) -> None:
    app = make_app(redis_url=CLOSED_REDIS_URL)
    with session_scope(app.extensions["komma"].session_factory) as session:
        add_job(session, "test.mark", token="unreachable")
    result = app.test_cli_runner().invoke(args=["outbox", "relay", "--older-than", "0"])
    assert result.exit_code != 0
    assert "Redis is unreachable" in result.output


def test_schedule_has_the_relay_and_the_periodic_jobs(app: Flask) -> None:
    # Registering talks to no server; the URL only satisfies the constructor.
    connection = Redis.from_url("redis://127.0.0.1:1/0")
    scheduler = CronScheduler(connection=connection)
    register_schedule(scheduler, schedule_of(app))
    jobs = {job["func_name"]: job for job in json.loads(scheduler.to_dict()["cron_jobs"])}
    relay = jobs["workers.relay.relay_outbox"]
    assert relay["queue_name"] == QUEUE_NAME
    assert relay["interval"] == 30
    expected = {
        "clearing.cases.jobs.deadline_scan": "5 * * * *",
        "clearing.cases.jobs.housekeeping": "35 * * * *",
        "clearing.statistics.jobs.statistics_refresh": "50 * * * *",
        "clearing.cases.jobs.retention_purge": "15 3 * * *",
        "clearing.cases.jobs.audit_check": "45 3 * * *",
        "reporting.jobs.reseal_notify_addresses": "25 * * * *",
    }
    for name, cron in expected.items():
        assert jobs[name]["cron"] == cron, name
        assert jobs[name]["queue_name"] == QUEUE_NAME
    assert set(jobs) == {"workers.relay.relay_outbox", *expected}
    connection.close()
