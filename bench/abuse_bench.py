"""Flood and abuse: does a genuine reporter get through while two attackers hammer the production layout?

What runs, all at once for DURATION (60 s; --quick: 15 s), against deploy/prod_local.py's layout
(nginx -> gunicorn with the shipped gunicorn.conf.py, two `komma worker`, `komma cron`,
KOMMA_ENV=production: production Argon2id, the default challenge of 15 bits) on a PostgreSQL
database and a Redis db of the bench's own, with one municipality made by `komma municipality add`:

- attacker A: 20 report submissions a second to that municipality, without solving the
  challenge: a scripted client that GETs the form once per cookie jar (one per thread) for the
  CSRF token, then only POSTs the same body, following nothing;
- attacker B: 20 wrong (well-formed, random) receipt codes a second at /postfach, without solving;
- the genuine reporter: every 3 s a new browser that GETs the form, solves its challenge as
  static/js/challenge.js does (hashlib; the time counts), POSTs a report, reads the code on the
  receipt page, then GETs /postfach, solves, posts the code and must reach its mailbox
  (303 to /postfach/ansicht, 200);
- every 10 s a reporter in acute danger without JavaScript (no solution): the report must be
  taken (303), with its code at once, after the slow lane, or on the waiting page; never refused.

Both attackers are open loops at a fixed rate on a pool of 32 threads each ("loopback,
bounded"): a send that finds no free thread at its time is dropped and counted, not queued.
Every client opens a new connection per request (no keep-alive), as tests/reliability/layout.py's
Browser does. Clients, servers and databases share the machine's cores.

Printed: the genuine success rate (goal 100 %) and report/mailbox latency p50/p95 (goal p95
under 5 s), the acute reports taken, each attacker's outcome and accepted rate, the peak RSS of
the web processes (gunicorn master + workers, sampled from /proc every 0.5 s; nginx excluded),
CPU by program, PostgreSQL lock waits (which statement waited on whom, which throttle_window
rows, peak waiters per 5 s: the per-minute budgets renew at each full minute, so a storm shows
there), 5xx answers and the error lines of the layout's logs; PASS/FAIL for the two goals. The exit code is 0 (it is a measurement)
unless the layout could not start or a first journey without attack failed.

Run from the project root:
  .venv/bin/python -m bench.abuse_bench [--quick] [--duration 60]
      [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/komma_abuse_bench]
      [--redis-url redis://127.0.0.1:6379/7]
The database is created if missing and wiped (its name must contain "bench"); the Redis db is
flushed before and after.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

# Run as a script, Python puts bench/ on the path, not the checkout that holds the project.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis
from sqlalchemy import text

from bench._common import (
    GroupSampler,
    cpu_by_program,
    machine_busy,
    migrated_database,
    ms,
    page_challenge,
    percentile,
    solve_challenge,
)
from core.db import make_engine
from deploy.prod_local import LayoutError, ProductionLayout, ensure_database
from tests.reliability.layout import Browser, FormFields, Page, multipart
from tests.web import CSRF_RE, RECEIPT_RE, minimal_report_form

T = TypeVar("T")
SLUG = "flutstadt"
DURATION = 60.0
QUICK_DURATION = 15.0
REPORTS_PER_SECOND = 20.0
CODES_PER_SECOND = 20.0
ATTACKER_THREADS = 32
GENUINE_EVERY = 3.0
ACUTE_EVERY = 10.0
GOAL_P95 = 5.0
# nginx answers a gateway timeout after 60 s (proxy_read_timeout); a client waits a little longer.
CLIENT_TIMEOUT = 65.0
# The channel tells the attacker's cases from the others in the database afterwards (it is
# stored in clear; the report text is not), to count which got their code at once.
ATTACKER_CHANNEL = "social_media"
GENUINE_CHANNEL = "email"
ACUTE_CHANNEL = "phone"
MAILBOX_LOGIN = "/postfach"
MAILBOX = "/postfach/ansicht"
NOT_FOUND = "wurde nicht gefunden"
NOT_CHECKED = "noch nicht geprüft"
WAITING = "erst in Kürze erstellt"
MAILBOX_MARK = 'id="stand"'
HEADING_RE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
MUNICIPALITY_ID_RE = re.compile(r"[0-9a-f]{32}")
SLICE = 5  # seconds: the lock-wait timeline's resolution
ERROR_LINE_RE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")


# A form page as a browser gets it --------------------------------------------------------------------


@dataclass(frozen=True)
class FormPage:
    """The CSRF token and the challenge of a form (intake form, mailbox login) as served."""

    csrf: str
    challenge: str
    bits: int

    def fields(self, solution: str = "") -> dict[str, str]:
        """What the form sends besides its own fields: without its script, an empty solution."""
        return {"csrf_token": self.csrf, "challenge": self.challenge, "solution": solution}


def form_page(page: Page) -> FormPage | None:
    """The form's tokens, or None when the page is not the form (refused, an error page)."""
    csrf, challenge = CSRF_RE.search(page.text), page_challenge(page.text)
    if page.status != 200 or csrf is None or challenge is None:
        return None
    return FormPage(csrf.group(1), *challenge)


