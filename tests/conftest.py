"""Fixtures: a real database (SQLite by default, PostgreSQL by KOMMA_TEST_DATABASE_URL), app, client, Redis."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from core import create_app
from core.config import Config
from core.db import Base, make_engine
from core.migrate import upgrade_database
from core.model_registry import import_all_models
from crypto import TEST_ARGON2
from tests.smtp import smtp_server  # noqa: F401 (a fixture: a real SMTP server keeping what it receives)

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
        "testing": True,
        "redis_url": None,
        "smtp_url": None,
    }
    values.update(overrides)
    return Config.from_env({}, **values)


@pytest.fixture
def app_config(migrated_database: str, tmp_path: Path) -> Config:
    return make_test_config(migrated_database, tmp_path / "instance")


@pytest.fixture
def app(app_config: Config) -> Iterator[Flask]:
    application = create_app(app_config)
    yield application
    empty_tables(application)
    application.extensions["komma"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session of the test's own, for arranging and inspecting data."""
    db = app.extensions["komma"].session_factory()
    yield db
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


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on a page, as a browser would send it back."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page) or re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)
