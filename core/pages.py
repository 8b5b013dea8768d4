"""Static information pages: accessibility statement, privacy, plain-language help."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.app import current_state
from core.models import municipalities_accepting_reports
from core.web_session import db_session

bp = Blueprint("pages", __name__)

# The day the accessibility statement was last checked against the pages: change it with the statement.
STATEMENT_CHECKED = date(2026, 12, 2)


@bp.get("/barrierefreiheit")
def accessibility() -> str:
    """Accessibility statement (BITV 2.0) with a feedback route."""
    return render_template(
        "pages/accessibility.html", contact=current_state().config.feedback_address, checked=STATEMENT_CHECKED
    )


@bp.get("/datenschutz")
def privacy() -> str:
    """What is stored, for how long, and what never is."""
    return render_template("pages/privacy.html")


@bp.get("/leichte-sprache")
def plain_language() -> str:
    """The reporting office explained in plain language."""
    return render_template("pages/plain_language.html", municipalities=municipalities_accepting_reports(db_session()))


@bp.get("/healthz/live")
def liveness() -> tuple[dict[str, str], int]:
    """Liveness, for the process supervisor: this process answers requests. Touches nothing else."""
    return {"status": "alive"}, 200


@bp.get("/healthz")
def readiness() -> tuple[dict[str, str], int]:
    """Readiness, for the load balancer: 503 only when this host cannot take reports.

    Reports need the database alone (jobs wait in the outbox while Redis is away), so a Redis
    outage reads "degraded" with 200: taking every web host out of rotation for it would refuse
    reports that would have been stored. Monitoring reads the body.
    """
    state = current_state()
    result = {"status": "ok", "database": "ok", "redis": "not configured"}
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        result["database"] = "unavailable"
    if state.config.redis_url:
        try:
            client = Redis.from_url(state.config.redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)
            client.ping()
            client.close()
            result["redis"] = "ok"
        except RedisError:
            result["redis"] = "unavailable"
    if result["database"] != "ok":
        result["status"] = "unavailable"
        return result, 503
    if result["redis"] == "unavailable":
        result["status"] = "degraded"
    return result, 200
