"""The SMTP server down: notification jobs fail, RQ retries them with growing back-off, and once
the server is back each mail arrives exactly once. A job that fails for good is listed for the
coordinators on /verwaltung/status, with its name and error class and no content."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from flask import Flask
from redis import Redis
from rq.job import JobStatus

from core.db import session_scope
from reporting.models import Case
from tests.factories import DESCRIPTION, Office, add_office, submit_to_office
from tests.reliability.conftest import delivered, entry_for, retry_delay, rq_job, run_retry_now, wait_for_retry
from tests.reliability.redis_server import RedisServer
from tests.reliability.smtp_server import SmtpServer
from tests.web import logged_in_client
from tests.workers.conftest import KommaProcess, load_entry, wait_for
from workers.dispatch import RETRY_INTERVALS
from workers.jobs import MAX_ATTEMPTS
from workers.models import OutboxEntry
from workers.relay import relay_pending

pytestmark = pytest.mark.redis


def new_report(app: Flask) -> tuple[Office, str, str]:
    """An office and one report; returns the office, the case id and its notification's entry id."""
    with session_scope(app.extensions["komma"].session_factory) as session:
        office = add_office(session, app.extensions["komma"].config, "cstadt")
        case_id = submit_to_office(session, app.extensions["komma"].config, office).case_id
    return office, case_id, entry_for(app, "notify_new_report", case_id=case_id).id


def fails(app: Flask, connection: Redis, entry_id: str, attempt: int, worker: KommaProcess) -> OutboxEntry:
    """Wait for the entry's `attempt`-th failure; returns the row."""
    wait_for(lambda: load_entry(app, entry_id).attempts == attempt, f"failure {attempt}", worker)
    return load_entry(app, entry_id)


def test_jobs_retry_with_back_off_while_smtp_is_down_and_each_mail_arrives_once(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    connection: Redis,
    smtp: SmtpServer,
    start_worker: Callable[[], KommaProcess],
) -> None:
    app = make_app(redis_url=own_redis.url, smtp_url=smtp.url)  # nothing listens on the SMTP port yet
    worker = start_worker()
    office, _case_id, entry_id = new_report(app)

    # Each failure is counted on the row with its error class; RQ waits longer each time.
    for attempt, interval in enumerate(RETRY_INTERVALS[:2], start=1):
        row = fails(app, connection, entry_id, attempt, worker)
        assert row.last_error == "ConnectionRefusedError"
        assert row.completed_at is None
        assert row.failed_at is None
        wait_for_retry(connection, entry_id, worker)
        assert interval - 5 < retry_delay(connection, entry_id) <= interval
        assert rq_job(connection, entry_id).retries_left == len(RETRY_INTERVALS) - attempt
        assert relay_pending(app, older_than_seconds=0) == 0  # waiting for a retry is RQ's business
        if attempt == 1:
            run_retry_now(connection, entry_id, worker)

    # The server is back but refuses the officer for now (451): the office address gets its
    # mail, the job fails once more, and its retry mails only the officer.
    smtp.refuse.add(office.officer_email)
    smtp.start()
    run_retry_now(connection, entry_id, worker)
    row = fails(app, connection, entry_id, 3, worker)
    assert row.last_error == "smtplib.SMTPRecipientsRefused"
    assert [m["To"] for m in smtp.messages] == [office.notify_email]
    wait_for_retry(connection, entry_id, worker)
    assert RETRY_INTERVALS[2] - 5 < retry_delay(connection, entry_id) <= RETRY_INTERVALS[2]
    smtp.refuse.clear()
    run_retry_now(connection, entry_id, worker)
    wait_for(lambda: load_entry(app, entry_id).completed_at is not None, "the delivery", worker)

    assert relay_pending(app, older_than_seconds=0) == 0
    time.sleep(1)  # anything sent twice would arrive now
    for address in office.office_addresses:
        assert len(smtp.to(address)) == 1, address
        assert delivered(app, entry_id, address)
    assert smtp.count() == 2
    row = load_entry(app, entry_id)
    assert row.attempts == 3
    assert row.failed_at is None
    # The worker's log names error classes, never an address (SMTPRecipientsRefused's message has it).
    log = worker.output()
    assert "SMTPRecipientsRefused" in log
    assert office.officer_email not in log
    assert office.notify_email not in log


def test_a_job_that_fails_for_good_is_shown_to_coordinators_without_content(
    make_app: Callable[..., Flask],
    own_redis: RedisServer,
    connection: Redis,
    smtp: SmtpServer,
    start_worker: Callable[[], KommaProcess],
) -> None:
    app = make_app(redis_url=own_redis.url, smtp_url=smtp.url)
    worker = start_worker()
    office, case_id, entry_id = new_report(app)
    for attempt in range(1, MAX_ATTEMPTS):
        fails(app, connection, entry_id, attempt, worker)
        wait_for_retry(connection, entry_id, worker)
        run_retry_now(connection, entry_id, worker)
    row = fails(app, connection, entry_id, MAX_ATTEMPTS, worker)
    assert row.failed_at is not None
    assert row.completed_at is None
    wait_for(lambda: rq_job(connection, entry_id).get_status() == JobStatus.FAILED, "RQ to give up", worker)
    assert relay_pending(app, older_than_seconds=0) == 0  # left for a person, not retried forever

    with session_scope(app.extensions["komma"].session_factory) as session:
        case = session.get(Case, case_id)
        assert case is not None
        reference = case.reference
    coordinator = logged_in_client(app, office.coordinator)
    response = coordinator.get("/verwaltung/status")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    caption = page.index("Ohne Inhalte: nur Art des Auftrags")
    failed_table = page[caption : page.index("</table>", caption)]
    rows = re.findall(r"<tr><td>(.*?)</tr>", failed_table, re.S)
    assert len(rows) == 1
    assert "<td>notify_new_report</td>" in f"<td>{rows[0]}"
    assert f"<td>{MAX_ATTEMPTS}</td>" in rows[0]
    assert "<td>ConnectionRefusedError</td>" in rows[0]
    for content in (case_id, reference, entry_id, DESCRIPTION, "Parkplatz", *office.office_addresses, "Traceback"):
        assert content not in page, content
    # Officers run cases, not the installation: the page does not exist for them.
    assert logged_in_client(app, office.officer).get("/verwaltung/status").status_code == 404

    # The server returns: an entry given up stays given up (no late mail without a person's decision).
    smtp.start()
    assert relay_pending(app, older_than_seconds=0) == 0
    time.sleep(1)
    assert smtp.count() == 0
