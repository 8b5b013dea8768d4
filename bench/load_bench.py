"""Complete submissions under concurrent load through the production layout, against a bare Flask handler behind the same stack.

A complete submission is what a reporter's browser does: GET the intake form, POST it (the text
of bench/intake_bench.py's FIELDS: every field filled, multipart encoded, with the CSRF token),
follow the 303 and read the receipt code from the receipt page. Clients are threads, each with
its own cookies and a new connection per request, at concurrency 1, 4, 16 and 32, with a bounded
number of submissions per level.

- komma: the production layout of deploy/prod_local.py (nginx -> gunicorn with the shipped
  gunicorn.conf.py, two `komma worker`, `komma cron`, KOMMA_ENV=production, PRODUCTION_ARGON2)
  on PostgreSQL and Redis.
- bare: bench/intake_bench.py's bare handler (stores the same fields in clear in one table, no
  crypto, no CSRF check) with a form page padded to the size of the real one and a receipt page,
  served by gunicorn with the same gunicorn.conf.py behind nginx with the same configuration
  (a second nginx process: the server block names its upstream), on the same database.

The two alternate level by level, so that drift in the machine's load hits both. The Argon2id
capacity of the machine is cores / the time of one receipt derivation at production parameters,
measured in this run before the load; it is what the receipts per second are held against:
target at concurrency 16, p95 under 2 s and throughput at least 0.8 x capacity. Clients, servers
and databases share the machine.

Run from the project root:
  .venv/bin/python bench/load_bench.py [--requests 40] [--levels 1,4,16,32]
      [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/komma_bench]
The database is created if missing and wiped (its name must contain "bench"); Redis is
KOMMA_BENCH_REDIS_URL (default redis://127.0.0.1:6379/13), flushed before and after.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, Python puts bench/ on the path, not the checkout that holds the project.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask
from redis import Redis

from bench._common import migrated_database, ms, percentile
from core.config import Config
from core.db import make_engine, make_session_factory

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS_PER_MUNICIPALITY = 50  # under the intake's budget of 60 an hour per municipality
TARGET_LEVEL = 16
TARGET_P95 = 2.0
TARGET_CAPACITY_SHARE = 0.8
BARE_FORM_BYTES_ENV = "BENCH_BARE_FORM_BYTES"
BARE_DATABASE_ENV = "BENCH_BARE_DATABASE_URL"


# The bare handler, as gunicorn loads it ("load_bench:bare_app()") --------------------------------


def bare_app() -> Flask:
    """intake_bench's bare POST handler plus a form page and a receipt page, on the bench database."""
    import intake_bench
    from flask import Response

    engine = make_engine(os.environ[BARE_DATABASE_ENV])  # connects on the first request, after fork
    config = Config()
    limits = {
        "MAX_CONTENT_LENGTH": config.max_request_bytes,
        "MAX_FORM_MEMORY_SIZE": 2 * 1024 * 1024,
        "MAX_FORM_PARTS": 200,
    }
    app = intake_bench.create_bare_app(engine, limits)
    padding = "x" * int(os.environ.get(BARE_FORM_BYTES_ENV, "0"))

    @app.get("/melden/<slug>")
    def bare_form(slug: str) -> Response:
        token = secrets.token_urlsafe(64)
        page = (
            f'<!doctype html><form method="post" action="/melden/{slug}">'
            f'<input id="csrf_token" name="csrf_token" type="hidden" value="{token}"></form>'
        )
        return Response(page + f"<!-- {padding[: max(0, len(padding) - len(page) - 9)]} -->", mimetype="text/html")

    @app.get("/melden/<slug>/eingang")
    def bare_receipt(slug: str) -> Response:
        digits = f"{secrets.randbelow(10**16):016d}"
        code = " ".join(digits[i : i + 4] for i in range(0, 16, 4))
        return Response(f'<p data-testid="receipt-code">{code}</p>', mimetype="text/html")

    return app


