"""Imports every models module so Base.metadata is complete (alembic, tests, create_all)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "core.models",
    "core.tenancy",
    "core.accounts",
    "workers.models",
    "core.secret_sessions",
    "core.throttle",
    "core.mail_log",
    "reporting.models",
    "clearing.models",
    "clearing.audit",
    "clearing.partner_models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