# Counting -----------------------------------------------------------------------------------------


class Tally:
    """Outcomes and seconds of one kind of client, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.seconds: dict[str, list[float]] = {}
        self.examples: dict[str, str] = {}

    def count(self, outcome: str, example: str = "") -> None:
        with self.lock:
            self.counts[outcome] += 1
            if example:
                self.examples.setdefault(outcome, example)

    def time(self, what: str, seconds: float) -> None:
        with self.lock:
            self.seconds.setdefault(what, []).append(seconds)

    def pct(self, what: str, p: float) -> float | None:
        values = self.seconds.get(what)
        return percentile(values, p) if values else None


def heading(page: Page) -> str:
    """What the page says it is (its h1), for a failure line; never a whole page."""
    match = HEADING_RE.search(page.text)
    return re.sub(r"\s+", " ", match.group(1)).strip()[:120] if match else page.text[:120].replace("\n", " ")


class CountingBrowser(Browser):
    """tests/reliability/layout.py's Browser that counts every 5xx answer under its client's name."""

    def __init__(self, base_url: str, server_errors: Tally, client: str) -> None:
        super().__init__(base_url, timeout=CLIENT_TIMEOUT)
        self.server_errors = server_errors
        self.client = client

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Page:
        page = super().request(method, path, body, headers)
        if page.status >= 500:
            self.server_errors.count(self.client, f"{method} {path.split('?')[0]}: {page.status} {heading(page)}")
        return page


def location(page: Page) -> str:
    """The path of a redirect's target (Werkzeug sends it relative; a full URL would work too)."""
    parts = urlsplit(page.headers.get("Location", ""))
    return parts.path + (f"?{parts.query}" if parts.query else "")


CLIENT_ERRORS = (OSError, http.client.HTTPException)


# Open loops -----------------------------------------------------------------------------------------


@dataclass
class OpenLoop:
    """`rate` sends a second from `delay` until `duration`, each on a thread of a pool of
    `threads`: a send that finds no free thread at its time is dropped (counted), never queued,
    so the offered rate stays what it says whatever the server does."""

    name: str
    rate: float
    duration: float
    threads: int
    delay: float = 0.0
    scheduled: int = 0
    sent: int = 0
    dropped: int = 0

    def run(self, send: Callable[[], None], start: float) -> None:
        free = threading.BoundedSemaphore(self.threads)

        def one() -> None:
            try:
                send()
            finally:
                free.release()

        with ThreadPoolExecutor(self.threads, thread_name_prefix=self.name) as pool:
            index = 0
            while (due := start + self.delay + index / self.rate) < start + self.duration:
                index += 1
                self.scheduled += 1
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                if not free.acquire(blocking=False):
                    self.dropped += 1
                    continue
                self.sent += 1
                pool.submit(one)
            # Leaving the pool waits for the sends still in flight.


# Attacker A: reports without solving ------------------------------------------------------------------


