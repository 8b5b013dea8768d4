"""Making faults happen in the reliability tests: reporters submitting over HTTP while a fault
happens and the books of what they were shown, an SMTP sink that can be slowed down, killing a komma
worker together with its work horse, and stopping the machine's PostgreSQL cluster.

A reporter is a fresh Browser per submission (tests.reliability.layout): its cookie holds the
receipt of exactly that one submission, so a submission that got no clear answer can be asked
about later on its receipt page, as a person would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import make_url

from deploy.prod_local import LayoutProcess
from tests.conftest import need_service
from tests.reliability.layout import Browser, form_token
from tests.reliability.smtp_server import SmtpServer, _Handler
from tests.web import RECEIPT_RE, challenge_answer, minimal_report_form

# Answers a submission may get while a fault happens. 503 is the app's (or nginx's) calm page;
# anything else (500, 502, 4xx) is a finding, not a fault the test tolerates.
CALM = 503


# What the reporters were shown ------------------------------------------------------------------


@dataclass
class Ledger:
    """The books of one scenario: every receipt code a reporter saw, and what is still unclear."""

    slug: str
    issued: list[str] = field(default_factory=list)
    # Posted, but no receipt seen yet (503, a cut connection): their receipt page decides later.
    unsure: list[Browser] = field(default_factory=list)
    # Every answer by step ("form 200", "post 303", "post 503", ...), for the report on failure.
    answers: Counter[str] = field(default_factory=Counter)
    # Answers outside what the fault may cause (500, 502, 4xx, a page without its code).
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, step: str, status: int | str) -> None:
        with self.lock:
            self.answers[f"{step} {status}"] += 1
            if status not in (200, 303, CALM, "cut"):
                self.unexpected.append(f"{step} {status}")

    def issue(self, code: str) -> None:
        with self.lock:
            self.issued.append(code)

    def wait_and_see(self, browser: Browser) -> None:
        with self.lock:
            self.unsure.append(browser)

    @property
    def attempts(self) -> int:
        return sum(n for key, n in self.answers.items() if key.startswith("form "))


def submit_once(url: str, ledger: Ledger) -> None:
    """One reporter: GET the form, POST it (its challenge solved, as the page's script does), follow
    the 303 and read the code from the receipt page."""
    browser = Browser(url, timeout=30)
    path = f"/melden/{ledger.slug}"
    try:
        form = browser.get(path)
    except OSError:
        ledger.note("form", "cut")
        return  # nothing was sent: nothing can be stored
    ledger.note("form", form.status)
    if form.status != 200:
        return
    try:
        posted = browser.post_form(
            path, {**minimal_report_form(), "csrf_token": form_token(form), **challenge_answer(form.text)}
        )
    except OSError:
        # The form went out and the answer was lost: stored or not, only the receipt page knows.
        ledger.note("post", "cut")
        ledger.wait_and_see(browser)
        return
    ledger.note("post", posted.status)
    if posted.status == 303:
        read_receipt(browser, ledger)
    elif posted.status == CALM:
        ledger.wait_and_see(browser)


def read_receipt(browser: Browser, ledger: Ledger) -> None:
    try:
        page = browser.get(f"/melden/{ledger.slug}/eingang")
    except OSError:
        ledger.note("receipt", "cut")
        ledger.wait_and_see(browser)
        return
    ledger.note("receipt", page.status)
    match = RECEIPT_RE.search(page.text) if page.status == 200 else None
    if match:
        ledger.issue(match.group(1).replace(" ", ""))
    elif page.status == CALM:
        ledger.wait_and_see(browser)  # "we cannot confirm yet": ask again once the fault is over
    else:
        ledger.unexpected.append(f"receipt {page.status} without a code after a 303")


def settle(ledger: Ledger, timeout: float = 60) -> None:
    """After the fault: each unclear submission's receipt page says whether it was stored (its
    code) or not; a page that still cannot say is asked again, within the time bound."""
    deadline = time.monotonic() + timeout
    waiting = list(ledger.unsure)
    ledger.unsure.clear()
    while waiting:
        browser = waiting.pop(0)
        try:
            page = browser.get(f"/melden/{ledger.slug}/eingang")
        except OSError:
            page = None
        if page is None or page.status == CALM:
            if time.monotonic() > deadline:
                raise AssertionError(f"a receipt page still cannot say after {timeout:.0f} s")
            waiting.append(browser)
            time.sleep(0.5)
            continue
        assert page.status == 200, f"receipt page answered {page.status}"
        match = RECEIPT_RE.search(page.text)
        ledger.answers[f"settled {'stored' if match else 'not stored'}"] += 1
        if match:
            ledger.issue(match.group(1).replace(" ", ""))


class Traffic:
    """Reporters submitting one after another from `clients` threads until stopped (or `limit`
    attempts: a municipality takes 60 submissions an hour, and a scenario must stay below)."""

    def __init__(self, url: str, ledger: Ledger, *, clients: int = 1, pause: float = 1.0, limit: int = 45) -> None:
        self.url, self.ledger, self.pause, self.limit = url, ledger, pause, limit
        self.stopped = threading.Event()
        self.errors: list[BaseException] = []
        self.started = 0
        self._count_lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_turn(self) -> bool:
        with self._count_lock:
            if self.started >= self.limit:
                return False
            self.started += 1
            return True

    def _run(self) -> None:
        try:
            while not self.stopped.is_set() and self._take_turn():
                submit_once(self.url, self.ledger)
                self.stopped.wait(self.pause)
        except BaseException as exc:  # handed to the test thread in stop()
            self.errors.append(exc)

    def finish(self, timeout: float = 60) -> None:
        """Let every client use up its turns (`limit`), then stop."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.stop()

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a reporter thread hangs"
        if self.errors:
            raise self.errors[0]