# Load ----------------------------------------------------------------------------------------------


@dataclass
class Level:
    """One concurrency level against one server: each submission's seconds and the wall time."""

    label: str
    concurrency: int
    seconds: list[float] = field(default_factory=list)
    wall: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.seconds) / self.wall if self.wall else 0.0

    def pct(self, p: float) -> float:
        return percentile(self.seconds, p) if self.seconds else math.inf


def run_level(label: str, concurrency: int, count: int, submit: Callable[[], float]) -> Level:
    """count submissions by `concurrency` clients at once; each client starts its next when one ends."""
    level = Level(label, concurrency)
    lock = threading.Lock()

    def one(_: int) -> None:
        try:
            seconds = submit()
        except (AssertionError, OSError) as error:
            with lock:
                level.failures.append(f"{type(error).__name__}: {str(error)[:200]}")
            return
        with lock:
            level.seconds.append(seconds)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    level.wall = time.perf_counter() - start
    return level


class Municipalities:
    """Slugs handed out round-robin, so that no municipality passes its hourly intake budget."""

    def __init__(self, slugs: list[str]) -> None:
        self.slugs = slugs
        self.next = 0
        self.lock = threading.Lock()

    def take(self) -> str:
        with self.lock:
            slug = self.slugs[self.next % len(self.slugs)]
            self.next += 1
            return slug


def add_municipalities(database_url: str, count: int, key_binding_key: str) -> list[str]:
    """Municipalities with office keys, as `komma municipality add` makes them (tagged with the
    layout's binding key, so that its intake verifies them)."""
    from core.tenancy import create_municipality

    engine = make_engine(database_url)
    slugs = [f"laststadt-{n}" for n in range(1, count + 1)]
    try:
        with make_session_factory(engine, key_binding_key=key_binding_key.encode())() as session:
            for slug in slugs:
                create_municipality(session, slug, slug.capitalize())
            session.commit()
    finally:
        engine.dispose()
    return slugs


# Argon2id capacity ---------------------------------------------------------------------------------


def derivation_seconds(runs: int = 5) -> float:
    """Median time of one receipt derivation at production parameters, the machine otherwise idle."""
    import crypto

    pepper, salt = secrets.token_bytes(32), secrets.token_bytes(32)
    times = []
    for _ in range(runs):
        code = crypto.generate_receipt_code()
        start = time.perf_counter()
        crypto.derive_receipt_keys(code, salt=salt, pepper=pepper, params=crypto.PRODUCTION_ARGON2)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def parallel_derivations_per_second(threads: int, each: int = 3) -> float:
    """Derivations per second with `threads` running at once (what the cores really give together)."""
    import crypto

    pepper, salt = secrets.token_bytes(32), secrets.token_bytes(32)

    def work(_: int) -> None:
        for _ in range(each):
            crypto.derive_receipt_keys(
                crypto.generate_receipt_code(), salt=salt, pepper=pepper, params=crypto.PRODUCTION_ARGON2
            )

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    return threads * each / (time.perf_counter() - start)


