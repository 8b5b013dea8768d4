"""Calm error pages: a user's mistake gets a clear message, the program's mistake a quiet apology."""

from __future__ import annotations

import logging
import traceback

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from core.web_session import UnconfirmedCommit

log = logging.getLogger("komma.errors")
# Methods that change nothing a person asked for: no sentence about saving on their error pages.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def describe_exception(error: BaseException) -> str:
    """Type and code locations only: an exception's message can quote what a user typed."""
    frames = traceback.extract_tb(error.__traceback__)[-5:]
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames))
    return f"{type(error).__name__} at {where}" if where else type(error).__name__


def _page(status: int, title: str, message: str, link: tuple[str, str] | None = None) -> tuple[str, int]:
    return render_template("errors/error.html", status=status, title=title, message=message, link=link), status


def messages() -> dict[int, tuple[str, str]]:
    """Title and text per status. None of them claims that nothing was saved: that is only
    known for a change that failed before its commit, see _saved_nothing()."""
    return {
        400: (_("Die Anfrage war ungültig"), _("Bitte gehen Sie zurück und versuchen Sie es noch einmal.")),
        403: (_("Kein Zugriff"), _("Diese Seite ist für Sie nicht freigegeben.")),
        404: (_("Seite nicht gefunden"), _("Diese Seite gibt es nicht oder nicht mehr.")),
        405: (_("Diese Aktion ist hier nicht möglich"), _("Bitte nutzen Sie die Schaltflächen der Seite.")),
        413: (
            _("Die Sendung ist zu groß"),
            _("Es wurde nichts gespeichert. Bitte wählen Sie weniger oder kleinere Dateien aus und senden Sie erneut."),
        ),
        429: (_("Zu viele Versuche"), _("Bitte warten Sie einen Moment und versuchen Sie es dann erneut.")),
        500: (
            _("Ein Fehler ist aufgetreten"),
            _("Es tut uns leid. Bitte versuchen Sie es später noch einmal."),
        ),
        503: (
            _("Der Dienst ist gerade nicht erreichbar"),
            _("Bitte versuchen Sie es in einigen Minuten noch einmal."),
        ),
    }


def _saved_nothing(message: str) -> str:
    """A change that failed before its commit was rolled back: say so, it spares a worry.
    Reading pages change nothing, so there the sentence would only confuse."""
    if request.method in SAFE_METHODS:
        return message
    return _("Es wurde nichts gespeichert.") + " " + message


def database_unavailable(
    error: DBAPIError, *, at_commit: bool = False, fallback: UnconfirmedCommit | None = None
) -> tuple[str, int]:
    """The calm 503 page for a database that does not answer (in the view or at the commit)."""
    # The class name only: the message of a database error can quote submitted values.
    log.error(
        "database unavailable%s: %s",
        " at commit" if at_commit else "",
        type(error.orig).__name__ if error.orig else type(error).__name__,
    )
    title, message = messages()[503]
    if not at_commit or request.method in SAFE_METHODS:
        # A reading page that fails at its commit (an idle timer touched) changed nothing to ask about.
        return _page(503, title, _saved_nothing(message))
    text = _(
        "Die Verbindung zur Datenbank brach beim Speichern ab. Ob Ihre Eingabe gespeichert wurde, "
        "lässt sich gerade nicht sagen. Bitte senden Sie sie nicht sofort noch einmal."
    )
    return _page(503, title, text, (fallback.url, fallback.label) if fallback else None)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError) -> tuple[str, int]:
        return _page(
            400,
            _("Das Formular ist abgelaufen"),
            _(
                "Aus Sicherheitsgründen wurde nichts gespeichert. Bitte laden Sie die Seite neu "
                "und senden Sie das Formular noch einmal."
            ),
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[str, int]:
        status = error.code or 500
        title, message = messages().get(status, messages()[400 if status < 500 else 500])
        return _page(status, title, message)

    @app.errorhandler(DBAPIError)
    def _database_down(error: DBAPIError) -> tuple[str, int]:
        if not isinstance(error, OperationalError | InterfaceError) and not error.connection_invalidated:
            # A constraint or programming error is the program's fault, not an outage.
            return _unexpected(error)
        return database_unavailable(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[str, int]:
        if isinstance(error, HTTPException):
            return _http(error)
        log.error("unhandled %s", describe_exception(error))
        title, message = messages()[500]
        # Unhandled in the view: the request's transaction is rolled back, nothing was stored.
        return _page(InternalServerError.code, title, _saved_nothing(message))
