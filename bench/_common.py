"""Helpers shared by the benches: timing statistics, a migrated database, proof of work, /proc readings.

Import this after putting the project root on sys.path (each bench does so first).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import statistics
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.config import Config
from core.db import Base, make_engine
from core.migrate import upgrade_database
from core.model_registry import import_all_models

# Long enough for production checks; a bench never stores anything worth protecting.
BENCH_SECRET_KEY = "bench-secret-key-" + "x" * 32
BENCH_PEPPER = b"bench-receipt-pepper-" + b"y" * 32


@dataclass
class Timings:
    """Seconds of repeated runs of one thing."""

    label: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 95)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: with few runs the 95th is close to the slowest, as it should be."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:7.1f} ms"


@dataclass(frozen=True)
class BenchDatabase:
    url: str
    label: str


@contextmanager
def migrated_database(url: str | None, *, require_in_name: str = "bench") -> Iterator[BenchDatabase]:
    """A freshly migrated schema: a temporary SQLite file, or the given database wiped first.

    A given database is emptied (PostgreSQL: DROP SCHEMA public CASCADE), so only one whose name
    contains `require_in_name` is accepted: the shared `test` database must never be reset here.
    """
    import_all_models()
    if url is None:
        with tempfile.TemporaryDirectory(prefix="komma-bench-") as folder:
            sqlite_url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
            upgrade_database(sqlite_url)
            yield BenchDatabase(sqlite_url, "SQLite (temporary file)")
        return
    parsed = make_url(url)
    name = parsed.database or ""
    if require_in_name not in Path(name).name:
        raise SystemExit(f"refusing to wipe database {name!r}: its name must contain {require_in_name!r}")
    _reset(url)
    upgrade_database(url)
    yield BenchDatabase(url, f"{parsed.get_backend_name()} {parsed.host or ''}/{name}".replace(" /", " "))


def _reset(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            else:
                Base.metadata.drop_all(connection)
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


def bench_config(database_url: str, instance_path: Path, **overrides: Any) -> Config:
    """A development configuration on the bench database: no Redis, no SMTP, fixed secrets."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "instance_path": instance_path,
        "secret_key": BENCH_SECRET_KEY,
        "receipt_pepper": BENCH_PEPPER,
        "redis_url": None,
        "smtp_url": None,
    }
    values.update(overrides)
    return Config.from_env({}, **values)


# Proof of work as the page's script does it -----------------------------------------------------

# The hidden field of templates/macros/challenge.html.
CHALLENGE_RE = re.compile(r'name="challenge" value="([^"]+)" data-challenge-bits="(\d+)"')


def page_challenge(page: str) -> tuple[str, int] | None:
    """The challenge token and its bits on a form page (intake form, mailbox login), or None."""
    match = CHALLENGE_RE.search(page)
    return (match.group(1), int(match.group(2))) if match else None


def solve_challenge(token: str, bits: int) -> str:
    """What static/js/challenge.js sends: the first counter from 0 on such that
    SHA-256(token ":" counter) starts with `bits` zero bits (crypto.work's hashcash, with hashlib,
    which is several times faster than crypto.work.solve)."""
    prefix = hashlib.sha256(f"{token}:".encode("ascii"))
    below = 1 << (256 - bits)
    counter = 0
    while True:
        digest = prefix.copy()
        digest.update(str(counter).encode("ascii"))
        if int.from_bytes(digest.digest(), "big") < below:
            return str(counter)
        counter += 1


# Memory and CPU of a process group, from /proc ----------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """Every process now running: its pid, program name and the fields of /proc/PID/stat after
    the name (in parentheses, which may hold spaces), from field 3 (state) on."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as file:
                stat = file.read().decode("ascii", "replace")
        except OSError:
            continue  # ended between listing and reading
        yield int(entry.name), stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 :].split()


class GroupSampler:
    """Resident memory of every process in one process group (e.g. gunicorn's master and workers,
    which deploy/prod_local.py starts in a group of their own), read from /proc every `interval`
    seconds on a thread: the peak of the sum and each process's peak."""

    def __init__(self, pgid: int, interval: float = 0.5) -> None:
        self.pgid = pgid
        self.interval = interval
        self.peak_sum = 0
        self.peak_by_pid: dict[int, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pgid}", daemon=True)

    def start(self) -> GroupSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> int:
        """One reading; returns the group's RSS sum in bytes."""
        total = 0
        for pid, _name, fields in _processes():
            if int(fields[2]) != self.pgid:
                continue
            rss = int(fields[21]) * _PAGE
            total += rss
            self.peak_by_pid[pid] = max(self.peak_by_pid.get(pid, 0), rss)
        self.peak_sum = max(self.peak_sum, total)
        self.samples += 1
        return total


def cpu_by_program(groups: Mapping[int, str] | None = None) -> dict[str, float]:
    """CPU seconds (user + system) of every process now running, summed by program name, or by
    the name `groups` gives its process group (this process: "bench"): two readings show who used
    the cores in between. A named group's processes count their reaped children too (RQ's work
    horses); other programs do not (a shell would count every command it ran)."""
    groups = groups or {}
    used: dict[str, float] = {}
    for pid, program, fields in _processes():
        group = groups.get(int(fields[2]))
        name = "bench" if pid == os.getpid() else group or program
        ticks = fields[11:15] if group else fields[11:13]
        used[name] = used.get(name, 0.0) + sum(int(v) for v in ticks) / _TICK
    return used


def machine_busy() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, from /proc/stat: the difference of
    two readings says how saturated the cores were in between."""
    with open("/proc/stat") as file:
        values = [int(v) for v in file.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / _TICK, sum(values) / _TICK
