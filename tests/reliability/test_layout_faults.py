"""Faults on the production layout while reporters submit over HTTP (issue 10).

One layout for the module (deploy/prod_local.py: nginx, gunicorn, two `komma worker`, `komma
cron`) against the suite's PostgreSQL, a redis-server and an SMTP sink of the module's own;
with production Argon2 (production refuses anything cheaper, issue 13). Reporters go through
nginx as browsers do (form, post, 303, receipt page) while, one scenario after another:

1. Redis is stopped for 30 s (no persistence: what it held is lost), then started;
2. a komma worker and its work horse are killed in the middle of jobs; the outbox relay, which
   cron runs every minute, gets the lost job done on its own; the worker is started again;
3. PostgreSQL is restarted;
4. the SMTP server is down for 30 s, then up.

After each, the books must balance: as many cases stored as receipt codes shown (a submission
that got the calm 503 counts only if its receipt page later shows its code), every code opens
the mailbox, each new report mailed the municipality's address and its officer exactly once and
without content, the outbox is drained and `komma audit verify` passes. Each scenario has a
municipality of its own, so its books are its alone. The PostgreSQL restart drops every other
connection to the machine's cluster, so it happens once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from redis import Redis
from rq import Worker
from sqlalchemy import select

from core import create_app
from core.db import session_scope
from crypto import PRODUCTION_ARGON2
from deploy.prod_local import LayoutError, ProductionLayout
from reporting.models import Case
from tests.conftest import empty_tables, make_test_config
from tests.factories import DESCRIPTION, Office, add_office
from tests.reliability.conftest import delivered
from tests.reliability.faults import (
    CALM,
    Cluster,
    Ledger,
    SlowSmtpServer,
    Traffic,
    kill_with_horse,
    local_cluster,
    settle,
)
from tests.reliability.layout import Browser, form_token, require_layout_tools
from tests.reliability.redis_server import RedisServer
from workers.dispatch import LOST_RUN_ERROR
from workers.models import OutboxEntry

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

OUTAGE = 30.0
# Every wait of the module is bounded; none of them by more than this.
LONGEST_WAIT = 90.0
# The relay passes every 30 s and takes a dispatch older than 30 s whose horse stopped beating
# (10 s): a killed job is queued again within 60 s, and done a few seconds later.
RELAY_BOUND = 70.0


@dataclass
class Faults:
    layout: ProductionLayout
    redis: RedisServer
    smtp: SlowSmtpServer
    cluster: Cluster
    # The test's own view of the database, with the layout's secrets (for mail_once's markers).
    app: Flask

    @property
    def url(self) -> str:
        return self.layout.url


@pytest.fixture(scope="module")
def faults(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    """The layout with a Redis and an SMTP sink the tests may stop, started once for the module."""
    cluster = local_cluster(migrated_database)
    require_layout_tools()

    workdir = tmp_path_factory.mktemp("faults")
    (workdir / "redis").mkdir()
    redis = RedisServer(workdir / "redis")
    smtp = SlowSmtpServer()
    redis.start()
    smtp.start()
    layout = ProductionLayout(workdir / "layout", migrated_database, redis.url, smtp.url, workers=2)
    app = create_app(
        make_test_config(
            migrated_database,
            workdir / "inspect",
            secret_key=layout.env["KOMMA_SECRET_KEY"],
            receipt_pepper=layout.env["KOMMA_RECEIPT_PEPPER"].encode(),
            # The layout's own secrets: offices made here must verify (key tags) and their audit
            # chains continue under the layout's audit key.
            key_binding_key=layout.env["KOMMA_KEY_BINDING_KEY"],
            audit_key=layout.env["KOMMA_AUDIT_KEY"],
            notify_key=layout.env["KOMMA_NOTIFY_KEY"],
            argon2=PRODUCTION_ARGON2,
        )
    )
    try:
        try:
            layout.start()
            layout.wait_ready(timeout=60)
        except LayoutError as error:
            pytest.fail(str(error))
        yield Faults(layout, redis, smtp, cluster, app)
    finally:
        layout.stop()
        cluster.start()  # running, whatever a scenario did
        redis.stop()
        smtp.stop()
        empty_tables(app)
        app.extensions["komma"].engine.dispose()


@pytest.fixture
def running(faults: Faults) -> Faults:
    """Each scenario starts on a whole layout: what an earlier failed scenario left dead is
    started again, as systemd's Restart=always would."""
    for process in faults.layout.processes:
        process.start()
    faults.redis.start()
    faults.smtp.start()
    faults.smtp.rcpt_delay = 0
    try:
        # Another session on this machine may be restarting the cluster right now: let it finish.
        faults.cluster.wait_ready(timeout=30)
    except RuntimeError:
        faults.cluster.start()
    faults.layout.wait_ready(timeout=60)
    return faults


