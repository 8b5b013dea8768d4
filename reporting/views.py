"""Public pages for reporters."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.models import municipalities_accepting_reports
from core.web_session import db_session

bp = Blueprint("reporting", __name__)


@bp.get("/")
def index() -> str:
    """Start page: the municipalities that accept reports."""
    return render_template("reporting/index.html", municipalities=municipalities_accepting_reports(db_session()))
