"""The outbox without Redis: rows in the caller's transaction, jobs run inline after commit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import session_scope
from tests.workers.conftest import CLOSED_REDIS_URL, load_entry
from tests.workers.sample_jobs import CONTENT, runs
from workers import add_job
from workers.jobs import MAX_ATTEMPTS, JobFailedError, run_entry
from workers.models import OutboxEntry
from workers.outbox import PENDING_KEY
from workers.relay import relay_pending


def count_entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxEntry)) or 0


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("Frau Müller", ValueError),
        ("a" * 65, ValueError),
        ("", ValueError),
        ("with space", ValueError),
        ("x@example.org", ValueError),
        (True, TypeError),
        (1.5, TypeError),
        (None, TypeError),
        (b"abc", TypeError),
        ({"id": 1}, TypeError),
    ],
)
def test_add_job_refuses_anything_but_ids(app: Flask, session: Session, value: object, error: type) -> None:
    with pytest.raises(error):
        add_job(session, "test.mark", token=value)  # type: ignore[arg-type]
    assert count_entries(session) == 0


def test_add_job_refuses_an_unknown_job(app: Flask, session: Session) -> None:
    with pytest.raises(ValueError, match="no job"):
        add_job(session, "no.such.job", token="abc")


def test_add_job_takes_str_ids_and_ints(app: Flask, session: Session, marker_dir: Path) -> None:
    entry = add_job(session, "test.chain", token="a-1_b.c:d", fail=0)
    assert entry.args == {"token": "a-1_b.c:d", "fail": 0}
    assert entry.job == "test.chain"
    assert entry.attempts == 0


def test_rollback_leaves_no_row_and_runs_nothing(app: Flask, session: Session, marker_dir: Path) -> None:
    add_job(session, "test.mark", token="rolled-back")
    assert count_entries(session) == 1  # flushed into the caller's transaction
    session.rollback()
    assert count_entries(session) == 0
    session.commit()  # a later commit of the same session must not send the forgotten id
    assert runs("rolled-back") == []


def test_close_without_commit_runs_nothing(app: Flask, session: Session, marker_dir: Path) -> None:
    add_job(session, "test.mark", token="closed")
    session.close()
    session.commit()
    assert runs("closed") == []
    assert count_entries(session) == 0


def test_savepoint_rollback_drops_its_job(app: Flask, session: Session, marker_dir: Path) -> None:
    with session.begin_nested() as savepoint:
        add_job(session, "test.mark", token="savepoint")
        savepoint.rollback()
    kept = add_job(session, "test.mark", token="kept")
    session.commit()
    assert runs("savepoint") == []
    assert runs("kept") == ["ran"]
    assert count_entries(session) == 1
    assert load_entry(app, kept.id).completed_at is not None


def test_inline_job_runs_once_after_commit(app: Flask, session: Session, marker_dir: Path) -> None:
    entry = add_job(session, "test.mark", token="inline")
    assert runs("inline") == []  # not at flush: only once the data it needs is committed
    session.commit()
    assert runs("inline") == ["ran"]
    stored = load_entry(app, entry.id)
    assert stored.completed_at is not None
    assert stored.dispatched_at is not None
    assert stored.attempts == 0
    assert stored.last_error is None
    assert stored.failed_at is None
    session.commit()
    assert run_entry(app, entry.id) is False  # a second run (relay, RQ) skips it
    assert relay_pending(app, older_than_seconds=0) == 0
    assert runs("inline") == ["ran"]


def test_handler_writes_commit_with_completion(app: Flask, session: Session, marker_dir: Path) -> None:
    add_job(session, "test.chain", token="chain")
    session.commit()
    # The follow-up was queued in the handler's transaction and dispatched when it committed.
    assert runs("chain") == ["ran"]
    assert runs("chain-next") == ["ran"]
    entries = list(session.scalars(select(OutboxEntry)))
    assert len(entries) == 2
    assert all(entry.completed_at is not None for entry in entries)


def test_failed_handler_rolls_back_its_writes_and_keeps_no_message(
    app: Flask, session: Session, marker_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    entry = add_job(session, "test.chain", token="chain-fails", fail=1)
    session.commit()  # must not raise: the caller's data is committed
    assert runs("chain-fails") == ["ran"]
    stored = load_entry(app, entry.id)
    assert stored.completed_at is None
    assert stored.attempts == 1
    assert stored.last_error == "RuntimeError"
    assert stored.dispatched_at is not None
    # The follow-up job the handler queued went with its rolled-back transaction.
    assert count_entries(session) == 1
    assert runs("chain-fails-next") == []
    assert "RuntimeError" in caplog.text
    assert CONTENT not in caplog.text


def test_relay_reruns_a_failed_inline_job(app: Flask, session: Session, marker_dir: Path) -> None:
    entry = add_job(session, "test.fail_once", token="flaky")
    session.commit()
    assert load_entry(app, entry.id).attempts == 1
    # Just dispatched: the relay waits for its threshold before calling a dispatch lost.
    assert relay_pending(app, older_than_seconds=300) == 0
    assert relay_pending(app, older_than_seconds=0) == 1
    assert runs("flaky") == ["failed", "ran"]
    stored = load_entry(app, entry.id)
    assert stored.completed_at is not None
    assert stored.attempts == 1
    assert relay_pending(app, older_than_seconds=0) == 0


def test_entry_gives_up_after_max_attempts(app: Flask, session: Session, marker_dir: Path) -> None:
    entry = add_job(session, "test.fail_always", token="hopeless")
    session.commit()
    for _ in range(MAX_ATTEMPTS - 1):
        assert relay_pending(app, older_than_seconds=0) == 1
    stored = load_entry(app, entry.id)
    assert stored.attempts == MAX_ATTEMPTS
    assert stored.failed_at is not None
    assert stored.last_error == "ValueError"
    assert relay_pending(app, older_than_seconds=0) == 0  # left for an operator
    assert len(runs("hopeless")) == MAX_ATTEMPTS


def test_run_entry_raises_a_job_failed_without_the_message(app: Flask, session: Session, marker_dir: Path) -> None:
    entry = add_job(session, "test.fail_always", token="message")
    session.flush()
    session.info.pop(PENDING_KEY)  # not dispatched: run by hand below
    session.commit()
    with pytest.raises(JobFailedError) as raised:
        run_entry(app, entry.id)
    assert str(raised.value) == "ValueError"
    assert raised.value.__suppress_context__
    assert run_entry(app, "0" * 32) is False  # no such row: nothing to run


def add_queue_route(app: Flask) -> None:
    from core.web_session import db_session

    @app.get("/_test/queue/<token>")
    def queue(token: str) -> str:
        add_job(db_session(), "test.mark", token=token)
        return "queued"


def test_a_request_commits_its_job_and_runs_it(app: Flask, marker_dir: Path) -> None:
    add_queue_route(app)
    response = app.test_client().get("/_test/queue/request")
    assert response.status_code == 200
    assert runs("request") == ["ran"]


def test_a_request_succeeds_while_redis_is_down(make_app: Callable[..., Flask], marker_dir: Path) -> None:
    app = make_app(redis_url=CLOSED_REDIS_URL)
    add_queue_route(app)
    response = app.test_client().get("/_test/queue/redis-down")
    assert response.status_code == 200
    with session_scope(app.extensions["komma"].session_factory) as session:
        entry = session.scalars(select(OutboxEntry)).one()
        assert entry.dispatched_at is None  # for the relay
    assert runs("redis-down") == []