# Waiting, bounded ----------------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], what: str, timeout: float = LONGEST_WAIT) -> float:
    """Seconds it took; fails after timeout."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.2)
    return time.monotonic() - start


def more_receipts(faults: Faults, ledger: Ledger, count: int, what: str, timeout: float = 30) -> float:
    """Wait for `count` more receipts; how long it took. On failure the message carries the
    answers and the end of each process's log (nginx's 503 and the app's look alike)."""
    seen = len(ledger.issued)
    try:
        return wait_until(lambda: len(ledger.issued) >= seen + count, f"{count} receipts {what}", timeout)
    except AssertionError as error:
        books = f"{error}; answers: {dict(ledger.answers)}, {ledger.unexpected[:3]}"
        raise AssertionError(faults.layout.describe(books)) from None


def all_running(faults: Faults) -> None:
    ended = [p.name for p in faults.layout.processes if not p.running]
    assert not ended, faults.layout.describe(f"{', '.join(ended)} ended")


# The books -----------------------------------------------------------------------------------------


def new_office(faults: Faults, slug: str) -> Office:
    with session_scope(faults.app.extensions["komma"].session_factory) as session:
        return add_office(session, faults.app.extensions["komma"].config, slug)


def case_ids(faults: Faults, office: Office) -> list[str]:
    with session_scope(faults.app.extensions["komma"].session_factory) as session:
        return list(session.scalars(select(Case.id).where(Case.municipality_id == office.town.id)))


def pending(faults: Faults) -> list[OutboxEntry]:
    """Outbox rows neither done nor given up: work still owed, in the whole installation."""
    with session_scope(faults.app.extensions["komma"].session_factory) as session:
        query = select(OutboxEntry).where(OutboxEntry.completed_at.is_(None), OutboxEntry.failed_at.is_(None))
        return list(session.scalars(query))


def notifications(faults: Faults, cases: list[str]) -> list[OutboxEntry]:
    with session_scope(faults.app.extensions["komma"].session_factory) as session:
        entries = session.scalars(select(OutboxEntry).where(OutboxEntry.job == "notify_new_report"))
        return [e for e in entries if e.args.get("case_id") in cases]


def opens_mailbox(url: str, code: str) -> bool:
    """The reporter's way back: POST /postfach with the code gives 303 to the mailbox."""
    browser = Browser(url, timeout=30)
    form = browser.get("/postfach")
    assert form.status == 200, form.status
    opened = browser.post_form("/postfach", {"csrf_token": form_token(form), "code": code}, files=[])
    return opened.status == 303 and opened.headers.get("Location", "").endswith("/postfach/ansicht")


