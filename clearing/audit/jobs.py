"""Scheduled work of the audit trail."""

from __future__ import annotations

from flask import current_app

from clearing.cases.maintenance import check_audit_chain
from core.app import state
from workers.scheduled import run_scheduled


def audit_check() -> object:
    """Scheduled daily: verify the audit chains; a break alerts the coordinators."""
    clock = state(current_app).clock
    return run_scheduled(
        "audit check", lambda session: "broken" if check_audit_chain(session, clock.today()) else "intact"
    )
