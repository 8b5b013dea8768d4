"""The application factory."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from flask import Flask, current_app
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.local import LocalProxy

from core.clock import Clock, SystemClock
from core.config import PROJECT_ROOT, Config
from core.db import make_engine, make_session_factory

csrf = CSRFProtect()
# The name of the session cookie; the login flow looks for it (a link from a mail arrives without it).
SESSION_COOKIE = "komma_session"


@dataclass
class KommaState:
    """What the app holds for its whole life; reachable as app.extensions['komma']."""

    config: Config
    engine: Engine
    session_factory: sessionmaker[Session]
    # Views and scheduled jobs read the time here and hand it to the services (tests set their own).
    clock: Clock = field(default_factory=SystemClock)
    # Where each role lands after logging in ("" for anyone else); _wire_features names the pages.
    home_endpoints: Mapping[str, str] = field(default_factory=dict)


def create_app(config: Config | Mapping[str, Any] | None = None, clock: Clock | None = None) -> Flask:
    """Build the app from a Config, from overrides of the environment (a dict), or from the environment;
    `clock` is the machine's unless a test brings its own."""
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
        SESSION_COOKIE_NAME=SESSION_COOKIE,
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
    app.extensions["komma"] = KommaState(
        config,
        engine,
        make_session_factory(engine, config.audit_key, key_binding_key=config.key_binding_key),
        clock or SystemClock(),
    )

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
    _wire_features(app)
    staff.init_app(app)
    return app


def state(app: Flask) -> KommaState:
    """The state of an app the caller holds (the worker, the tests); views and commands use current_state()."""
    komma: KommaState = app.extensions["komma"]
    return komma


def current_state() -> KommaState:
    """The one way views and commands reach the configuration, the database and the clock of their app.

    Services and jobs never call this: they take what they need as arguments.
    """
    return state(current_app)


def current_flask_app() -> Flask:
    """The app behind flask.current_app, for what outlives the app context (a server, a job runner)."""
    return cast("LocalProxy[Flask]", current_app)._get_current_object()


# The feature modules whose import defines tables (alembic, tests and the app need them all).
MODEL_MODULES = (
    "core.models",
    "workers.models",
    "reporting.models",
    "clearing.cases.models",
    "clearing.statistics.models",
    "clearing.audit.models",
    "clearing.partners.models",
    "clearing.referrals.models",
)

# Where each role lands after logging in; "" for anyone else.
HOME_ENDPOINTS = {
    "": "reporting.index",
    "officer": "clearing.inbox",
    "coordinator": "admin.team",
    "network_operator": "admin.network",
    "partner": "partner.portal",
}


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)


def _wire_features(app: Flask) -> None:
    """The one place that joins the features to the app: blueprints, jobs, commands and schedule.

    Features import core, crypto and workers; nothing in those imports a feature, except here.
    """
    import workers
    from clearing import demo
    from clearing.audit import cli as audit_cli
    from clearing.audit import signals as _audit_signals  # noqa: F401 (address changes into the audit chain)
    from clearing.cases import jobs as case_jobs
    from clearing.cases.views import bp as clearing_bp
    from clearing.office import address_views as _office_address_views  # noqa: F401 (routes on admin_bp)
    from clearing.office import jobs as _office_jobs  # noqa: F401 (registers the jobs)
    from clearing.office.views import bp as admin_bp
    from clearing.partners import cli as partners_cli
    from clearing.partners import kinds as partner_kinds
    from clearing.partners.views import bp as alliance_bp
    from clearing.referrals import jobs as _referral_jobs  # noqa: F401 (registers the jobs)
    from clearing.referrals import views as _referral_views  # noqa: F401 (routes on clearing_bp)
    from clearing.referrals.portal_views import bp as partner_bp
    from clearing.statistics.jobs import statistics_refresh
    from clearing.statistics.views import bp as stats_bp
    from core import invitation_views as _invitation_views  # noqa: F401 (routes on login_bp)
    from core.login import bp as login_bp
    from reporting import cli as reporting_cli
    from reporting import jobs as reporting_jobs
    from reporting import timeline
    from reporting.views import bp as reporting_bp
    from workers.schedule import ScheduledJob

    for blueprint in (reporting_bp, login_bp, clearing_bp, admin_bp, alliance_bp, partner_bp, stats_bp):
        app.register_blueprint(blueprint)
    for feature_cli in (audit_cli, partners_cli, demo, reporting_cli):
        feature_cli.init_app(app)
    state(app).home_endpoints = HOME_ENDPOINTS
    # The reporter's timeline words what clearing writes on it: "forwarded" names a partner kind.
    timeline.init_app(app, details={"forwarded": partner_kinds.for_reporter})
    workers.init_app(
        app,
        schedule=(
            ScheduledJob("deadlines", case_jobs.deadline_scan, cron="5 * * * *", timeout=900),
            ScheduledJob("housekeeping", case_jobs.housekeeping, cron="35 * * * *"),
            ScheduledJob("statistics", statistics_refresh, cron="50 * * * *", timeout=1800),
            ScheduledJob("retention", case_jobs.retention_purge, cron="15 3 * * *", timeout=3600),
            ScheduledJob("audit", case_jobs.audit_check, cron="45 3 * * *", timeout=3600),
            ScheduledJob("notify-keys", reporting_jobs.reseal_notify_addresses, cron="25 * * * *"),
        ),
    )
