"""Fixtures for the job tests: marker files, apps with or without Redis, real komma processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from flask import Flask

from core import create_app
from core.config import PROJECT_ROOT
from core.db import session_scope
from tests.conftest import TEST_PEPPER, TEST_SECRET_KEY, empty_tables, make_test_config
from tests.workers.sample_jobs import MARKER_ENV
from workers.models import OutboxEntry

# Nothing listens here: an app pointed at it behaves as if Redis were down.
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def marker_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    monkeypatch.setenv(MARKER_ENV, str(path))
    return path


@pytest.fixture
def make_app(migrated_database: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Apps on the test database with config overrides (e.g. a Redis URL); cleaned up after."""
    apps: list[Flask] = []

    def make(**overrides: object) -> Flask:
        app = create_app(make_test_config(migrated_database, tmp_path / "instance", **overrides))
        apps.append(app)
        return app

    yield make
    if apps:
        empty_tables(apps[0])
    for app in apps:
        app.extensions["komma_jobs"].close()
        app.extensions["komma"].engine.dispose()


def load_entry(app: Flask, entry_id: str) -> OutboxEntry:
    with session_scope(app.extensions["komma"].session_factory) as session:
        entry = session.get(OutboxEntry, entry_id)
        assert entry is not None
        return entry


class KommaProcess:
    """A `komma` command run as a real process of its own, with its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            # What the `komma` console script runs (core.cli:main), without needing it installed.
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from core.cli import main; main()", *args],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own process group, so its children (RQ's scheduler) are stopped with it.
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # RQ's warm shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Whatever of its group outlived it.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def start_komma(migrated_database: str, tmp_path: Path, marker_dir: Path) -> Iterator[Callable[..., KommaProcess]]:
    """Start `komma <args>` against the test database and the given Redis; stopped after the test."""
    started: list[KommaProcess] = []

    def start(*args: str, redis_url: str) -> KommaProcess:
        env = {
            **os.environ,
            "KOMMA_ENV": "development",
            "KOMMA_DATABASE_URL": migrated_database,
            "KOMMA_REDIS_URL": redis_url,
            "KOMMA_INSTANCE_PATH": str(tmp_path / "instance"),
            "KOMMA_SECRET_KEY": TEST_SECRET_KEY,
            "KOMMA_RECEIPT_PEPPER": TEST_PEPPER.decode(),
            "KOMMA_ARGON2": "test",
            MARKER_ENV: str(marker_dir),
        }
        process = KommaProcess(list(args), env, tmp_path / f"komma-{len(started)}-{args[0]}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def wait_for(check: Callable[[], bool], what: str, *processes: KommaProcess, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        for process in processes:
            if process.process.poll() is not None:
                pytest.fail(f"komma process ended while waiting for {what}:\n{process.output()}")
        time.sleep(0.1)
    logs = "\n".join(process.output() for process in processes)
    pytest.fail(f"timed out waiting for {what}\n{logs}")
