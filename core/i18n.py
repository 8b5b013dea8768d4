"""Languages: German first, English complete; the choice travels in the URL, never in a cookie."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request
from flask_babel import Babel, format_date, format_datetime, get_locale

from core.config import PROJECT_ROOT

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}


def select_locale() -> str:
    """An explicit ?lang= wins; otherwise the browser's preference; otherwise German."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Berlin")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(PROJECT_ROOT / "core" / "translations")
    Babel(app, locale_selector=select_locale)

    @app.url_defaults
    def _keep_language(endpoint: str, values: dict[str, Any]) -> None:
        # Links keep an explicitly chosen language, so no cookie is needed to remember it.
        explicit = g.get("explicit_lang")
        if explicit and endpoint != "static" and "lang" not in values:
            values["lang"] = explicit

    @app.before_request
    def _remember_explicit_language() -> None:
        lang = request.args.get("lang")
        g.explicit_lang = lang if lang in LANGUAGES else None

    @app.context_processor
    def _language_links() -> dict[str, Any]:
        locale = get_locale()
        current = locale.language if locale is not None else DEFAULT_LANGUAGE
        return {
            "language_names": LANGUAGE_NAMES,
            "languages": LANGUAGES,
            "current_language": current,
            "format_date": format_date,
            "format_datetime": format_datetime,
        }