# The run -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/komma_bench")
    parser.add_argument("--requests", type=int, default=40, help="complete submissions per level and server")
    parser.add_argument("--levels", default="1,4,16,32", help="concurrency levels")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    redis_url = os.environ.get("KOMMA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

    from deploy.prod_local import ensure_database

    ensure_database(args.database_url)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    try:
        with migrated_database(args.database_url) as database, tempfile.TemporaryDirectory() as folder:
            passed = measure(args, levels, database.url, database.label, redis_url, Path(folder))
    finally:
        redis.flushdb()
        redis.close()
    sys.exit(0 if passed else 1)


def measure(
    args: argparse.Namespace, levels: list[int], database_url: str, label: str, redis_url: str, workdir: Path
) -> bool:
    import intake_bench

    from deploy.prod_local import LayoutError, LayoutProcess, ProductionLayout
    from tests.reliability.layout import Browser, complete_submission

    cores = os.cpu_count() or 1
    one = derivation_seconds()
    capacity = cores / one
    together = parallel_derivations_per_second(cores)

    engine = make_engine(database_url)
    intake_bench.BareBase.metadata.create_all(engine)
    engine.dispose()
    warmup = 4
    total = len(levels) * (args.requests + warmup)
    # As many municipalities as the largest level has clients, so that concurrent submissions go
    # to different ones (as reports from many places do), and none passes its hourly budget.
    spread = max(max(levels), math.ceil(total / SUBMISSIONS_PER_MUNICIPALITY))
    layout = ProductionLayout(workdir / "layout", database_url, redis_url, workers=2)
    slugs = add_municipalities(database_url, spread + 1, layout.env["KOMMA_KEY_BINDING_KEY"])
    municipalities, solo = Municipalities(slugs[1:]), slugs[0]
    bare_processes: list[LayoutProcess] = []
    try:
        layout.start()
        layout.wait_ready()
        form_bytes = len(Browser(layout.url).get(f"/melden/{municipalities.slugs[0]}").text.encode())
        bare_port, bare_proxy_port = _free_ports(2)
        bare_web = layout.process(
            "bare-web",
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "load_bench:bare_app()"],
            {
                "KOMMA_BIND": f"127.0.0.1:{bare_port}",
                "PYTHONPATH": f"{ROOT / 'bench'}{os.pathsep}{ROOT}",
                BARE_DATABASE_ENV: database_url,
                BARE_FORM_BYTES_ENV: str(form_bytes),
            },
        )
        bare_nginx_dir = layout.workdir / "nginx-bare"
        conf = layout.write_nginx_conf(bare_nginx_dir, bare_proxy_port, bare_port)
        bare_nginx = layout.process(
            "nginx-bare", [layout.nginx.argv[0], "-e", "stderr", "-p", str(bare_nginx_dir), "-c", str(conf)]
        )
        bare_processes += [bare_web, bare_nginx]
        bare_web.start()
        bare_nginx.start()
        bare_url = f"http://127.0.0.1:{bare_proxy_port}"
        _wait_for(lambda: _answers(bare_url), "the bare handler behind nginx", bare_web)

        def komma() -> float:
            return complete_submission(Browser(layout.url), municipalities.take(), intake_bench.FIELDS).seconds

        def komma_one_town() -> float:
            return complete_submission(Browser(layout.url), solo, intake_bench.FIELDS).seconds

        def bare() -> float:
            return complete_submission(Browser(bare_url), "barestadt", intake_bench.FIELDS).seconds

        workers = int(layout.env.get("KOMMA_WEB_WORKERS") or cores * 2 + 1)
        threads = int(layout.env.get("KOMMA_WEB_THREADS") or 4)
        print("Komm.A load bench: complete submissions (GET form, POST, receipt page) through nginx -> gunicorn")
        print(f"machine: {cores} CPUs, load average {os.getloadavg()[0]:.2f}; database {label}; Redis {redis_url}")
        print(
            f"gunicorn.conf.py: {workers} workers x {threads} threads (gthread), preloaded; 2 komma workers, komma cron; "
            f"{args.requests} submissions per level and server, text form of {sum(len(str(v)) for v in intake_bench.FIELDS.values())} characters"
        )
        print(
            f"Argon2id at production parameters: one derivation {ms(one)} -> capacity {capacity:.2f}/s "
            f"({cores} cores / one derivation); {cores} at once measured {together:.2f}/s\n"
        )
        print(
            f"{'conc':>4} | {'komma /s':>8} {'p50':>10} {'p95':>10} {'p99':>10} | {'bare /s':>8} {'p50':>10} "
            f"{'p95':>10} {'p99':>10} | {'thr ratio':>9} {'p95 ratio':>9}"
        )
        results: dict[int, tuple[Level, Level]] = {}
        for index, concurrency in enumerate(levels):
            for _ in range(warmup):
                komma()
                bare()
            order = [("komma", komma), ("bare", bare)]
            measured = {
                name: run_level(name, concurrency, args.requests, submit)
                for name, submit in (order if index % 2 == 0 else order[::-1])
            }
            mine, base = measured["komma"], measured["bare"]
            results[concurrency] = (mine, base)
            print_row(f"{concurrency:>4}", mine, base)
        if TARGET_LEVEL in results:
            # The same level with every submission to one municipality (a burst after a public
            # incident): they share the municipality's budget row, locked from its UPDATE to the commit.
            one_town = run_level("komma one municipality", TARGET_LEVEL, args.requests, komma_one_town)
            print_row(f"{TARGET_LEVEL:>3}*", one_town, results[TARGET_LEVEL][1])
        print("\nthr ratio = bare receipts/s / komma receipts/s; p95 ratio = komma p95 / bare p95")
        print(
            f"{TARGET_LEVEL}* = concurrency {TARGET_LEVEL} with every submission to one municipality (bare: the row "
            f"above): they share the intake budget's row, whose lock is taken after the Argon2id derivation and held "
            f"only until the commit, so they should not queue behind each other"
        )
        print(f"load average now {os.getloadavg()[0]:.2f}")
    except LayoutError as error:
        print(f"the layout did not start: {error}")
        return False
    except AssertionError as error:
        print(layout.describe(f"a warm-up submission failed: {str(error)[:300]}"))
        return False
    finally:
        for process in reversed(bare_processes):
            process.stop()
        layout.stop()

    if TARGET_LEVEL not in results:
        return True
    mine = results[TARGET_LEVEL][0]
    failed = bool(mine.failures)
    passed = not failed and mine.pct(95) < TARGET_P95 and mine.rate >= TARGET_CAPACITY_SHARE * capacity
    print(
        f"{'PASS' if passed else 'FAIL'} at concurrency {TARGET_LEVEL}: p95 {mine.pct(95):.2f} s (target < {TARGET_P95:.0f} s), "
        f"{mine.rate:.2f} receipts/s = {mine.rate / capacity:.2f} x Argon2 capacity (target >= {TARGET_CAPACITY_SHARE})"
        + (f", {len(mine.failures)} submissions failed" if failed else "")
    )
    # Little's law: with 16 clients always waiting, the mean latency is 16 / throughput.
    print(
        f"     for reference: {mine.rate / together:.2f} x the {cores} derivations at once measured above; "
        f"a p95 under {TARGET_P95:.0f} s with {TARGET_LEVEL} clients needs at least {TARGET_LEVEL / TARGET_P95:.0f} receipts/s "
        f"(mean latency = clients / throughput)"
    )
    return passed


def print_row(label: str, mine: Level, base: Level) -> None:
    print(
        f"{label} | {mine.rate:8.2f} {ms(mine.pct(50))} {ms(mine.pct(95))} {ms(mine.pct(99))} | "
        f"{base.rate:8.2f} {ms(base.pct(50))} {ms(base.pct(95))} {ms(base.pct(99))} | "
        f"{base.rate / mine.rate if mine.rate else math.inf:8.1f}x {mine.pct(95) / base.pct(95):8.1f}x",
        flush=True,
    )
    for level in (mine, base):
        for failure in level.failures[:3]:
            print(f"     {level.label} failed {len(level.failures)}x, e.g. {failure}")


def _free_ports(count: int) -> list[int]:
    from deploy.prod_local import free_port

    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def _answers(url: str) -> bool:
    from tests.reliability.layout import Browser

    try:
        return Browser(url, timeout=2).get("/melden/barestadt").status == 200
    except OSError:
        return False


def _wait_for(check: Callable[[], bool], what: str, process: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}: {process}")


if __name__ == "__main__":
    main()
