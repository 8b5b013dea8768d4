"""Handlers the worker tests queue; each run leaves a line in a marker file named after its token.

Jobs take ids only, so where to write comes from KOMMA_TEST_MARKER_DIR, which the tests set for
their own process and pass to the worker processes they start.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.orm import Session

from workers import add_job, job
from workers.jobs import JobContext

MARKER_ENV = "KOMMA_TEST_MARKER_DIR"
# What a handler's exception might carry: it must reach neither the row, the logs nor Redis.
CONTENT = "Frau Beispiel, Hauptstrasse 5, wurde bedroht"


def marker(token: str) -> Path:
    return Path(os.environ[MARKER_ENV]) / token


def runs(token: str) -> list[str]:
    path = marker(token)
    return path.read_text().split() if path.exists() else []


def _note(token: str, what: str) -> None:
    with marker(token).open("a") as file:
        file.write(what + "\n")


@job("test.mark")
def mark(session: Session, context: JobContext, token: str) -> None:
    _note(token, "ran")


@job("test.fail_once")
def fail_once(session: Session, context: JobContext, token: str) -> None:
    if not runs(token):
        _note(token, "failed")
        raise RuntimeError(CONTENT)
    _note(token, "ran")


@job("test.fail_always")
def fail_always(session: Session, context: JobContext, token: str) -> None:
    _note(token, "failed")
    raise ValueError(CONTENT)


@job("test.chain")
def chain(session: Session, context: JobContext, token: str, fail: int = 0) -> None:
    """Queues a follow-up job in its own transaction; with fail=1 raises after that write."""
    add_job(session, "test.mark", token=f"{token}-next")
    _note(token, "ran")
    if fail:
        raise RuntimeError(CONTENT)
