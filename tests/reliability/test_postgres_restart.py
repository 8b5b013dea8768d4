"""PostgreSQL stopped and restarted while the web app serves (the PostgreSQL pass only).

Requests during the outage get the calm 503 page, a submission cut off mid-transaction leaves
nothing behind, and the same app instance serves again once the server is back (pool_pre_ping).
This restarts the machine's PostgreSQL cluster: every other connection to it is dropped too.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from werkzeug.test import TestResponse

from core.db import session_scope
from core.mail_log import send_once
from reporting.models import Case
from tests.factories import add_office, pdf_with
from tests.reliability.faults import Cluster, local_cluster
from tests.reliability.smtp_server import SmtpServer
from tests.web import RECEIPT_RE, csrf_token, logged_in_client, minimal_report_form
from workers.models import OutboxEntry

# The server restarts under the app's connections: its data must be really committed.
pytestmark = [pytest.mark.postgres, pytest.mark.committing]

CALM_TITLE = "Der Dienst ist gerade nicht erreichbar"
# Said only where it is known: a change that failed before its commit.
CALM_TEXT = "Es wurde nichts gespeichert."
# A commit that broke off may or may not have held.
UNSURE_TEXT = "lässt sich gerade nicht sagen"
NEVER_SHOWN = (
    "Traceback",
    "psycopg",
    "OperationalError",
    "sqlalchemy",
    "postgres",
    "127.0.0.1:5432",
    "administrator command",
)


@pytest.fixture
def cluster(migrated_database: str) -> Iterator[Cluster]:
    server = local_cluster(migrated_database)
    try:
        yield server
    finally:
        server.start()  # running again, whatever happened in the test


def calm_503(response: TestResponse, says: str | None = CALM_TEXT) -> str:
    """Check the calm page; `says` is the sentence about saving it must carry (None: no such claim)."""
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in response.headers
    assert "Location" not in response.headers
    page = response.get_data(as_text=True)
    assert CALM_TITLE in page
    if says is None:
        assert CALM_TEXT not in page
        assert UNSURE_TEXT not in page
    else:
        assert says in page
    assert '<html lang="de"' in page
    for word in NEVER_SHOWN:
        assert word not in page, word
    return page


def counts(app: Flask) -> tuple[int, int]:
    with session_scope(app.extensions["komma"].session_factory) as session:
        cases = session.scalar(select(func.count()).select_from(Case)) or 0
        entries = session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
    return cases, entries


def post_form(client: FlaskClient, path: str, token: str) -> TestResponse:
    data: dict[str, Any] = {
        **minimal_report_form(),
        "csrf_token": token,
        "files": [(io.BytesIO(pdf_with("Foto")), "foto.pdf")],
    }
    return client.post(path, data=data, content_type="multipart/form-data")


class StopAtCommit:
    """Stops the server when the next request commits: everything the submission wrote (case,
    files, outbox row, receipt session) is flushed by then, and must die with the transaction."""

    def __init__(self, engine: Engine, cluster: Cluster) -> None:
        self.engine, self.cluster, self.fired = engine, cluster, False

    def __enter__(self) -> StopAtCommit:
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "commit", self._commit)

    def _commit(self, conn: object) -> None:
        if not self.fired:
            self.fired = True
            self.cluster.stop()


def test_requests_during_a_postgres_outage_get_a_calm_503_and_the_app_serves_again(
    app: Flask, cluster: Cluster
) -> None:
    config = app.extensions["komma"].config
    with session_scope(app.extensions["komma"].session_factory) as session:
        office = add_office(session, config, "gstadt")
    path = f"/melden/{office.town.slug}"
    reporter = app.test_client()
    token = csrf_token(reporter, path)
    officer = logged_in_client(app, office.officer)
    assert officer.get("/clearing/").status_code == 200
    before = counts(app)

    try:
        # The server goes away as a submission commits, after the view wrote everything.
        with StopAtCommit(app.extensions["komma"].engine, cluster) as cut:
            # Nobody can know whether a commit that broke off held: the page does not claim
            # "nothing was saved" and points to where the reporter can find out.
            page = calm_503(post_form(reporter, path, token), says=UNSURE_TEXT)
            assert "Nachsehen, ob die Meldung gespeichert wurde" in page
        assert cut.fired, "the submission never committed"

        # While it is away: every page a person might use answers calmly, quickly; reading
        # pages make no claim about saving, a refused change says nothing was saved.
        started = time.monotonic()
        unsure = reporter.get(f"{path}/eingang")
        assert unsure.status_code == 503
        assert "Wir können noch nicht bestätigen" in unsure.get_data(as_text=True)
        calm_503(post_form(reporter, path, token))
        calm_503(reporter.get(path), says=None)
        calm_503(reporter.get("/"), says=None)
        calm_503(officer.get("/clearing/"), says=None)
        calm_503(officer.get("/verwaltung/status"), says=None)
        health = reporter.get("/healthz")
        assert health.status_code == 503
        assert json.loads(health.get_data()) == {
            "status": "unavailable",
            "database": "unavailable",
            "redis": "not configured",
        }
        # Liveness touches no database: the supervisor must not restart a healthy process.
        assert reporter.get("/healthz/live").status_code == 200
        assert time.monotonic() - started < 15
    finally:
        cluster.start()

    # Back: the cut-off submission is known not to be stored, and the page says so.
    told = reporter.get(f"{path}/eingang").get_data(as_text=True)
    assert "Ihre Meldung wurde nicht gespeichert" in told
    assert not RECEIPT_RE.search(told)

    # Back: the same app instance serves again, and the officer is still logged in.
    assert reporter.get("/healthz").status_code == 200
    response = post_form(reporter, path, token)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert RECEIPT_RE.search(reporter.get(response.headers["Location"]).get_data(as_text=True))
    assert officer.get("/clearing/").status_code == 200
    # Only the submission that got its receipt was stored, with its one outbox row: the one cut
    # off left neither a case nor a job.
    assert counts(app) == (before[0] + 1, before[1] + 1)

    # A restart while requests keep coming: each gets a page or the calm 503, never a 500.
    statuses: list[int] = []
    unavailable: list[TestResponse] = []
    restart = threading.Thread(target=cluster.restart)
    restart.start()
    while restart.is_alive():
        response = reporter.get(path)
        statuses.append(response.status_code)
        if response.status_code == 503:
            unavailable.append(response)
        time.sleep(0.02)
    restart.join()
    # Checked once the restart is over, so a failing check never leaves the cluster half-restarted.
    for response in unavailable:
        calm_503(response, says=None)
    assert set(statuses) <= {200, 503}, statuses
    assert 503 in statuses, "no request fell into the restart"
    assert reporter.get(path).status_code == 200
    assert officer.get("/clearing/").status_code == 200


def test_a_stored_report_shows_its_receipt_while_the_database_restarts(app: Flask, cluster: Cluster) -> None:
    """The receipt page needs no database: a report committed just before a restart still shows
    its code, and the code opens the mailbox once the database is back."""
    config = app.extensions["komma"].config
    with session_scope(app.extensions["komma"].session_factory) as session:
        office = add_office(session, config, "rstadt")
    path = f"/melden/{office.town.slug}"
    reporter = app.test_client()
    response = post_form(reporter, path, csrf_token(reporter, path))
    assert response.status_code == 303
    try:
        cluster.stop()
        shown = reporter.get(response.headers["Location"])
        assert shown.status_code == 200
        match = RECEIPT_RE.search(shown.get_data(as_text=True))
        assert match, "the receipt page needed the database"
        # A reload while the database is still away shows the same code again.
        assert match.group(1) in reporter.get(response.headers["Location"]).get_data(as_text=True)
    finally:
        cluster.start()
    mailbox = app.test_client()
    opened = mailbox.post("/postfach", data={"csrf_token": csrf_token(mailbox, "/postfach"), "code": match.group(1)})
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith("/postfach/ansicht")


def test_a_mail_accepted_as_the_database_goes_away_is_recorded_once_it_is_back(app: Flask, cluster: Cluster) -> None:
    """The marker of a sent mail waits out a restart: a retried job must not mail the person again."""
    smtp = SmtpServer()
    smtp.start()
    restarted: list[threading.Thread] = []
    accept = smtp._accept

    def accept_then_stop_the_database(content: bytes) -> None:
        accept(content)
        # Between the SMTP server's "250 accepted" and the marker's commit.
        cluster.stop()
        later = threading.Timer(2.0, cluster.start)
        later.start()
        restarted.append(later)

    smtp._accept = accept_then_stop_the_database  # type: ignore[method-assign]
    config = dataclasses.replace(app.extensions["komma"].config, smtp_url=smtp.url)
    factory = app.extensions["komma"].session_factory
    try:
        assert send_once(factory, config, "job-1", "eingang@example.org", "Neue Meldung", "Bitte anmelden.")
        smtp._accept = accept  # type: ignore[method-assign]
        assert not send_once(factory, config, "job-1", "eingang@example.org", "Neue Meldung", "Bitte anmelden.")
        assert smtp.count() == 1
        assert restarted, "the mail never arrived"
    finally:
        for timer in restarted:
            timer.join(60)
        smtp.stop()
