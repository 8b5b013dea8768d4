"""Static information pages: accessibility statement, privacy, plain-language help."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

bp = Blueprint("pages", __name__)


@bp.get("/barrierefreiheit")
def accessibility() -> str:
    """Accessibility statement (BITV 2.0) with a feedback route."""
    return render_template("pages/accessibility.html")


@bp.get("/datenschutz")
def privacy() -> str:
    """What is stored, for how long, and what never is."""
    return render_template("pages/privacy.html")


@bp.get("/leichte-sprache")
def plain_language() -> str:
    """The reporting office explained in plain language."""
    return render_template("pages/plain_language.html")


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """Whether the database and Redis answer; nothing else."""
    state = current_app.extensions["komma"]
    result = {"database": "ok", "redis": "not configured"}
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        result["database"] = "unavailable"
    if state.config.redis_url:
        try:
            client = Redis.from_url(state.config.redis_url, socket_connect_timeout=2, socket_timeout=2)
            client.ping()
            client.close()
            result["redis"] = "ok"
        except RedisError:
            result["redis"] = "unavailable"
    healthy = result["database"] == "ok" and result["redis"] != "unavailable"
    return result, 200 if healthy else 503
