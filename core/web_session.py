"""The request's database session: created on first use, committed or rolled back by the app."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session


def db_session() -> Session:
    """The one session of this request."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["komma"].session_factory()
    session: Session = g.db_session
    return session


def init_app(app: Flask) -> None:
    @app.after_request
    def _commit(response):  # type: ignore[no-untyped-def]
        # The one owner of the request's transaction: commit only successful responses, so a
        # refused request changes nothing; a commit failure becomes the error page.
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        return response

    @app.teardown_request
    def _rollback(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()
