"""Redis stopped while reports come in, and /healthz: with a redis-server of the test's own.

Every submission gets its receipt and is stored while Redis is down; once Redis is back, the
outbox relay and a real worker deliver every "new report" mail exactly once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from flask import Flask
from redis import Redis
from rq.job import JobStatus
from sqlalchemy import func, select

from core.db import session_scope
from reporting.models import Case
from tests.factories import add_office, pdf_with
from tests.reliability.conftest import delivered, outbox, rq_job
from tests.reliability.redis_server import RedisServer
from tests.reliability.smtp_server import SmtpServer
from tests.web import csrf_token, minimal_report_form, post_minimal_report
from tests.workers.conftest import KommaProcess, wait_for

pytestmark = pytest.mark.redis

DURING_OUTAGE = 3


def count_cases(app: Flask) -> int:
    with session_scope(app.extensions["komma"].session_factory) as session:
        return session.scalar(select(func.count()).select_from(Case)) or 0


def test_reports_during_a_redis_outage_are_kept_and_notified_exactly_once(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    smtp: SmtpServer,
    start_worker: Callable[[], KommaProcess],
) -> None:
    smtp.start()
    app = make_app(redis_url=own_redis.url, smtp_url=smtp.url)
    with session_scope(app.extensions["komma"].session_factory) as session:
        office = add_office(session, app.extensions["komma"].config, "astadt")

    # Before the outage: queued in Redis, but no worker has taken it yet.
    post_minimal_report(app, "astadt")
    (before,) = outbox(app, "notify_new_report")
    connection = Redis.from_url(own_redis.url)
    try:
        assert rq_job(connection, before.id).get_status() == JobStatus.QUEUED
    finally:
        connection.close()

    # Redis dies (no persistence: the queued job dies with it); reports keep coming.
    own_redis.stop()
    started = time.monotonic()
    receipts = [
        post_minimal_report(app, "astadt", files=[("foto.pdf", pdf_with(f"Foto {n}"))]) for n in range(DURING_OUTAGE)
    ]
    assert time.monotonic() - started < 10, "a request waited for the unreachable Redis"
    assert len(set(receipts)) == DURING_OUTAGE
    assert count_cases(app) == 1 + DURING_OUTAGE
    entries = outbox(app, "notify_new_report")
    assert len(entries) == 1 + DURING_OUTAGE
    assert all(e.completed_at is None for e in entries)
    # The rows written during the outage wait for the relay, undispatched.
    assert [e.dispatched_at is None for e in entries] == [False] + [True] * DURING_OUTAGE
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["outbox", "relay", "--older-than", "0"])
    assert refused.exit_code != 0
    assert "Redis is unreachable" in refused.output

    # Redis is back, empty. The relay sends everything not completed that RQ does not hold,
    # including the row whose job Redis lost; a second pass sends nothing twice.
    own_redis.start()
    relayed = runner.invoke(args=["outbox", "relay", "--older-than", "0"])
    assert relayed.exit_code == 0, relayed.output
    assert relayed.output.strip() == str(1 + DURING_OUTAGE)
    assert runner.invoke(args=["outbox", "relay", "--older-than", "0"]).output.strip() == "0"

    worker = start_worker()
    wait_for(
        lambda: all(e.completed_at is not None for e in outbox(app, "notify_new_report")), "every notification", worker
    )
    smtp.wait_for(2 * (1 + DURING_OUTAGE))
    assert runner.invoke(args=["outbox", "relay", "--older-than", "0"]).output.strip() == "0"
    time.sleep(1.5)  # anything sent twice would arrive now

    # Exactly once per submission and recipient: each entry's delivery is recorded for both
    # addresses, and each address received as many mails as there were submissions.
    for entry in entries:
        assert entry.args.keys() == {"case_id"}
        for address in office.office_addresses:
            assert delivered(app, entry.id, address), (entry.id, address)
    for address in office.office_addresses:
        assert len(smtp.to(address)) == 1 + DURING_OUTAGE, address
    assert smtp.count() == 2 * (1 + DURING_OUTAGE)
    assert {e.attempts for e in outbox(app, "notify_new_report")} == {0}


def test_readiness_stays_up_while_redis_is_away_and_liveness_touches_nothing(
    make_app: Callable[..., Flask], own_redis: RedisServer
) -> None:
    """/healthz is the load balancer's: reports need only the database, so a Redis outage reads
    "degraded" with 200 (jobs wait in the outbox). /healthz/live is the supervisor's."""
    app = make_app(redis_url=own_redis.url)
    client = app.test_client()

    def check(path: str, status: int, expected: dict[str, str]) -> None:
        response = client.get(path)
        assert response.status_code == status
        assert response.mimetype == "application/json"
        assert json.loads(response.get_data()) == expected
        assert "Set-Cookie" not in response.headers
        assert client.get_cookie("komma_session") is None

    check("/healthz", 200, {"status": "ok", "database": "ok", "redis": "ok"})
    own_redis.stop()
    started = time.monotonic()
    check("/healthz", 200, {"status": "degraded", "database": "ok", "redis": "unavailable"})
    check("/healthz/live", 200, {"status": "alive"})
    assert time.monotonic() - started < 5
    # Reports are still taken while the readiness check says "degraded".
    path = "/melden/" + _town_slug(app)
    reporter = app.test_client()
    response = reporter.post(path, data={**minimal_report_form(), "csrf_token": csrf_token(reporter, path)})
    assert response.status_code == 303
    own_redis.start()
    check("/healthz", 200, {"status": "ok", "database": "ok", "redis": "ok"})
    # Without Redis configured (jobs inline), only the database counts.
    check_inline = make_app().test_client().get("/healthz")
    assert check_inline.status_code == 200
    assert json.loads(check_inline.get_data()) == {"status": "ok", "database": "ok", "redis": "not configured"}


def _town_slug(app: Flask) -> str:
    with session_scope(app.extensions["komma"].session_factory) as session:
        return add_office(session, app.extensions["komma"].config, "hstadt").town.slug
