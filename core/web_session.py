"""The request's database session: created on first use, committed or rolled back by the app."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from flask import session as cookie_session
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from core.app import current_state


def db_session() -> Session:
    """The one session of this request."""
    if "db_session" not in g:
        g.db_session = current_state().session_factory()
    session: Session = g.db_session
    return session


@dataclass(frozen=True)
class UnconfirmedCommit:
    """What a view leaves for the case that its commit fails without knowing whether it held:
    a flag in the person's cookie session and a link where they can find out."""

    flag: str
    url: str
    label: str


def if_commit_unconfirmed(flag: str, url: str, label: str) -> None:
    """Register the flag and link the commit-failure page offers (at most one per request)."""
    g.unconfirmed_commit = UnconfirmedCommit(flag, url, label)


def _database_unavailable(original: Response, error: DBAPIError) -> Response:
    from core.errors import database_unavailable

    # A commit that failed may have reached the database before the connection broke: nobody
    # can say "nothing was saved". The view's flag lets its follow-up page find out.
    fallback: UnconfirmedCommit | None = g.pop("unconfirmed_commit", None)
    if fallback is not None:
        cookie_session[fallback.flag] = True
    page: Response = current_app.make_response(database_unavailable(error, at_commit=True, fallback=fallback))
    # Keep what the earlier after-request hooks set (security and cache headers).
    own = {name.lower() for name, _value in page.headers.items()}
    for name, value in original.headers.items():
        if name.lower() not in own and name.lower() != "location":
            page.headers.add(name, value)
    return page


def init_app(app: Flask) -> None:
    @app.after_request
    def _commit(response: Response) -> Response:
        # The one owner of the request's transaction: commit only successful responses, so a
        # refused request changes nothing; a commit failure becomes the error page.
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            except (OperationalError, InterfaceError) as error:
                # The database went away after the view (a restart): nothing was saved, and the
                # person gets the same calm 503 page as when it fails during the view.
                with suppress(DBAPIError):
                    session.rollback()
                response = _database_unavailable(response, error)
            finally:
                session.close()
        return response

    @app.teardown_request
    def _rollback(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()