def check_books(faults: Faults, office: Office, ledger: Ledger) -> None:
    """Receipts = reports; codes open the mailbox; mails exactly once; outbox drained; audit intact."""
    settle(ledger)
    books = f"answers {dict(ledger.answers)}"
    assert not ledger.unexpected, f"answers outside the fault: {ledger.unexpected}; {books}"
    codes = ledger.issued
    assert codes, f"no receipt at all; {books}"
    assert len(set(codes)) == len(codes), "a receipt code was shown twice"

    # Receipts issued = reports stored: nothing a reporter was told went missing, nothing stored
    # that a reporter was told (or left to believe) did not happen.
    cases = case_ids(faults, office)
    assert len(cases) == len(codes), f"{len(cases)} reports stored, {len(codes)} receipts shown; {books}"
    refused = [code for code in codes if not opens_mailbox(faults.url, code)]
    assert not refused, f"{len(refused)} of {len(codes)} codes do not open the mailbox"

    # The outbox drains: every notification done, nothing given up, nothing owed anywhere.
    wait_until(lambda: not pending(faults), f"the outbox to drain ({len(pending(faults))} owed)")
    entries = notifications(faults, cases)
    assert sorted(e.args["case_id"] for e in entries) == sorted(cases), "not one notification per report"
    assert all(e.completed_at is not None and e.failed_at is None for e in entries)

    # Mails expected = mails received, exactly once: per recipient as many as reports, and for
    # each report its delivery to both addresses recorded.
    time.sleep(1.5)  # a mail sent twice would arrive now
    for address in office.office_addresses:
        received = faults.smtp.to(address)
        assert len(received) == len(cases), f"{address}: {len(received)} mails for {len(cases)} reports"
        missing = [e.id for e in entries if not delivered(faults.app, e.id, address)]
        assert not missing, f"{address}: no delivery recorded for {len(missing)} reports"
        for message in received:
            body = message.get_body(preferencelist=("plain",))
            assert body is not None
            text = f"{message['Subject']}\n{body.get_content()}"
            assert DESCRIPTION not in text
            assert not any(code in text.replace(" ", "") for code in codes)

    faults.layout.komma("audit", "verify", timeout=120)  # LayoutError (a failure) unless it exits 0


# The scenarios -------------------------------------------------------------------------------------


def test_redis_stopped_for_30_seconds(running: Faults) -> None:
    office = new_office(running, "redisstadt")
    ledger = Ledger(office.town.slug)
    with Traffic(running.url, ledger, pause=1.5) as traffic:
        more_receipts(running, ledger, 2, "before the outage")
        running.redis.stop()  # no persistence: the queued jobs are gone with it
        time.sleep(OUTAGE)
        during = len(ledger.issued)
        running.redis.start()
        more_receipts(running, ledger, 2, "after the outage")
        traffic.stop()
    # Reports need only the database: nobody was turned away while Redis was gone.
    assert ledger.answers[f"post {CALM}"] == 0, dict(ledger.answers)
    assert during >= 10, f"only {during} receipts by the end of the outage"
    # The workers and cron waited for Redis; they register again in the empty Redis.
    all_running(running)
    running.layout.wait_ready(timeout=60)
    # What was committed while Redis was away has no job in RQ: the relay sends it now rather
    # than at cron's next pass (scenario 2 waits for cron's own relay).
    running.layout.komma("outbox", "relay", "--older-than", "0")
    check_books(running, office, ledger)


def busy_worker(faults: Faults) -> tuple[int, str] | None:
    """(index in layout.workers, RQ job id) of a layout worker running an outbox job, if any."""
    connection = Redis.from_url(faults.redis.url, socket_connect_timeout=2, socket_timeout=5)
    try:
        pids = {p.pid: n for n, p in enumerate(faults.layout.workers) if p.running}
        for worker in Worker.all(connection=connection):
            job_id = worker.get_current_job_id()
            if worker.pid in pids and job_id and job_id.startswith("outbox-"):
                return pids[worker.pid], job_id
        return None
    finally:
        connection.close()


def done(faults: Faults, entry_id: str) -> bool:
    with session_scope(faults.app.extensions["komma"].session_factory) as session:
        entry = session.get(OutboxEntry, entry_id)
        return entry is not None and entry.completed_at is not None


