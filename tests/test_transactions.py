"""The test harness itself: each test's transaction is rolled back, sessions on the one connection
behave as on connections of their own, and count_queries counts what the app runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import create_app
from core.config import Config
from core.models import Municipality, SecretSession
from tests.factories import Person, Town, add_person, add_town, config_of, new_session
from tests.transactions import ending_test, rolled_back
from tests.web import logged_in_client


@pytest.fixture
def bare_app(app_config: Config) -> Iterator[Flask]:
    """An app without the rolled-back transaction, for the tests that set one up themselves."""
    application = create_app(app_config)
    yield application
    application.extensions["komma_jobs"].close()
    application.extensions["komma"].engine.dispose()


def municipalities(app: Flask) -> int:
    with new_session(app) as db:
        return db.scalar(select(func.count()).select_from(Municipality)) or 0


def test_what_a_test_commits_is_gone_after_it(bare_app: Flask) -> None:
    before = municipalities(bare_app)
    with rolled_back(bare_app):
        with new_session(bare_app) as db:
            add_town(db, "vergessen", "Vergessen")
        assert municipalities(bare_app) == before + 1
        assert bare_app.test_client().get("/").get_data(as_text=True).count('href="/melden/vergessen"') == 1
    assert municipalities(bare_app) == before


def test_a_request_s_commit_survives_the_test_session_s_rollback(app: Flask, session: Session) -> None:
    """The test's session read before the login; rolling it back must not undo the login's writes."""
    town = add_town(session, "anmeldestadt", "Anmeldestadt")
    officer: Person = add_person(session, config_of(app), town, "fachkraft")
    assert session.get(Municipality, town.id) is not None  # the session's transaction is open again
    client = logged_in_client(app, officer)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SecretSession).where(SecretSession.purpose == "staff"))
    assert client.get("/clearing/").status_code == 200


def test_rolling_back_across_another_session_s_commit_fails_the_test(bare_app: Flask) -> None:
    with rolled_back(bare_app):
        writer = new_session(bare_app)
        town = add_town(writer, "quer", "Querstadt")
        row = writer.get(Municipality, town.id)
        assert row is not None
        row.name = "Ungespeichert"
        writer.flush()  # written, not committed: this session's savepoint stays open
        with new_session(bare_app) as other:
            add_person(other, config_of(bare_app), town, "quer-fachkraft")  # commits inside it
        with pytest.raises(AssertionError, match="committing"):
            writer.rollback()
        with ending_test(bare_app):
            writer.close()


def test_count_queries_counts_a_page_s_statements_without_the_test_savepoints(
    client: FlaskClient, session: Session, count_queries: Callable[[], AbstractContextManager[list[str]]]
) -> None:
    town: Town = add_town(session)
    with count_queries() as counted:
        assert town.name in client.get("/").get_data(as_text=True)
    assert counted, "no statement counted"
    assert not [s for s in counted if "SAVEPOINT" in s.upper()]
    with count_queries() as nothing:
        pass
    assert nothing == []
