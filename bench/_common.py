"""Helpers shared by the benches: timing statistics and a migrated database to run against.

Import this after putting the project root on sys.path (each bench does so first).
"""

from __future__ import annotations

import math
import statistics
import tempfile
from collections.abc import Iterator
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
