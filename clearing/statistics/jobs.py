"""Scheduled work of the statistics."""

from __future__ import annotations

from clearing.statistics.service import refresh
from workers.scheduled import run_scheduled


def statistics_refresh() -> object:
    """Scheduled hourly: recompute the live statistics counts from the clear metadata."""
    return run_scheduled("statistics refresh", refresh)