class ReportFlood:
    """A scripted client: one form GET per cookie jar (one jar per thread), then the same POST again and again."""

    def __init__(self, base_url: str, slug: str, server_errors: Tally) -> None:
        self.base_url, self.slug, self.server_errors = base_url, slug, server_errors
        self.tally = Tally()
        self.local = threading.local()

    def _jar(self) -> tuple[Browser, bytes, dict[str, str]] | None:
        jar: tuple[Browser, bytes, dict[str, str]] | None = getattr(self.local, "jar", None)
        if jar is not None:
            return jar
        browser = CountingBrowser(self.base_url, self.server_errors, "attacker A")
        form = browser.get(f"/melden/{self.slug}")
        tokens = form_page(form)
        if tokens is None:
            self.tally.count("form refused", f"{form.status} {heading(form)}")
            return None
        fields: FormFields = {**minimal_report_form(channel=ATTACKER_CHANNEL), **tokens.fields()}
        body, headers = multipart(fields)
        self.local.jar = jar = (browser, body, headers)
        return jar

    def send(self) -> None:
        try:
            jar = self._jar()
            if jar is None:
                return
            browser, body, headers = jar
            page = browser.request("POST", f"/melden/{self.slug}", body, headers)
        except CLIENT_ERRORS as error:
            self.tally.count("error", f"{type(error).__name__}: {error}"[:160])
            return
        self.tally.time("post", page.seconds)
        if page.status == 303:
            self.tally.count("taken")
        else:
            self.tally.count("refused", f"{page.status} {heading(page)}")
            self.local.jar = None  # a fresh cookie jar next time (as a script would on a 400)


# Attacker B: wrong codes without solving ------------------------------------------------------------