def test_a_worker_killed_with_its_work_horse_in_the_middle_of_jobs(running: Faults) -> None:
    office = new_office(running, "workerstadt")
    ledger = Ledger(office.town.slug)
    # Each recipient takes the SMTP server 3 s to accept: a job runs ~6 s, long enough to be
    # killed in the middle, before the server took a message (no mail half-delivered).
    running.smtp.rcpt_delay = 3.0
    with Traffic(running.url, ledger, clients=4, pause=0, limit=4) as burst:
        burst.finish()
    busy: tuple[int, str] | None = None

    def spot() -> bool:
        nonlocal busy
        busy = busy_worker(running)
        return busy is not None

    wait_until(spot, "a worker to run a job", 20)
    assert busy is not None
    index, job_id = busy
    victim = running.layout.workers[index]
    kill_with_horse(victim)
    killed_at = time.monotonic()
    entry_id = job_id.removeprefix("outbox-")
    # Killed in the middle: the horse's transaction died with it, the job is not done.
    assert not done(running, entry_id), "the job was over before the kill"
    running.smtp.rcpt_delay = 0
    # Reports keep coming while one worker is gone; the other one takes them.
    with Traffic(running.url, ledger, pause=0.5, limit=3) as more:
        more.finish()
    # Nobody relays by hand: cron's relay pass must notice the dead horse and queue the job again.
    try:
        wait_until(
            lambda: done(running, entry_id),
            "the killed job to be done without help",
            RELAY_BOUND - (time.monotonic() - killed_at),
        )
    except AssertionError:
        raise AssertionError(running.layout.describe("the relay did not queue the killed job again")) from None
    took = time.monotonic() - killed_at
    with session_scope(running.app.extensions["komma"].session_factory) as session:
        entry = session.get(OutboxEntry, entry_id)
        assert entry is not None
        lost = (entry.attempts, entry.last_error)
    print(f"killed worker-{index + 1} running {job_id}: done again after {took:.0f} s, attempts/error {lost}")
    # Run again once: by the relay, which saw no horse beat for the started job and counts the
    # lost run, or by RQ's own clean-up of the dead worker's registry, which counts nothing.
    assert lost in {(1, LOST_RUN_ERROR), (0, None)}, lost

    victim.start()
    running.layout.wait_ready(timeout=60)
    all_running(running)
    check_books(running, office, ledger)


def test_postgres_restarted_while_reports_come_in(running: Faults) -> None:
    office = new_office(running, "pgstadt")
    ledger = Ledger(office.town.slug)
    with Traffic(running.url, ledger, clients=3, pause=0.3) as traffic:
        more_receipts(running, ledger, 3, "before the restart")
        before = ledger.attempts
        running.cluster.restart()
        during = ledger.attempts - before
        # Bounded by a minute, not 30 s: in one full-suite run the form answered 503 for more
        # than 30 s after the restart (cause not found; a failure now carries the logs).
        back = more_receipts(running, ledger, 3, "after the restart", timeout=60)
        traffic.stop()
    print(f"PostgreSQL restart: receipts again {back:.0f} s after it")
    assert during >= 1, "no submission came in while PostgreSQL restarted"
    all_running(running)
    check_books(running, office, ledger)


def test_smtp_down_for_30_seconds(running: Faults) -> None:
    office = new_office(running, "smtpstadt")
    ledger = Ledger(office.town.slug)
    with Traffic(running.url, ledger, pause=1.5) as traffic:
        more_receipts(running, ledger, 2, "before the outage")
        running.smtp.stop()
        time.sleep(OUTAGE)
        running.smtp.start()
        more_receipts(running, ledger, 2, "after the outage")
        traffic.stop()
    assert ledger.answers[f"post {CALM}"] == 0, dict(ledger.answers)
    all_running(running)
    # RQ retries the failed notifications (10 s, then 30 s later): no relay, no help.
    check_books(running, office, ledger)