# An SMTP sink that can be slow -----------------------------------------------------------------


class SlowSmtpServer(SmtpServer):
    """The reliability tests' SMTP server, which can take `rcpt_delay` seconds to accept each
    recipient: a job then runs long enough to be killed in the middle. The delay sits before
    DATA, so a client killed while waiting has handed over no message (as with a real server)."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.rcpt_delay = 0.0
        # aiosmtpd logs every line of every mail at DEBUG: pages of noise in a failure report.
        logging.getLogger("mail.log").setLevel(logging.WARNING)

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(_SlowHandler(self), hostname="127.0.0.1", port=self.port, loop=asyncio.new_event_loop())
        controller.start()
        self._controller = controller


class _SlowHandler(_Handler):
    server: SlowSmtpServer

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:  # noqa: N802 (aiosmtpd's hook name)
        if self.server.rcpt_delay:
            await asyncio.sleep(self.server.rcpt_delay)
        return await super().handle_RCPT(server, session, envelope, address, options)


# Killing a worker with its work horse ------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below pid (children, their children), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            # The command name in parentheses may hold spaces: the fields after its ")" are fixed.
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_with_horse(process: LayoutProcess) -> list[int]:
    """SIGKILL to the worker's process group and to the group of each of its descendants: RQ
    puts the work horse in a process group of its own (setpgrp), which the worker's group lacks."""
    assert process.pid is not None
    below = descendants(process.pid)
    for pid in below:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    process.kill()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in below):
        assert time.monotonic() < deadline, "a killed work horse lives on"
        time.sleep(0.05)
    return below


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie, killed and not yet reaped by init, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# Stopping PostgreSQL ----------------------------------------------------------------------------


class Cluster:
    """The local PostgreSQL cluster behind the test database, driven by pg_ctlcluster."""

    def __init__(self, version: str, port: int) -> None:
        self.version = version
        self.port = port

    def _ctl(self, action: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def ready(self) -> bool:
        probe = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False, timeout=30)
        return probe.returncode == 0

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not come back")
            time.sleep(0.1)

    def stop(self) -> None:
        self._ctl("stop")  # "fast": active transactions are rolled back, clients disconnected

    def start(self) -> None:
        if not self.ready():
            self._ctl("start")
        self.wait_ready()

    def restart(self) -> None:
        self._ctl("restart")
        self.wait_ready()


def local_cluster(database_url: str) -> Cluster:
    """The machine's PostgreSQL cluster behind database_url; a skip on SQLite (the PostgreSQL pass
    runs these tests), and a skip or, with services required, a failure without pg_ctlcluster."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL only: restarts the database server (runs in the PostgreSQL pass)")
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_isready") is None or not versions:
        need_service("pg_ctlcluster", "the test cannot stop and start the local PostgreSQL cluster")
    if url.host not in ("127.0.0.1", "localhost", None):
        need_service("local PostgreSQL", f"{url.host} is not this machine's cluster")
    return Cluster(versions[-1], url.port or 5432)
