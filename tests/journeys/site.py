"""The live site the journeys drive: the app on a free port, seeded by `komma demo`, mailing to a sink.

Two modes, chosen like the rest of the suite: with KOMMA_TEST_REDIS_URL the app queues its jobs on
Redis and a real `komma worker` process runs them; without it the app runs them inline after each
commit. Either way the mails land in an aiosmtpd sink the journeys can wait on, and the app's
`base_url` is the live server's, so links in mails lead back to it.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq import Worker as RqWorker
from rq.job import JobStatus
from werkzeug.serving import make_server

from core import create_app
from core.app import state
from core.devserver import AnonymousRequestHandler
from tests.conftest import TEST_PEPPER, TEST_SECRET_KEY, empty_tables, make_test_config, need_service
from tests.journeys.guard import forget, guard
from tests.smtp import ReceivedMail, SmtpServer, free_port, running_smtp_server
from tests.workers.conftest import KommaProcess
from workers.dispatch import QUEUE_NAME
from workers.schedule import schedule_of

HOST = "127.0.0.1"
# A demo login line of `komma demo`: "  login / password / TOTP secret SECRET  (comment)".
DEMO_LOGIN_RE = re.compile(r"^\s+(?P<login>\S+) / (?P<password>\S+) / TOTP secret (?P<secret>[A-Z2-7]+)", re.M)
JOB_TIMEOUT = 60.0
PHONE_VIEWPORT = {"width": 375, "height": 812}
# Generous: a login derives Argon2id keys, and the machine may be busy with other tests.
JOURNEY_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Login:
    """A staff login as `komma demo` prints it."""

    login: str
    password: str
    totp_secret: str


@dataclass
class Site:
    """The running site of one journey module, and what a journey needs around it."""

    base_url: str
    app: Flask
    smtp: SmtpServer
    logins: dict[str, Login]
    redis: Redis | None = None
    worker: KommaProcess | None = None
    demo_output: str = ""

    @property
    def recovery_key(self) -> str:
        """The demo municipality's recovery key, as `komma demo` printed it (to arrange an officer's work)."""
        match = re.search(r"^recovery key \(demo only\): (\S+)$", self.demo_output, re.M)
        assert match, self.demo_output
        return match.group(1)

    @property
    def mode(self) -> str:
        """Which mode runs, for the durations report: "postgresql+worker" or "sqlite+inline jobs"."""
        database = state(self.app).engine.dialect.name
        return f"{database}+{'worker' if self.worker else 'inline jobs'}"

    def login(self, name: str) -> Login:
        """The demo login `name` (e.g. steps.OFFICER)."""
        assert name in self.logins, f"`komma demo` printed no login {name!r}:\n{self.demo_output}"
        return self.logins[name]

    def wait_for_mail(
        self, matches: Callable[[ReceivedMail], bool] | None = None, *, to: str | None = None, timeout: float = 30.0
    ) -> ReceivedMail:
        """The first mail (to `to`, and/or for which `matches` is true) in the sink, waiting up to `timeout` s."""

        def wanted(mail: ReceivedMail) -> bool:
            if to is not None and to.lower() not in (r.lower() for r in mail.rcpt_tos):
                return False
            return matches is None or matches(mail)

        deadline = time.monotonic() + timeout
        while True:
            found = [mail for mail in self.smtp.mails if wanted(mail)]
            if found:
                return found[0]
            if self.worker is not None and self.worker.process.poll() is not None:
                pytest.fail(f"the komma worker ended while a mail was awaited:\n{self.worker.output()}")
            if time.monotonic() > deadline:
                got = [(m.rcpt_tos, m.subject) for m in self.smtp.mails]
                pytest.fail(f"no such mail (to={to!r}) within {timeout} s; the sink holds {got}")
            time.sleep(0.1)

    def run_job(self, name: str) -> None:
        """Run a scheduled job now (a name in the app's schedule, e.g. "statistics").

        With a worker it goes through Redis as `komma cron` would send it and the worker runs it;
        without, it runs here as `komma jobs run NAME` would.
        """
        function = next(item.func for item in schedule_of(self.app) if item.name == name)
        if self.redis is None:
            with self.app.app_context():
                function()
            return
        job = Queue(QUEUE_NAME, connection=self.redis).enqueue(function, job_timeout=int(JOB_TIMEOUT))
        deadline = time.monotonic() + JOB_TIMEOUT
        while (status := job.get_status(refresh=True)) != JobStatus.FINISHED:
            assert self.worker is not None
            if status == JobStatus.FAILED or self.worker.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"job {name} did not finish (status {status}):\n{self.worker.output()}")
            time.sleep(0.1)


@contextmanager
def serving(app: Flask, port: int) -> Iterator[None]:
    """The app served by werkzeug (threaded, with the client-free request log) in a background thread."""
    server = make_server(HOST, port, app, threaded=True, request_handler=AnonymousRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="journey-server", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def connect_test_redis() -> Redis | None:
    """The test Redis (emptied), or None for inline jobs; fails under KOMMA_TEST_REQUIRE_SERVICES=1 without one."""
    url = os.environ.get("KOMMA_TEST_REDIS_URL")
    if not url:
        if os.environ.get("KOMMA_TEST_REQUIRE_SERVICES") == "1":
            need_service("Redis", "KOMMA_TEST_REDIS_URL is not set")
        return None
    connection = Redis.from_url(url)
    try:
        connection.ping()
    except RedisError as exc:
        connection.close()
        need_service("Redis", f"{url} does not answer ({type(exc).__name__})")
    connection.flushdb()
    return connection


def start_worker(database_url: str, redis_url: str, smtp_url: str, base_url: str, workdir: Path) -> KommaProcess:
    """A real `komma worker` on the test database and Redis, mailing to the sink."""
    env = {
        **os.environ,
        "KOMMA_ENV": "development",
        "KOMMA_DATABASE_URL": database_url,
        "KOMMA_REDIS_URL": redis_url,
        "KOMMA_SMTP_URL": smtp_url,
        "KOMMA_BASE_URL": base_url,
        "KOMMA_INSTANCE_PATH": str(workdir / "instance"),
        "KOMMA_SECRET_KEY": TEST_SECRET_KEY,
        "KOMMA_RECEIPT_PEPPER": TEST_PEPPER.decode(),
        "KOMMA_ARGON2": "test",
    }
    return KommaProcess(["worker"], env, workdir / "komma-worker.log")


def wait_for_worker(redis: Redis, worker: KommaProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not RqWorker.all(connection=redis):
        if worker.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the komma worker did not start:\n{worker.output()}")
        time.sleep(0.1)


@contextmanager
def running_site(database_url: str, workdir: Path) -> Iterator[Site]:
    """The whole site for one journey module; torn down (worker, server, tables, Redis) afterwards."""
    with ExitStack() as stack:
        redis = connect_test_redis()
        if redis is not None:
            stack.callback(redis.close)
            stack.callback(redis.flushdb)
        smtp = stack.enter_context(running_smtp_server(HOST))
        port = free_port()
        base_url = f"http://{HOST}:{port}"
        redis_url = os.environ.get("KOMMA_TEST_REDIS_URL") if redis is not None else None
        config = make_test_config(
            database_url, workdir / "instance", redis_url=redis_url, smtp_url=smtp.url, base_url=base_url
        )
        app = create_app(config)
        stack.callback(app.extensions["komma"].engine.dispose)
        stack.callback(app.extensions["komma_jobs"].close)
        stack.callback(empty_tables, app)
        worker = None
        if redis is not None and redis_url is not None:
            worker = start_worker(database_url, redis_url, smtp.url, base_url, workdir)
            stack.callback(worker.stop)
            wait_for_worker(redis, worker)
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        logins = {
            m["login"]: Login(m["login"], m["password"], m["secret"]) for m in DEMO_LOGIN_RE.finditer(result.output)
        }
        stack.enter_context(serving(app, port))
        yield Site(base_url, app, smtp, logins, redis=redis, worker=worker, demo_output=result.output)


class Journey:
    """The pages of one journey, each watched by the accessibility guard."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.pages: list[Page] = []

    def new_page(self, *, phone: bool = False, javascript: bool = True, locale: str = "de-DE") -> Page:
        """A page in a fresh context (no cookies): desktop or a 375x812 phone, JavaScript on or off, a language."""
        options: dict[str, Any] = {"java_script_enabled": javascript, "locale": locale}
        if phone:
            options.update(viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True)
        # bypass_csp only so that the guard can inject axe-core: the app's CSP (script-src 'self')
        # rightly refuses the injected script. It exists in this test context only, never in the app.
        context = self.browser.new_context(base_url=self.base_url, bypass_csp=True, **options)
        context.set_default_timeout(JOURNEY_TIMEOUT_MS)
        context.on("page", self._watch)  # pages the site opens itself (a new tab) are watched too
        self.contexts.append(context)
        page = context.new_page()
        self._watch(page)
        return page

    def _watch(self, page: Page) -> None:
        if page not in self.pages:
            guard(page)
            self.pages.append(page)

    def close(self) -> dict[str, list[str]]:
        """Close every context; the paths each page reached unchecked."""
        unchecked = {}
        for n, page in enumerate(self.pages, 1):
            record = forget(page)
            if record is not None and record.unchecked():
                unchecked[f"page {n}"] = record.unchecked()
        for context in self.contexts:
            context.close()
        return unchecked