class CodeFlood:
    """A scripted client: one /postfach GET per cookie jar, then a new random 16-digit code per POST."""

    def __init__(self, base_url: str, server_errors: Tally) -> None:
        self.base_url, self.server_errors = base_url, server_errors
        self.tally = Tally()
        self.local = threading.local()

    def _jar(self) -> tuple[Browser, dict[str, str]] | None:
        jar: tuple[Browser, dict[str, str]] | None = getattr(self.local, "jar", None)
        if jar is not None:
            return jar
        browser = CountingBrowser(self.base_url, self.server_errors, "attacker B")
        page = browser.get(MAILBOX_LOGIN)
        tokens = form_page(page)
        if tokens is None:
            self.tally.count("form refused", f"{page.status} {heading(page)}")
            return None
        self.local.jar = jar = (browser, tokens.fields())
        return jar

    def send(self) -> None:
        digits = f"{secrets.randbelow(10**16):016d}"
        code = " ".join(digits[i : i + 4] for i in range(0, 16, 4))
        try:
            jar = self._jar()
            if jar is None:
                return
            browser, fields = jar
            page = browser.request(
                "POST",
                MAILBOX_LOGIN,
                urlencode({**fields, "code": code}).encode("ascii"),
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
        except CLIENT_ERRORS as error:
            self.tally.count("error", f"{type(error).__name__}: {error}"[:160])
            return
        self.tally.time("post", page.seconds)
        if page.status == 200 and NOT_FOUND in page.text:
            self.tally.count("checked")
        elif page.status == 200 and NOT_CHECKED in page.text:
            self.tally.count("not checked")
        elif page.status == 303:
            self.tally.count("opened", location(page))  # a random code opened a mailbox: must never happen
        else:
            self.tally.count("other", f"{page.status} {heading(page)}")
            self.local.jar = None


# The genuine reporter -----------------------------------------------------------------------------------


class StepFailed(Exception):
    """One step of a genuine journey did not give what a browser needs."""

    def __init__(self, step: str, page: Page | None = None, why: str = "") -> None:
        super().__init__(f"{step}: {why or (f'{page.status} {heading(page)}' if page else '')}")


# The steps of a journey, in order: the report's four, then the mailbox's four.
REPORT_STEPS = ("GET form", "solve", "POST report", "receipt page")
MAILBOX_STEPS = ("GET /postfach", "solve code form", "POST code", "mailbox page")


@dataclass
class Journey:
    """One genuine reporter: when it began (seconds into the attack), each step's seconds, the outcome."""

    started: float
    steps: dict[str, float] = field(default_factory=dict)
    ok: bool = False
    failure: str = ""

    @property
    def report(self) -> float | None:
        return _total(self.steps, REPORT_STEPS)

    @property
    def mailbox(self) -> float | None:
        return _total(self.steps, MAILBOX_STEPS)

    @property
    def solving(self) -> float:
        return self.steps.get("solve", 0.0) + self.steps.get("solve code form", 0.0)


def _total(steps: dict[str, float], names: tuple[str, ...]) -> float | None:
    return sum(steps[name] for name in names) if all(name in steps for name in names) else None


class Steps:
    """Times each step of a journey into journey.steps."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey

    def __call__(self, name: str, do: Callable[[], T]) -> T:
        start = time.perf_counter()
        result = do()
        self.journey.steps[name] = time.perf_counter() - start
        return result


def genuine_journey(base_url: str, slug: str, server_errors: Tally, started: float = 0.0) -> Journey:
    """Report with the challenge solved, read the code, open the mailbox with it (solving again)."""
    browser = CountingBrowser(base_url, server_errors, "genuine")
    journey = Journey(started)
    step = Steps(journey)
    path = f"/melden/{slug}"

    def solved_form(url: str, get: str, solve: str, what: str) -> dict[str, str]:
        """GET a form and solve its challenge as the page's script does: what it sends besides its fields."""
        page = step(get, lambda: browser.get(url))
        tokens = form_page(page)
        if tokens is None:
            raise StepFailed(what, page)
        return tokens.fields(step(solve, lambda: solve_challenge(tokens.challenge, tokens.bits)))

    try:
        fields = {
            **minimal_report_form(channel=GENUINE_CHANNEL),
            **solved_form(path, "GET form", "solve", "report form"),
        }
        posted = step("POST report", lambda: browser.post_form(path, fields))
        if posted.status != 303:
            raise StepFailed("report post", posted)
        receipt = step("receipt page", lambda: browser.get(location(posted)))
        code = RECEIPT_RE.search(receipt.text)
        if receipt.status != 200 or code is None:
            raise StepFailed("receipt page", receipt)

        login = solved_form(MAILBOX_LOGIN, "GET /postfach", "solve code form", "mailbox form")
        body = urlencode({**login, "code": code.group(1)})
        sent = step(
            "POST code",
            lambda: browser.request(
                "POST", MAILBOX_LOGIN, body.encode("ascii"), {"Content-Type": "application/x-www-form-urlencoded"}
            ),
        )
        if sent.status != 303 or location(sent) != MAILBOX:
            raise StepFailed("mailbox post", sent)
        mailbox = step("mailbox page", lambda: browser.get(MAILBOX))
        if mailbox.status != 200 or MAILBOX_MARK not in mailbox.text:
            raise StepFailed("mailbox page", mailbox)
        journey.ok = True
    except StepFailed as failure:
        journey.failure = str(failure)
    except CLIENT_ERRORS as error:
        journey.failure = f"{type(error).__name__}: {error}"[:200]
    return journey


def acute_report(base_url: str, slug: str, server_errors: Tally, tally: Tally) -> None:
    """A report in acute danger from a browser without JavaScript: the challenge goes unsolved."""
    browser = CountingBrowser(base_url, server_errors, "acute")
    path = f"/melden/{slug}"
    try:
        start = time.perf_counter()
        form = browser.get(path)
        tokens = form_page(form)
        if tokens is None:
            tally.count("form refused", f"{form.status} {heading(form)}")
            return
        fields = {**minimal_report_form(channel=ACUTE_CHANNEL, acute_danger="yes"), **tokens.fields()}
        posted = browser.post_form(path, fields)
        if posted.status != 303:
            tally.count("refused", f"{posted.status} {heading(posted)}")
            return
        receipt = browser.get(location(posted))
        slow_lane = receipt.status == 303  # a deferred code derived on this visit, shown after a redirect
        if slow_lane:
            receipt = browser.get(location(receipt))
        tally.time("taken", time.perf_counter() - start)
        if receipt.status == 200 and RECEIPT_RE.search(receipt.text):
            tally.count("code after the slow lane" if slow_lane else "code at once")
        elif receipt.status == 200 and WAITING in receipt.text:
            tally.count("waiting page")
        else:
            tally.count("taken, odd receipt page", f"{receipt.status} {heading(receipt)}")
    except CLIENT_ERRORS as error:
        tally.count("error", f"{type(error).__name__}: {error}"[:160])


# Watching the server ---------------------------------------------------------------------------------------


class LockWaits:
    """PostgreSQL sessions of the bench database waiting on a lock, every `interval` seconds:
    which statement waited, and what the session holding the lock was doing (its state and last
    statement; "idle in transaction" means the app holds the lock while it computes), and which
    throttle_window rows were waited for (the queue behind a locked row holds tuple locks on the
    row version the holder is changing, which this session still sees)."""

    QUERY = text(
        """
        SELECT w.pid,
               left(regexp_replace(w.query, '\\s+', ' ', 'g'), 70),
               b.state,
               left(regexp_replace(b.query, '\\s+', ' ', 'g'), 70)
        FROM pg_stat_activity w
        CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
        JOIN pg_stat_activity b ON b.pid = blocker.pid
        WHERE w.datname = current_database() AND w.wait_event_type = 'Lock'
        """
    )
    ROWS = text(
        """
        SELECT t.key, count(*)
        FROM pg_locks l
        JOIN throttle_window t ON t.ctid = format('(%s,%s)', l.page, l.tuple)::tid
        WHERE l.locktype = 'tuple' AND l.relation = 'throttle_window'::regclass
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        GROUP BY t.key
        """
    )
    ACTIVE = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state <> 'idle' AND pid <> pg_backend_pid()"
    )

    def __init__(self, database_url: str, interval: float = 0.5) -> None:
        self.engine = make_engine(database_url)
        self.interval = interval
        self.samples = 0
        self.samples_waiting = 0
        self.peak_waiting = 0
        self.peak_busy = 0
        self.waits: Counter[tuple[str, str, str]] = Counter()
        self.rows: Counter[str] = Counter()  # throttle keys (municipality ids left out): waiters summed over samples
        self.began = time.monotonic()
        self.by_slice: dict[int, int] = {}  # peak waiting sessions in each SLICE seconds since start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lock-waits", daemon=True)

    def start(self) -> LockWaits:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    def _run(self) -> None:
        with self.engine.connect() as connection:
            while not self._stop.is_set():
                rows = connection.execute(self.QUERY).all()
                busy = int(connection.execute(self.ACTIVE).scalar_one())
                for key, waiters in connection.execute(self.ROWS).all():
                    self.rows[MUNICIPALITY_ID_RE.sub("<municipality>", str(key))] += int(waiters)
                connection.rollback()
                self.samples += 1
                waiting = len({row[0] for row in rows})
                self.samples_waiting += bool(waiting)
                self.peak_waiting = max(self.peak_waiting, waiting)
                self.peak_busy = max(self.peak_busy, busy)
                at = int((time.monotonic() - self.began) // SLICE)
                self.by_slice[at] = max(self.by_slice.get(at, 0), waiting)
                for _, waiter, state, holder in rows:
                    self.waits[(waiter, state, holder)] += 1
                self._stop.wait(self.interval)


def cases_by_channel(database_url: str) -> dict[str, tuple[int, int]]:
    """For each channel: (cases stored, cases with their reporter's way in, i.e. a receipt code)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT c.channel, count(*), count(a.case_id) FROM report_case c "
                    "LEFT JOIN reporter_access a ON a.case_id = c.id GROUP BY c.channel"
                )
            ).all()
    finally:
        engine.dispose()
    return {str(channel): (int(cases), int(with_code)) for channel, cases, with_code in rows}


def logged_errors(layout: ProductionLayout) -> tuple[int, list[str]]:
    """Error lines in the layout's logs (ERROR, CRITICAL, tracebacks) and a few distinct examples."""
    lines = [
        line
        for path in layout.log_files()
        for line in path.read_text(errors="replace").splitlines()
        if ERROR_LINE_RE.search(line)
    ]
    examples = list(dict.fromkeys(re.sub(r"^[\d\-: ,\[\]+]+", "", line)[:160] for line in lines))
    return len(lines), examples[:4]


# The run ----------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"a smoke run of {QUICK_DURATION:.0f} s")
    parser.add_argument("--duration", type=float, help=f"seconds of attack (default {DURATION:.0f})")
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/komma_abuse_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args()
    duration = args.duration or (QUICK_DURATION if args.quick else DURATION)

    ensure_database(args.database_url)
    redis = Redis.from_url(args.redis_url)
    redis.flushdb()
    try:
        with (
            migrated_database(args.database_url) as database,
            tempfile.TemporaryDirectory(prefix="komma-abuse-") as folder,
        ):
            status = measure(duration, database.url, database.label, args.redis_url, Path(folder))
    finally:
        redis.flushdb()
        redis.close()
    sys.exit(status)


@dataclass
class Run:
    """Everything one run measured."""

    duration: float
    server_errors: Tally = field(default_factory=Tally)
    journeys: list[Journey] = field(default_factory=list)
    acute: Tally = field(default_factory=Tally)
    loops: dict[str, OpenLoop] = field(default_factory=dict)
    reports: ReportFlood | None = None
    codes: CodeFlood | None = None
    memory: GroupSampler | None = None
    locks: LockWaits | None = None
    wall: float = 0.0
    began: str = ""  # time of day the attack began (the per-minute budgets renew at each full minute)
    machine_busy: float = 0.0  # share of all cores busy during the run
    programs: dict[str, float] = field(default_factory=dict)  # CPU seconds by program during the run


def measure(duration: float, database_url: str, label: str, redis_url: str, workdir: Path) -> int:
    from bench.load_bench import derivation_seconds

    cores = os.cpu_count() or 1
    one_derivation = derivation_seconds()
    layout = ProductionLayout(workdir / "layout", database_url, redis_url, workers=2)
    try:
        layout.komma("municipality", "add", SLUG, "Flutstadt", "--json")
        layout.start()
        layout.wait_ready()
    except LayoutError as error:
        layout.stop()
        print(f"the layout did not start: {error}")
        return 1
    run = Run(duration)
    try:
        calm = genuine_journey(layout.url, SLUG, run.server_errors)
        if not calm.ok:
            print(layout.describe(f"a genuine journey without attack failed: {calm.failure}"))
            return 1
        bits = page_challenge(Browser(layout.url).get(f"/melden/{SLUG}").text)
        attack(run, layout, database_url)
        by_channel = cases_by_channel(database_url)
    finally:
        layout.stop()

    workers = int(layout.env.get("KOMMA_WEB_WORKERS") or cores * 2 + 1)
    threads = int(layout.env.get("KOMMA_WEB_THREADS") or 4)
    print(
        f"Komm.A abuse bench: {duration:.0f} s of flood against the production layout (loopback), from {run.began}"
        " (per-minute budgets renew at each full minute)"
    )
    print(
        f"machine: {cores} CPUs; database {label}; Redis {redis_url}; gunicorn {workers} workers x {threads} "
        f"threads (gthread), 2 komma workers, komma cron; Argon2id at production parameters "
        f"({ms(one_derivation).strip()} per derivation, idle machine); challenge {bits[1] if bits else '?'} bits"
    )
    print(
        f"without attack, one genuine journey: report {calm.report or 0:.2f} s, mailbox {calm.mailbox or 0:.2f} s "
        f"(solving {ms(calm.solving).strip()})\n"
    )
    report_run(run, by_channel)
    errors, examples = logged_errors(layout)
    print(f"\nlayout logs: {errors} error lines (ERROR, CRITICAL, Traceback)")
    for example in examples:
        print(f"  e.g. {example}")
    verdicts(run)
    return 0


def attack(run: Run, layout: ProductionLayout, database_url: str) -> None:
    """Both attackers, the genuine reporter and the acute reports, at once for run.duration."""
    reports = ReportFlood(layout.url, SLUG, run.server_errors)
    codes = CodeFlood(layout.url, run.server_errors)
    journeys_lock = threading.Lock()
    start = time.monotonic()
    run.began = time.strftime("%H:%M:%S")

    def journey() -> None:
        done = genuine_journey(layout.url, SLUG, run.server_errors, time.monotonic() - start)
        with journeys_lock:
            run.journeys.append(done)

    def acute() -> None:
        acute_report(layout.url, SLUG, run.server_errors, run.acute)

    # The genuine clients begin once the flood is on; the acute ones a little later.
    run.loops = {
        "A": OpenLoop("attacker-a", REPORTS_PER_SECOND, run.duration, ATTACKER_THREADS),
        "B": OpenLoop("attacker-b", CODES_PER_SECOND, run.duration, ATTACKER_THREADS),
        # Reporters are people, none waits for another: a thread each, nothing dropped.
        "genuine": OpenLoop("genuine", 1 / GENUINE_EVERY, run.duration, math.ceil(run.duration / GENUINE_EVERY), 1.5),
        "acute": OpenLoop("acute", 1 / ACUTE_EVERY, run.duration, math.ceil(run.duration / ACUTE_EVERY), 2.5),
    }
    sends = {"A": reports.send, "B": codes.send, "genuine": journey, "acute": acute}
    memory = GroupSampler(layout.web.pid or 0).start()
    locks = LockWaits(database_url).start()
    busy_before, all_before = machine_busy()
    groups = {process.pid: process.name for process in layout.processes if process.pid}
    programs_before = cpu_by_program(groups)
    loops = [
        threading.Thread(target=loop.run, args=(sends[name], start), name=f"loop-{name}")
        for name, loop in run.loops.items()
    ]
    for thread in loops:
        thread.start()
    for thread in loops:
        thread.join()
    run.wall = time.monotonic() - start
    busy_after, all_after = machine_busy()
    programs_after = cpu_by_program(groups)
    memory.stop()
    locks.stop()
    run.reports, run.codes, run.memory, run.locks = reports, codes, memory, locks
    run.programs = {
        name: seconds - programs_before.get(name, 0.0)
        for name, seconds in programs_after.items()
        if seconds - programs_before.get(name, 0.0) > 0
    }
    run.machine_busy = (busy_after - busy_before) / max(all_after - all_before, 1e-9)


# What it prints ---------------------------------------------------------------------------------------------


def seconds_of(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {percentile(values, 50):.2f} s, p95 {percentile(values, 95):.2f} s, max {max(values):.2f} s "
        f"(n={len(values)})"
    )


def mib(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


def report_run(run: Run, by_channel: dict[str, tuple[int, int]]) -> None:
    reports, codes, memory, locks = run.reports, run.codes, run.memory, run.locks
    if reports is None or codes is None or memory is None or locks is None:
        raise RuntimeError("the run measured nothing")
    journeys = sorted(run.journeys, key=lambda j: j.started)
    succeeded = [j for j in journeys if j.ok]
    loop = run.loops
    print(
        f"genuine reporter (a new browser every {GENUINE_EVERY:.0f} s, solving each challenge as the page's script does):"
    )
    print(
        f"  journeys {len(journeys)} (of {loop['genuine'].scheduled} scheduled), succeeded {len(succeeded)}"
        f" = {share(len(succeeded), len(journeys))} (goal 100 %)"
    )
    print(
        f"  report  (GET form, solve, POST, receipt code shown): {seconds_of([j.report for j in journeys if j.report is not None])}"
    )
    print(
        f"  mailbox (GET /postfach, solve, POST, mailbox page):   {seconds_of([j.mailbox for j in journeys if j.mailbox is not None])}"
    )
    for name in (*REPORT_STEPS, *MAILBOX_STEPS):
        print(f"    {name + ':':<17} {seconds_of([j.steps[name] for j in journeys if name in j.steps])}")
    print(f"  solving both challenges in the client:               {seconds_of([j.solving for j in journeys])}")
    for j in journeys:
        if not j.ok:
            print(f"  FAILED at {j.started:5.1f} s: {j.failure}")
    cells = [
        f"{j.started:4.1f}s {j.report if j.report is not None else float('nan'):5.2f}/"
        f"{j.mailbox if j.mailbox is not None else float('nan'):5.2f}"
        for j in journeys
    ]
    print("  each journey (start: report s / mailbox s):")
    for row in range(0, len(cells), 5):
        print("    " + "   ".join(cells[row : row + 5]))

    acute = run.acute.counts
    taken = sum(
        acute[k] for k in ("code at once", "code after the slow lane", "waiting page", "taken, odd receipt page")
    )
    print(
        f"\nacute danger without JavaScript (every {ACUTE_EVERY:.0f} s, no solution): taken {taken} of "
        f"{loop['acute'].sent} sent (code at once {acute['code at once']}, after the slow lane "
        f"{acute['code after the slow lane']}, waiting page {acute['waiting page']}, other receipt page "
        f"{acute['taken, odd receipt page']}); refused {acute['refused'] + acute['form refused']}, errors {acute['error']}; "
        f"POST to code or waiting page {seconds_of(run.acute.seconds.get('taken', []))}"
    )
    print_examples(run.acute)

    a = reports.tally.counts
    cases, with_code = by_channel.get(ATTACKER_CHANNEL, (0, 0))
    print(
        f"\nattacker A ({REPORTS_PER_SECOND:.0f} reports/s, no solution, {ATTACKER_THREADS} threads, one form GET per "
        f"thread): scheduled {loop['A'].scheduled}, sent {loop['A'].sent}, dropped {loop['A'].dropped} (no free thread)"
    )
    print(
        f"  303 taken {a['taken']}: stored {cases}, with code at once {with_code}, code deferred {cases - with_code}; "
        f"refused {a['refused'] + a['form refused']}; errors {a['error']}"
    )
    print(f"  POST answered in {seconds_of(reports.tally.seconds.get('post', []))}")
    print_examples(reports.tally)
    b = codes.tally.counts
    print(
        f"attacker B ({CODES_PER_SECOND:.0f} wrong codes/s at /postfach, no solution, {ATTACKER_THREADS} threads): "
        f"scheduled {loop['B'].scheduled}, sent {loop['B'].sent}, dropped {loop['B'].dropped} (no free thread)"
    )
    print(
        f'  checked ("nicht gefunden") {b["checked"]}; not checked (budget, "noch nicht geprüft") '
        f"{b['not checked']}; opened a mailbox {b['opened']}; other {b['other'] + b['form refused']}; errors {b['error']}"
    )
    print(f"  POST answered in {seconds_of(codes.tally.seconds.get('post', []))}")
    print_examples(codes.tally)
    print(
        f"attacker's accepted rate: reports taken {a['taken'] / run.wall:.2f}/s (with code at once "
        f"{with_code / run.wall:.2f}/s), codes checked {b['checked'] / run.wall:.2f}/s, over {run.wall:.1f} s"
    )

    master = memory.peak_by_pid.get(memory.pgid, 0)
    workers = {pid: rss for pid, rss in memory.peak_by_pid.items() if pid != memory.pgid}
    print(
        f"\nweb processes (gunicorn master + workers, nginx excluded; {memory.samples} samples every "
        f"{memory.interval} s): peak RSS sum {mib(memory.peak_sum)}; peak per process: master {mib(master)}, "
        f"workers {' / '.join(mib(rss) for rss in sorted(workers.values(), reverse=True))}"
    )
    top = sorted(run.programs.items(), key=lambda item: -item[1])[:8]
    print(
        f"CPU during the run: machine {run.machine_busy * 100:.0f} % of {os.cpu_count()} cores busy (load average "
        f"{os.getloadavg()[0]:.1f} at the end); cores used by program (layout processes by name; the machine is "
        f"shared, others appear as theirs): " + ", ".join(f"{name} {seconds / run.wall:.2f}" for name, seconds in top)
    )
    print(
        f"PostgreSQL (every {locks.interval} s): peak {locks.peak_busy} busy sessions, peak {locks.peak_waiting} "
        f"waiting on a lock, some waiting in {locks.samples_waiting} of {locks.samples} samples"
    )
    for (waiter, state, holder), seen in locks.waits.most_common(4):
        print(f"  {seen:4d}x waiting: {waiter}\n        holder {state}, its last statement: {holder}")
    print(
        f"  peak waiting per {SLICE} s from the start: "
        + " ".join(str(locks.by_slice.get(n, 0)) for n in range(max(locks.by_slice, default=-1) + 1))
    )
    if locks.rows:
        print(
            "  waited-for throttle_window rows (waiters summed over samples): "
            + ", ".join(f"{key} {waiters}" for key, waiters in locks.rows.most_common(5))
        )
    errors = run.server_errors
    print(
        f"5xx answers to the bench: {sum(errors.counts.values())}"
        + (" (" + ", ".join(f"{k} {v}" for k, v in errors.counts.items()) + ")" if errors.counts else "")
    )
    print_examples(errors)


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def print_examples(tally: Tally) -> None:
    for outcome, example in tally.examples.items():
        print(f"  {outcome} ({tally.counts[outcome]}x), e.g. {example}")


def verdicts(run: Run) -> None:
    journeys = run.journeys
    ok = sum(j.ok for j in journeys)
    passed = bool(journeys) and ok == len(journeys)
    print(
        f"{'PASS' if passed else 'FAIL'} genuine success rate {share(ok, len(journeys))} ({ok} of {len(journeys)}; goal 100 %)"
    )
    reports = [j.report for j in journeys if j.report is not None]
    mailboxes = [j.mailbox for j in journeys if j.mailbox is not None]
    p95s = [percentile(values, 95) if values else float("inf") for values in (reports, mailboxes)]
    print(
        f"{'PASS' if max(p95s) < GOAL_P95 else 'FAIL'} genuine latency p95: report {p95s[0]:.2f} s, mailbox "
        f"{p95s[1]:.2f} s (goal under {GOAL_P95:.0f} s each)"
    )


if __name__ == "__main__":
    main()
