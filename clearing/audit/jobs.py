"""Scheduled work of the audit trail."""

from __future__ import annotations

from clearing.cases.maintenance import check_audit_chain
from workers.scheduled import run_scheduled


def audit_check() -> object:
    """Scheduled daily: verify the audit chains; a break alerts the coordinators."""
    return run_scheduled("audit check", lambda session: "broken" if check_audit_chain(session) else "intact")
