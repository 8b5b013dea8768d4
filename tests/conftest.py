"""Fixtures: a real database (SQLite by default, PostgreSQL by KOMMA_TEST_DATABASE_URL), app, client, Redis.

Each test's app runs in one transaction that is rolled back at the end (tests.transactions). A test
whose data must really be committed (a live server thread, other processes, a second connection, the
SQLite file itself) carries the `committing` marker; its tables are emptied afterwards instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core import create_app
from core.config import Config
from core.db import Base, make_engine
from core.migrate import upgrade_database
from core.model_registry import import_all_models
from crypto import TEST_ARGON2
from tests.smtp import smtp_server  # noqa: F401 (a fixture: a real SMTP server keeping what it receives)
from tests.transactions import ending_test, rolled_back

import_all_models()

REQUIRE_SERVICES = os.environ.get("KOMMA_TEST_REQUIRE_SERVICES") == "1"
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
TEST_PEPPER = b"test-receipt-pepper-" + b"y" * 32


def need_service(name: str, reason: str) -> None:
    """Skip a test whose service is absent, or fail it when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} required (KOMMA_TEST_REQUIRE_SERVICES=1) but {reason}")
    pytest.skip(f"{name} not available: {reason}")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("KOMMA_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def migrated_database(database_url: str) -> str:
    """A fresh schema built by the migrations, once per test run."""
    reset_database(database_url)
    upgrade_database(database_url)
    return database_url


def reset_database(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def empty_tables(app: Flask) -> None:
    engine = app.extensions["komma"].engine
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for name in tables:
                connection.execute(text(f"DELETE FROM {name}"))


def make_test_config(database_url: str, instance_path: Path, **overrides: object) -> Config:
    values: dict[str, object] = {
        "database_url": database_url,
        "instance_path": instance_path,
        "secret_key": TEST_SECRET_KEY,
        "receipt_pepper": TEST_PEPPER,
        "argon2": TEST_ARGON2,
        # A few hashes: tests that solve the challenge (tests/web.py, the browser) stay fast.
        "challenge_bits": 4,
        "testing": True,
        "redis_url": None,
        "smtp_url": None,
    }
    values.update(overrides)
    return Config.from_env({}, **values)


@pytest.fixture
def app_config(migrated_database: str, tmp_path: Path) -> Config:
    return make_test_config(migrated_database, tmp_path / "instance")


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates shared by the apps of one test run (each test builds a fresh app).

    Only a speed-up: a bucket's key includes the template's source checksum.
    """

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = MemoryBytecodeCache()


@pytest.fixture
def app(app_config: Config, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app; its data is rolled back after the test, or committed and deleted with `committing`."""
    application = create_app(app_config)
    application.jinja_env.bytecode_cache = TEMPLATE_CACHE
    if request.node.get_closest_marker("committing"):
        yield application
        application.extensions["komma_jobs"].close()
        empty_tables(application)
    else:
        with rolled_back(application):
            yield application
        application.extensions["komma_jobs"].close()
    application.extensions["komma"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session of the test's own, for arranging and inspecting data."""
    db = app.extensions["komma"].session_factory()
    yield db
    with ending_test(app):
        db.rollback()
        db.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = os.environ.get("KOMMA_TEST_REDIS_URL")
    if not url:
        need_service("Redis", "KOMMA_TEST_REDIS_URL is not set")
    assert url is not None
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    connection = Redis.from_url(url)
    try:
        connection.ping()
    except RedisConnectionError as exc:
        need_service("Redis", f"{url} does not answer ({exc})")
    connection.flushdb()
    yield url
    connection.flushdb()
    connection.close()


# The test transaction's own statements: production runs none of them.
SAVEPOINT_RE = re.compile(r"\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.IGNORECASE)


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], AbstractContextManager[list[str]]]:
    """`with count_queries() as counted:` collects the SQL statements the app's engine executes in
    the block, so a test can hold a page to a number of queries (the savepoints of the test's own
    transaction are left out)."""
    engine = app.extensions["komma"].engine

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def record(_conn: Connection, _cursor: object, statement: str, *_rest: object) -> None:
            if not SAVEPOINT_RE.match(statement):
                statements.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting
