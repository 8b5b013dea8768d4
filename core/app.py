"""The application factory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.config import PROJECT_ROOT, Config
from core.db import make_engine, make_session_factory

csrf = CSRFProtect()


@dataclass
class KommaState:
    """What the app holds for its whole life; reachable as app.extensions['komma']."""

    config: Config
    engine: Engine
    session_factory: sessionmaker[Session]


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the app from a Config, from overrides of the environment (a dict), or from the environment."""
    if not isinstance(config, Config):
        config = Config.from_env(**dict(config or {}))
    app = Flask(
        "komma",
        root_path=str(PROJECT_ROOT),
        template_folder="templates",
        static_folder="static",
        instance_path=str(config.instance_path),
    )
    config.instance_path.mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=config.secret_key,
        TESTING=config.testing,
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        # Form text fields; files do not count here and are bounded by MAX_CONTENT_LENGTH.
        MAX_FORM_MEMORY_SIZE=2 * 1024 * 1024,
        MAX_FORM_PARTS=200,
        SESSION_COOKIE_NAME="komma_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.production,
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=False,  # the Referer header is never sent (no-referrer)
        PREFERRED_URL_SCHEME="https" if config.production else "http",
        **dict(config.extra),
    )
    engine = make_engine(config.database_url)
    app.extensions["komma"] = KommaState(config, engine, make_session_factory(engine))

    from core import errors, i18n, logging_setup, pages, security, staff, web_session

    logging_setup.configure(config)
    web_session.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    app.register_blueprint(pages.bp)

    from core import cli

    cli.register(app.cli)

    import workers

    workers.init_app(app)

    from clearing import jobs as _clearing_jobs  # noqa: F401 (registers the jobs)
    from clearing import office_views as _office_views  # noqa: F401 (adds the office address page to admin_bp)
    from clearing import referral_views as _referral_views  # noqa: F401 (adds routes to clearing_bp)
    from clearing.admin_views import bp as admin_bp
    from clearing.partner_views import bp as partner_bp
    from clearing.stats_views import bp as stats_bp
    from clearing.views import bp as clearing_bp
    from core.login import bp as login_bp
    from reporting.views import bp as reporting_bp

    for blueprint in (reporting_bp, login_bp, clearing_bp, admin_bp, partner_bp, stats_bp):
        app.register_blueprint(blueprint)
    staff.init_app(app)

    from clearing import cli as clearing_cli

    clearing_cli.init_app(app)
    return app


def state(app: Flask) -> KommaState:
    komma: KommaState = app.extensions["komma"]
    return komma


def current_config() -> Config:
    """The configuration of the app handling this request or command."""
    return state(current_app).config
