"""Static information pages: accessibility statement, privacy, plain-language help."""

from __future__ import annotations

from flask import Blueprint, render_template

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
